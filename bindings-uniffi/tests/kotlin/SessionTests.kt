// The Kotlin TokenSession's lease of the core's answer: it follows the core's deadline, and
// every change to the session forgets it. An in-memory token endpoint, no servers.
package grantline.test

import grantline.*
import java.util.concurrent.atomic.AtomicInteger

/** A token endpoint that answers `tok-N` with the given lifetime. */
class MemoryTokenEndpoint(private val expiresIn: Int) : HttpTransport {
    val calls = AtomicInteger()
    override fun send(request: HttpRequest): HttpResponse {
        val n = calls.incrementAndGet()
        val body = """{"access_token":"tok-$n","token_type":"Bearer","expires_in":$expiresIn}"""
        return HttpResponse(200u, listOf(Header("content-type", "application/json")), body.toByteArray())
    }
}

private fun memoryClient(endpoint: HttpTransport): Client {
    val provider = ProviderBuilder("memory").tokenEndpoint("http://127.0.0.1:9/token")
        .grant(GrantType.CLIENT_CREDENTIALS).build()
    return Client(provider, "id", "secret", transport = endpoint)
}

fun sessionTests(t: Tests) {
    t.check("session: the kept token lasts exactly as long as the core promised") {
        // Skew 60 s, capped at half the lifetime: renewal due 2 s after issue, so the kept token
        // is good for at least the rest of this second and the next.
        val endpoint = MemoryTokenEndpoint(expiresIn = 4)
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        val first = session.accessToken()
        repeat(1000) { assertEq(first, session.accessToken()) }
        assertEq(1, endpoint.calls.get())
        val native = NativeTokenSession.clientCredentials(memoryClient(endpoint))
        val lease = native.accessTokenLease()
        assertTrue(!lease.toString().contains(lease.accessToken)) { "a lease prints its token: $lease" }
        val nowSeconds = (System.currentTimeMillis() / 1000).toULong()
        assertTrue(lease.readyUntil in nowSeconds + 1u..nowSeconds + 2u) { "readyUntil ${lease.readyUntil} vs now $nowSeconds" }
        // Past the promise (a whole second boundary later), the core renews.
        Thread.sleep(2100)
        assertEq("tok-3", session.accessToken())
        assertEq(3, endpoint.calls.get())
    }
    t.check("session: reject, restore and setSkew forget the kept token") {
        val endpoint = MemoryTokenEndpoint(expiresIn = 3600)
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        assertEq("tok-1", session.accessToken())
        assertTrue(!session.reject("not-the-token"))
        assertEq("tok-1", session.accessToken())
        assertTrue(session.reject("tok-1"))
        assertEq("tok-2", session.accessToken())
        session.restore(TokenSet("restored", null, null, 0u))
        assertEq("restored", session.accessToken())
        session.restore(TokenSet("short", null, (System.currentTimeMillis() / 1000 + 30).toULong(), (System.currentTimeMillis() / 1000).toULong()))
        assertEq("short", session.accessToken())
        session.setSkew(3600u) // capped at half of 30 s: renewal due in 15 s, not yet
        assertEq("short", session.accessToken())
        assertEq(2, endpoint.calls.get())
        assertTrue(!session.toString().contains("short"))
    }
}
