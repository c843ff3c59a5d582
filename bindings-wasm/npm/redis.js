// grantline/redis: the Redis store of a shared token session (issue 12), over node-redis (the
// npm package `redis`, v5 or later), as a separate entry point: the package's main entry never
// loads it. It takes a client you created and connected; it creates nothing but a duplicate of
// it for pub/sub (closed by `store.close()`).
//
//   import { createClient } from 'redis';
//   import { redisStore } from 'grantline/redis';
//   const redis = createClient({ url, disableOfflineQueue: true });
//   redis.on('error', (e) => log(e));          // node-redis needs an 'error' listener
//   await redis.connect();
//   const session = TokenSession.clientCredentials(client, [], {
//     store: redisStore(redis),
//     fleet: { name: 'billing-api', keys: [{ kid: 'k1', key }] },
//   });
//
// The operations are the core's Redis mapping (grantline::fleet::redis): the Lua scripts come
// from the core through the WebAssembly (`fleetRedisScripts()`), never copied here. They run
// with EVALSHA (the SHA-1 computed here, no round trip), and with EVAL when Redis answers
// NOSCRIPT (after a restart or SCRIPT FLUSH), which also loads them.
import { createHash } from 'node:crypto';
import { fleetRedisScripts } from '#grantline';

/** The core's scripts with their SHA-1s, made once. */
let scripts;
function loaded() {
  if (scripts === undefined) {
    scripts = {};
    for (const [name, text] of Object.entries(fleetRedisScripts())) {
      scripts[name] = { text, sha: createHash('sha1').update(text).digest('hex') };
    }
  }
  return scripts;
}

/** A reply as text (node-redis gives strings, or Buffers under a type mapping). */
function text(v) {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : String(v);
}

function isNoScript(e) {
  return String((e && e.message) || '').startsWith('NOSCRIPT');
}

/**
 * A `FleetStore` over a node-redis client (`createClient()`, connected by you; its errors are
 * yours to listen to). `options.watch`: `'pubsub'` (default: a duplicate of the client
 * subscribes to the session's channel, and a watch returns at the first newer version) or
 * `'sleep'` (a watch just waits its timeout: for a Redis without pub/sub).
 *
 * Every call honours the `signal` the session gives it (its `storeTimeout`): a command still
 * queued when it aborts is dropped (with `disableOfflineQueue: true`, commands fail at once
 * while the connection is down instead of queueing).
 */
