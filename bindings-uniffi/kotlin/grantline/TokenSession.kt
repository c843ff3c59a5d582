// The Kotlin face of grantline's TokenSession, shipped next to the generated bindings
// (package grantline). It wraps the generated NativeTokenSession (the Rust object) and adds one
// thing: the core's lease of the current token is kept on the JVM side, because every call into
// Rust costs several microseconds over JNA while a cached token should cost nanoseconds.
package grantline

import java.util.concurrent.atomic.AtomicLong

/**
 * A token kept fresh: [accessToken] returns a usable access token, renewing it through the
 * client's transport when needed (client credentials, password, or refresh token), with exactly
 * one renewal in flight however many threads ask. Thread-safe. The thread that starts a renewal
 * performs it (it blocks); while it does, threads with a still-valid token get that token at
 * once, and only threads with no usable token wait. A renewal that fails while the token is
 * still valid reaches nobody; the core backs off before the next try. Every token set goes to
 * the [TokenListener] in renewal order, before anyone waiting for it is woken. Make the calls
 * off the main thread. In coroutines, use [AsyncTokenSession] (the same session, suspending, and
 * cancellable) instead.
 *
 * **Shared by a fleet.** Given a [FleetStore] and a [FleetConfig] (every factory takes both,
 * optionally), the session shares its token with every process that uses the same fleet name
 * and keys, in any grantline language: the Rust core's fleet machine reads the shared entry,
 * takes the renewal lease, commits the new token set by compare-and-set and wakes the others.
 * One token request per lifetime for the whole fleet; a rotating refresh token is never used
 * twice. In front of the store, the in-process single flight stays, and a cached token costs no
 * store call (nor a call into Rust: the lease below). When the store fails, a valid token is
 * still served, a client credentials or password session renews on its own, and a refresh
 * fails with [GrantlineException.Store] only for callers without a usable token. See
 * [FleetStore] for the interface and [RedisFleetStore] for Redis over any client.
 *
 * All decisions are the Rust core's. The one thing this class does on its own: it remembers the
 * last lease (the token and `readyUntil`, the second until which the Rust session promised to
 * answer with it) and answers from memory until then. Why that answer cannot go wrong:
 * - `readyUntil` is never later than the token's own expiry (or, for a token that arrived
 *   already expired, the grace the core serves it in): the remembered token is valid until
 *   then by the session's own rules, whatever a renewal completing meanwhile in Rust brings. A
 *   new token does not invalidate the old one: the server keeps it valid until it expires
 *   unless it is revoked, which an API shows with a 401, and [send] then [reject]s it.
 * - Outside a renewal, `readyUntil` is the renew-at second (expiry minus skew, capped, or the
 *   end of a backoff): the first caller after it asks Rust, which starts the renewal on time.
 * - While a renewal is in flight or being delivered, Rust's promise is the current token's
 *   expiry; the lease is shortened to the next second so that the renewed token (and its own
 *   renew-at) is picked up at once, not at the old token's expiry.
 * - Every call that changes the session ([reject], [restore], [setSkew], and the rejection
 *   inside [send]) forgets the lease first and again when done (an epoch counter), so a lease
 *   fetched across a change is never kept.
 */
class TokenSession private constructor(private val native: NativeTokenSession) : AutoCloseable {
    private class Lease(val token: String, val readyUntil: Long, val epoch: Long)

    /** Bumped before and after every change to the session: a lease from another epoch is stale. */
    private val epoch = AtomicLong()

    @Volatile
    private var lease: Lease? = null

