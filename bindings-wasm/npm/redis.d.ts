import type { FleetStore } from './index.js';

/**
 * What `redisStore()` needs of a node-redis client (`createClient()` of the npm package `redis`,
 * v5 or later): structural, so that this package does not depend on `redis`.
 */
export interface RedisClientLike {
  get(key: string): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  evalSha(sha1: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** The call's abort signal (node-redis drops a command still queued when it aborts). */
  withAbortSignal?(signal: AbortSignal): RedisClientLike;
  /** A new client with the same options: the store's subscriber (`watch: 'pubsub'`). */
  duplicate?(): unknown;
}

/** Options of `redisStore()`. */
export interface RedisStoreOptions {
  /**
   * How a process waits while another renews: `'pubsub'` (default: a duplicate of the client
   * subscribes to the session's channel, and the wait ends at the first newer version) or
   * `'sleep'` (the wait lasts its timeout, 25 ms doubling up to 500 ms).
   */
  watch?: 'pubsub' | 'sleep';
}

/** The Redis store: a `FleetStore`, and `close()` for its pub/sub connection. */
export interface RedisStore extends FleetStore {
  /** Closes the store's pub/sub duplicate (never your client) and ends the waits in progress. */
  close(): Promise<void>;
}

/**
 * A `FleetStore` over a node-redis client you created and connected (listen to its `error`
 * events; `disableOfflineQueue: true` makes commands fail at once while Redis is down instead
 * of waiting for the session's `storeTimeout`). The operations run the core's Lua scripts
 * (`fleetRedisScripts()`) with `EVALSHA`, and `EVAL` when Redis answers `NOSCRIPT`. Keys:
 * `grantline:{NAME}` (the entry), `grantline:{NAME}:lease`, channel `grantline:{NAME}:renewed`.
 * Redis keeps refresh tokens for the fleet: make it durable (AOF) for rotating refresh tokens.
 */
export function redisStore(client: RedisClientLike, options?: RedisStoreOptions): RedisStore;