export function redisStore(client, options = {}) {
  for (const method of ['get', 'eval', 'evalSha']) {
    if (!client || typeof client[method] !== 'function') {
      throw new TypeError(`redisStore() takes a node-redis client (createClient() of the npm package redis, v5 or later): ${method}() is missing`);
    }
  }
  if (options === null || typeof options !== 'object') throw new TypeError('redisStore(): options must be an object');
  for (const key of Object.keys(options)) {
    if (key !== 'watch') throw new TypeError(`redisStore(): unknown option \`${key}\` (known: watch)`);
  }
  const mode = options.watch === undefined ? 'pubsub' : options.watch;
  if (mode !== 'pubsub' && mode !== 'sleep') throw new TypeError("redisStore(): watch must be 'pubsub' or 'sleep'");
  if (mode === 'pubsub' && typeof client.duplicate !== 'function') {
    throw new TypeError("redisStore(): the client has no duplicate() for pub/sub (use watch: 'sleep')");
  }

  // The client for one call: with the call's abort signal when the client takes one.
  const via = (signal) => (signal && typeof client.withAbortSignal === 'function' ? client.withAbortSignal(signal) : client);

  async function script(name, signal, keys, args) {
    const s = loaded()[name];
    const c = via(signal);
    try {
      return await c.evalSha(s.sha, { keys, arguments: args });
    } catch (e) {
      if (!isNoScript(e)) throw e;
      return c.eval(s.text, { keys, arguments: args });
    }
  }

  // ---------------------------------------------------------------------- pub/sub
  // One subscriber (a duplicate of the client), connected on the first watch, subscribed once
  // per channel; each message wakes the watches of its channel waiting for an older version.
  let duplicate; // the duplicate of the client, once made
  let subscriber; // Promise of it connected
  let closed = false;
  const channels = new Map(); // channel -> Promise of the subscription
  const waiting = new Map(); // channel -> Set of { version, wake }

  function heard(message, channel) {
    const version = Number(text(message));
    for (const w of waiting.get(channel) || []) {
      if (!(version <= w.version)) w.wake();
    }
  }

  function subscribe(channel) {
    if (!channels.has(channel)) {
      if (subscriber === undefined) {
        const sub = client.duplicate();
        duplicate = sub;
        // node-redis throws an 'error' event without a listener: a broken subscriber only
        // turns watches into sleeps (the next read tells whether Redis is down).
        if (typeof sub.on === 'function') sub.on('error', () => {});
        const connected = sub.connect().then(() => sub);
        subscriber = connected;
        connected.catch(() => {
          if (subscriber === connected) {
            subscriber = undefined;
            duplicate = undefined;
            channels.clear();
          }
          destroy(sub);
        });
      }
      const subscribed = subscriber.then((sub) => sub.subscribe(channel, heard));
      subscribed.catch(() => channels.delete(channel));
      channels.set(channel, subscribed);
    }
    return channels.get(channel);
  }

  function destroy(sub) {
    try {
      const r = typeof sub.destroy === 'function' ? sub.destroy() : sub.disconnect();
      if (r && typeof r.catch === 'function') r.catch(() => {});
    } catch {
      // already closed
    }
  }

  return {
    /** `GET key`. */
    async read(op, { signal } = {}) {
      return text(await via(signal).get(op.key));
    },

    /** The core's ACQUIRE script: `[acquired, pttl, entry?]`. */
    async acquire(op, { signal } = {}) {
      const r = await script('acquire', signal, [op.key, op.lease], [op.owner, String(op.ttlMs)]);
      if (!Array.isArray(r) || r.length < 2) throw new Error('unexpected reply to the acquire script');
      const pttl = Number(r[1]);
      return { acquired: Number(r[0]) === 1, leaseTtlMs: pttl >= 0 ? pttl : null, entry: text(r[2]) };
    },

    /** The core's COMMIT script: `[1, version]` written, `[0, current]` conflict, `[-1]` unreadable entry. */
    async commit(op, { signal } = {}) {
      const r = await script('commit', signal, [op.key, op.lease],
        [op.owner, String(op.expectedVersion), op.entry, op.channel, String(op.version)]);
      if (!Array.isArray(r) || r.length < 1) throw new Error('unexpected reply to the commit script');
      return Number(r[0]) === 1;
    },

    /** The core's RELEASE script. */
    async release(op, { signal } = {}) {
      await script('release', signal, [op.lease], [op.owner]);
    },

    /** A newer version on the channel (pub/sub), or `timeoutMs`; never fails. */
    watch(op, { signal } = {}) {
      return new Promise((resolve) => {
        const set = waiting.get(op.channel) || new Set();
        waiting.set(op.channel, set);
        const w = { version: op.version, wake };
        const timer = setTimeout(wake, op.timeoutMs);
        function wake() {
          clearTimeout(timer);
          set.delete(w);
          if (set.size === 0 && waiting.get(op.channel) === set) waiting.delete(op.channel);
          if (signal) signal.removeEventListener('abort', wake);
          resolve();
        }
        if (signal) signal.addEventListener('abort', wake, { once: true });
        set.add(w);
        if (mode === 'pubsub' && !closed) subscribe(op.channel).catch(() => {});
      });
    },

    /** Closes the pub/sub duplicate (not your client) and ends the watches in progress. */
    async close() {
      closed = true;
      for (const set of waiting.values()) for (const w of [...set]) w.wake();
      const sub = duplicate;
      subscriber = undefined;
      duplicate = undefined;
      channels.clear();
      if (sub) {
        if (sub.isReady === false) {
          destroy(sub); // still connecting (Redis down): nothing to say goodbye to
        } else {
          try {
            await (typeof sub.close === 'function' ? sub.close() : sub.quit());
          } catch {
            destroy(sub);
          }
        }
      }
    },

    toString() {
      return `RedisStore { watch: ${mode} }`;
    },
  };
}