    companion object {
        /**
         * A session that obtains and renews its token with the client credentials grant.
         * With [store] and [fleet] (both or neither), shared by the fleet.
         *
         * @throws GrantlineException.Configuration when the client has no transport, or only one
         *   of [store] and [fleet] is given.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(GrantlineException::class)
        fun clientCredentials(
            client: Client,
            scopes: List<String> = listOf(),
            listener: TokenListener? = null,
            store: FleetStore? = null,
            fleet: FleetConfig? = null,
        ) = TokenSession(NativeTokenSession.clientCredentials(client, scopes, listener, store, fleet))

        /**
         * A session that obtains its token with the password grant and renews it with the refresh
         * token when there is one (else with the password again). With [store] and [fleet]
         * (both or neither), shared by the fleet: the rotating refresh token is used once.
         *
         * @throws GrantlineException.Configuration when the client has no transport, or only one
         *   of [store] and [fleet] is given.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(GrantlineException::class)
        fun password(
            client: Client,
            username: String,
            password: String,
            scopes: List<String> = listOf(),
            listener: TokenListener? = null,
            store: FleetStore? = null,
            fleet: FleetConfig? = null,
        ) = TokenSession(NativeTokenSession.password(client, username, password, scopes, listener, store, fleet))

        /**
         * A session over tokens from an authorization code or device flow (or restored from
         * storage), renewed with the refresh token only; when that is gone, calls throw
         * [GrantlineException.ReauthorizationRequired]. With [store] and [fleet] (both or
         * neither), shared by the fleet: a newer entry in the store wins over [tokens] at the
         * first renewal, and the refresh token is used once for the whole fleet.
         *
         * @throws GrantlineException.Configuration when the client has no transport, or only one
         *   of [store] and [fleet] is given.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(GrantlineException::class)
        fun fromTokens(
            client: Client,
            tokens: TokenSet,
            listener: TokenListener? = null,
            store: FleetStore? = null,
            fleet: FleetConfig? = null,
        ) = TokenSession(NativeTokenSession.fromTokens(client, tokens, listener, store, fleet))
    }

    /**
     * A usable access token: the current one (also while another thread renews it ahead of
     * expiry), or a new one after the renewal this call performs or waits for.
     *
     * @throws GrantlineException only when no usable token is left: the renewal's error (for
     *   this call and every thread that waited on it, and during the backoff that follows),
     *   [GrantlineException.ReauthorizationRequired], [GrantlineException.Configuration]
     *   (`unsupported_token_type`); and what the listener threw, from the call that performed
     *   the renewal.
     */
    @Throws(GrantlineException::class)
    fun accessToken(): String {
        val known = lease
        if (known != null && known.epoch == epoch.get() && System.currentTimeMillis() / 1000 < known.readyUntil) {
            return known.token
        }
        val at = epoch.get()
        val fresh = native.accessTokenLease()
        lease = Lease(fresh.accessToken, fresh.readyUntil, at)
        return fresh.accessToken
    }

    /**
     * Sends an API request with `Authorization: Bearer <access token>` through the client's
     * transport. When the API answers 401 `invalid_token` (or a bare 401), the token is
     * rejected, renewed once (one renewal however many threads see the 401) and the request
     * retried once; the retry's answer is returned whatever it is.
     *
     * The deadline is the request's (`HttpRequest.withTimeout`), else the client's, else the
     * transport's. The body is not cut at the token endpoint's 1 MiB: its limit is the request's
     * `maxResponseBody`, else [setMaxApiBody] (none by default), and a larger body is an error.
     *
     * @throws GrantlineException as [accessToken]; [GrantlineException.MalformedResponse] for a
     *   body over its limit; the transport's.
     */
    @Throws(GrantlineException::class)
    fun send(request: HttpRequest): HttpResponse {
        val token = accessToken()
        val response = native.sendWith(request, token)
        if (!needsRenewal(response.status, response.headers)) return response
        reject(token)
        return native.sendWith(request, accessToken())
    }

    /**
     * The API refused [accessToken] (401 `invalid_token`): the next call renews it. A token that
     * is no longer the current one is ignored. Returns whether it was the current one.
     */
    fun reject(accessToken: String): Boolean = changing { native.reject(accessToken) }

    /**
     * Starts from this token set (restoring a persisted session); forgets failures and backoff.
     * In a fleet the tokens given are the local copy, with no store version: the store's entry,
     * when there is one, wins over them at the next renewal.
     */
    fun restore(tokens: TokenSet) = changing { native.restore(tokens) }

    /** Renews [seconds] before expiry (capped at half the token's lifetime; negative counts as 0). */
    fun setSkew(seconds: Long) = changing { native.setSkew(seconds) }

    /**
     * The body limit of API calls through [send] for requests that carry none (`null`, the
     * default: no limit). A larger body is a [GrantlineException.MalformedResponse], never cut.
     *
     * @throws GrantlineException.Configuration for a negative limit (`null` is "none").
     */
    @Throws(GrantlineException::class)
    fun setMaxApiBody(bytes: Long?) = native.setMaxApiBody(bytes)

    /** The API body limit ([setMaxApiBody]); null: none. */
    fun maxApiBody(): Long? = native.maxApiBody()

    /** The current token set, when there is one (to persist at shutdown, say). */
    fun tokens(): TokenSet? = native.tokens()

    /** Whether a renewal is in flight. */
    fun renewing(): Boolean = native.renewing()

    /** How many renewals in a row have failed (0 after a success), for logs and metrics. */
    fun failures(): Int = native.failures()

    /** When the backoff after failed renewals ends (Unix seconds), for logs; null after a success. */
    fun retryAt(): Long? = native.retryAt()

    /**
     * The fleet's counters (store round trips, token requests sent, entries adopted from other
     * processes, ...); null for a session without a store.
     */
    fun fleetStats(): FleetStats? = native.fleetStats()

    /** The store version of the local token set (0 before the store was read); null without a store. */
    fun fleetVersion(): Long? = native.fleetVersion()

    /** This session's lease owner id in the fleet (unique per session); null without a store. */
    fun fleetOwner(): String? = native.fleetOwner()

    /** No token: the client id and the session's state. */
    override fun toString(): String = native.toString()

    /** Frees the Rust session now (it is freed when garbage-collected otherwise). */
    override fun close() = native.close()

    private inline fun <T> changing(change: () -> T): T {
        epoch.incrementAndGet()
        lease = null
        try {
            return change()
        } finally {
            epoch.incrementAndGet()
        }
    }
}
