// The Kotlin face of grantline's TokenSession, shipped next to the generated bindings
// (package grantline). It wraps the generated NativeTokenSession (the Rust object) and adds one
// thing: the core's lease of the current token is kept on the JVM side, because every call into
// Rust costs several microseconds over JNA while a cached token should cost nanoseconds.
package grantline

import java.util.concurrent.atomic.AtomicLong

/**
 * A token kept fresh: [accessToken] returns a valid access token, renewing it through the
 * client's transport when needed (client credentials, password, or refresh token), with exactly
 * one renewal in flight however many threads ask. Thread-safe; calls block during a renewal, so
 * make them off the main thread. Every new token set goes to the [TokenListener], in order.
 *
 * All decisions are the Rust core's. The one thing this class does on its own: it remembers the
 * core's last answer together with the deadline the core promised it for (`readyUntil`: the
 * second at which the core would start renewing) and answers from memory until then. Every
 * call that changes the session ([reject], [restore], [setSkew], and the rejection inside
 * [send]) forgets it first and again when done, so a remembered answer never outlives a change.
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
         *
         * @throws GrantlineException.Configuration when the client has no transport.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(GrantlineException::class)
        fun clientCredentials(client: Client, scopes: List<String> = listOf(), listener: TokenListener? = null) =
            TokenSession(NativeTokenSession.clientCredentials(client, scopes, listener))

        /**
         * A session that obtains its token with the password grant and renews it with the refresh
         * token when there is one (else with the password again).
         *
         * @throws GrantlineException.Configuration when the client has no transport.
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
        ) = TokenSession(NativeTokenSession.password(client, username, password, scopes, listener))

        /**
         * A session over tokens from an authorization code or device flow (or restored from
         * storage), renewed with the refresh token only; when that is gone, calls throw
         * [GrantlineException.ReauthorizationRequired].
         *
         * @throws GrantlineException.Configuration when the client has no transport.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(GrantlineException::class)
        fun fromTokens(client: Client, tokens: TokenSet, listener: TokenListener? = null) =
            TokenSession(NativeTokenSession.fromTokens(client, tokens, listener))
    }

    /**
     * A valid access token: the current one, or a new one after the renewal this call or another
     * thread performs. Blocks during a renewal.
     *
     * @throws GrantlineException the renewal's error (for this call and every thread that waited
     *   on it), [GrantlineException.ReauthorizationRequired], or what the listener threw.
     */
    @Throws(GrantlineException::class)
    fun accessToken(): String {
        val known = lease
        if (known != null && known.epoch == epoch.get() && System.currentTimeMillis() / 1000 < known.readyUntil) {
            return known.token
        }
        val at = epoch.get()
        val fresh = native.accessTokenLease()
        val until = fresh.readyUntil
        lease = Lease(fresh.accessToken, if (until > Long.MAX_VALUE.toULong()) Long.MAX_VALUE else until.toLong(), at)
        return fresh.accessToken
    }

    /**
     * Sends an API request with `Authorization: Bearer <access token>` through the client's
     * transport. When the API answers 401 `invalid_token` (or a bare 401), the token is
     * rejected, renewed once (one renewal however many threads see the 401) and the request
     * retried once; the retry's answer is returned whatever it is.
     *
     * @throws GrantlineException as [accessToken], and the transport's.
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

    /** Starts from this token set (restoring a persisted session). */
    fun restore(tokens: TokenSet) = changing { native.restore(tokens) }

    /** Renews [seconds] before expiry (capped at half the token's lifetime). */
    fun setSkew(seconds: ULong) = changing { native.setSkew(seconds) }

    /** The current token set, when there is one (to persist at shutdown, say). */
    fun tokens(): TokenSet? = native.tokens()

    /** Whether a renewal is in flight. */
    fun renewing(): Boolean = native.renewing()

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
