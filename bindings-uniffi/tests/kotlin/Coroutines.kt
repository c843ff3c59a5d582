// The coroutine API with in-memory endpoints: AsyncTokenSession under many concurrent coroutines
// (one renewal), cancellation mid-renewal (the HTTP call is cancelled when nobody else waits for
// it, the next caller renews without backoff; when others wait, they carry it on), failures
// reaching every waiter as one typed error, the 401 rule, the listener's order and errors, the
// suspending client calls. No servers.
package grantline.test

import grantline.*
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.TimeoutCancellationException
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

/** Runs [body] in [n] coroutines on [Dispatchers.Default] at once; their outcomes in order. */
private suspend fun <T> inCoroutines(n: Int, body: suspend () -> T): List<Result<T>> = coroutineScope {
    (1..n).map { async(Dispatchers.Default) { runCatching { body() } } }.awaitAll()
}

/** Waits (polling, 10 s at most: a guard against a hang, not a timing check) until [condition]. */
private suspend fun eventually(what: String, condition: () -> Boolean) {
    repeat(1000) {
        if (condition()) return
        delay(10)
    }
    throw AssertionError("never: $what")
}

fun coroutineTests(t: Tests) {
    t.check("coroutines: 1000 concurrent coroutines, one token request; 200 rejections, one renewal") {
        val endpoint = ScriptedEndpoint { n -> Thread.sleep(100); jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""") }
        val listener = OrderListener()
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint), listener = listener)
        runBlocking {
            val first = inCoroutines(1000) { session.accessToken() }
            assertEq(setOf("tok-1"), first.map { it.getOrThrow() }.toSet())
            assertEq(1, endpoint.calls.get())
            val second = inCoroutines(200) { session.reject("tok-1"); session.accessToken() }
            assertEq(setOf("tok-2"), second.map { it.getOrThrow() }.toSet())
            assertEq(2, endpoint.calls.get())
        }
        assertEq(listOf("tok-1", "tok-2"), listener.seen.map { it.first })
        assertEq(0, listener.overlaps.get())
        assertTrue(!session.toString().contains("tok-")) { session.toString() }
    }
    t.check("coroutines: cancelling the only caller mid-renewal cancels the HTTP call; the next caller renews, no backoff") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""") }
        endpoint.gate = CountDownLatch(1)
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint))
        runBlocking {
            val first = launch(Dispatchers.Default) { session.accessToken() }
            eventually("the renewal started") { endpoint.started.get() == 1 }
            assertTrue(session.renewing())
            first.cancel()
            first.join()
            // The transport's sendAsync was cancelled (its thread interrupted at the gate).
            eventually("the HTTP call was cancelled") { endpoint.interrupted.get() == 1 }
            assertTrue(!session.renewing()) { "the renewal is still in flight" }
            assertEq(0, session.failures())
            assertEq(null, session.retryAt())
            endpoint.gate.countDown()
            assertEq("tok-1", session.accessToken())
            assertEq(2, endpoint.started.get())
            assertEq(1, endpoint.calls.get())
        }
    }
    t.check("coroutines: a cancelled caller's renewal carries on for the coroutines waiting for it") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""") }
        endpoint.gate = CountDownLatch(1)
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint))
        runBlocking {
            // UNDISPATCHED: each coroutine has polled its Rust future (and joined the renewal)
            // by the time `async` returns.
            val starter = async(start = CoroutineStart.UNDISPATCHED) { session.accessToken() }
            val waiters = (1..20).map { async(start = CoroutineStart.UNDISPATCHED) { session.accessToken() } }
            eventually("the renewal started") { endpoint.started.get() == 1 }
            starter.cancel()
            starter.join() // its Rust future is freed: the waiters alone hold the renewal now
            assertTrue(starter.isCancelled)
            assertTrue(session.renewing()) { "the renewal was dropped with its starter" }
            endpoint.gate.countDown()
            assertEq(setOf("tok-1"), waiters.awaitAll().toSet())
        }
        assertEq(1, endpoint.started.get())
        assertEq(0, endpoint.interrupted.get())
    }
    t.check("coroutines: withTimeout around a renewal ends it cleanly; the waiters get the token or a typed error") {
        val endpoint = ScriptedEndpoint { n ->
            if (n == 1) throw GrantlineException.Transport("connection reset")
            jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""")
        }
        endpoint.gate = CountDownLatch(1)
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint))
        runBlocking {
            assertThrows<TimeoutCancellationException> { withTimeout(200) { session.accessToken() } }
            eventually("the HTTP call was cancelled") { endpoint.interrupted.get() == 1 }
            endpoint.gate.countDown()
            // Renewal 2 fails (no token yet): every waiter gets the same typed error.
            val results = inCoroutines(50) { session.accessToken() }
            for (r in results) assertContains((r.exceptionOrNull() as GrantlineException.Transport).reason, "connection reset")
            assertEq(1, session.failures())
            assertTrue(session.retryAt() != null)
        }
    }
    t.check("coroutines: AsyncTokenSession.send renews once after a 401 and retries; limits and deadlines as TokenSession") {
        val endpoint = object : BlockingHttpTransport() {
            val tokens = AtomicInteger()
            val api = Collections.synchronizedList(ArrayList<String?>())
            override fun send(request: HttpRequest): HttpResponse {
                if (request.url().endsWith("/token")) {
                    return jsonResponse(200, """{"access_token":"tok-${tokens.incrementAndGet()}","expires_in":3600}""")
                }
                val auth = request.header("authorization")
                api.add(auth)
                return if (auth == "Bearer tok-1") HttpResponse(401, listOf(Header("www-authenticate", "Bearer error=\"invalid_token\"")), ByteArray(0))
                else HttpResponse(200, listOf(), ByteArray(2000))
            }
        }
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint))
        val call = HttpRequest("GET", "http://127.0.0.1:9/api?key=s3cret", listOf(), ByteArray(0))
        runBlocking {
            assertEq(200, session.send(call).status)
            assertEq(listOf<String?>("Bearer tok-1", "Bearer tok-2"), endpoint.api.toList())
            assertEq(2, endpoint.tokens.get())
            session.setMaxApiBody(1000L)
            assertEq(1000L, session.maxApiBody())
            val e = assertThrows<GrantlineException.MalformedResponse> { session.send(call) }
            assertContains(e.reason, "limit of 1000 bytes")
            assertTrue(!e.reason.contains("s3cret"))
            assertEq(2000, session.send(call.withMaxResponseBody(4000L)).body.size)
            assertEq("invalid_input", assertThrows<GrantlineException.Configuration> { session.setMaxApiBody(-1L) }.kind)
        }
    }
    t.check("coroutines: a throwing listener's error is reported once; the tokens are kept") {
        val endpoint = MemoryTokenEndpoint(expiresIn = 3600)
        val failing = object : TokenListener {
            override fun onTokens(renewed: Renewed) = throw GrantlineException.Transport("disk full")
        }
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint), listener = failing)
        runBlocking {
            assertContains(assertThrows<GrantlineException.Transport> { session.accessToken() }.reason, "disk full")
            assertEq("tok-1", session.accessToken())
            assertEq("tok-1", session.tokens()?.accessToken())
            assertTrue(session.reject("tok-1"))
            assertThrows<GrantlineException.Transport> { session.accessToken() }
            assertEq("tok-2", session.accessToken())
        }
    }
    t.check("coroutines: restore, setSkew and the other session calls work on AsyncTokenSession") {
        val endpoint = MemoryTokenEndpoint(expiresIn = 3600)
        val session = AsyncTokenSession.clientCredentials(memoryClient(endpoint))
        runBlocking {
            session.restore(TokenSet("restored", null, null, 0L))
            assertEq("restored", session.accessToken())
            val now = System.currentTimeMillis() / 1000
            session.restore(TokenSet("short", null, now + 30, now))
            session.setSkew(3600L) // capped at half of 30 s: not yet
            assertEq("short", session.accessToken())
            session.setSkew(-5L) // counts as 0
            assertEq("short", session.accessToken())
            assertEq(0, endpoint.calls.get())
            assertTrue(!session.toString().contains("short"))
        }
    }
    t.check("coroutines: the suspending client calls, a DPoP token refused, discovery") {
        val endpoint = MemoryTokenEndpoint(expiresIn = 60)
        val client = memoryClient(endpoint)
        runBlocking {
            val tokens = client.clientCredentialsAsync(listOf("read"))
            assertEq("tok-1", tokens.accessToken())
            assertEq(60L, tokens.lifetime())
            val noTransport = Client(Provider.bookable(), "id", "secret")
            assertThrows<GrantlineException.Configuration> { noTransport.clientCredentialsAsync() }
            val forged = object : SuspendingHttpTransport() {
                override suspend fun sendAsync(request: HttpRequest): HttpResponse {
                    delay(1)
                    return if (request.url().endsWith("/openid-configuration")) {
                        jsonResponse(200, """{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}""")
                    } else jsonResponse(404, "{}")
                }
            }
            assertEq("issuer_mismatch", assertThrows<GrantlineException.StateMismatch> { discoverAsync("https://as.example/t1", forged) }.kind)
            // The blocking call over a SuspendingHttpTransport runs it in runBlocking.
            assertEq("issuer_mismatch", assertThrows<GrantlineException.StateMismatch> { discover("https://as.example/t1", forged) }.kind)
        }
    }
}
