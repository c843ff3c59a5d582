// The Kotlin TokenSession (the driven layer over the Rust session) with in-memory token
// endpoints and the real clock: single flight, proactive renewals that block nobody, failures that
// reach nobody while the token is valid, listener order and rotation flag, tokens expired on
// arrival, DPoP refused, the API body limit; the JVM-side lease and why it stays right; the
// sans-IO SessionState and discovery from Kotlin. No servers.
package grantline.test

import grantline.*
import java.time.Duration
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger

private fun nowSeconds() = System.currentTimeMillis() / 1000

fun jsonResponse(status: Int, body: String) =
    HttpResponse(status, listOf(Header("content-type", "application/json")), body.toByteArray())

/** A token endpoint that answers `tok-N` with the given lifetime. */
class MemoryTokenEndpoint(private val expiresIn: Int) : BlockingHttpTransport() {
    val calls = AtomicInteger()
    override fun send(request: HttpRequest): HttpResponse {
        val n = calls.incrementAndGet()
        return jsonResponse(200, """{"access_token":"tok-$n","token_type":"Bearer","expires_in":$expiresIn}""")
    }
}

/**
 * A token endpoint scripted per call (n is 1-based), with a gate that holds token requests while
 * closed, and an API (any URL not ending in /token) that answers 200 with [apiBody].
 */
class ScriptedEndpoint(
    private val apiBody: ByteArray = "{}".toByteArray(),
    private val answer: (Int) -> HttpResponse,
) : BlockingHttpTransport() {
    val calls = AtomicInteger()
    val started = AtomicInteger()
    /** Token requests interrupted at the gate (a cancelled coroutine's `sendAsync`). */
    val interrupted = AtomicInteger()
    @Volatile var gate = CountDownLatch(0)
    @Volatile var lastApi: RequestParts? = null

    override fun send(request: HttpRequest): HttpResponse {
        val parts = request.parts()
        if (!parts.url.endsWith("/token")) {
            lastApi = parts
            return HttpResponse(200, listOf(), apiBody)
        }
        started.incrementAndGet()
        try {
            gate.await(10, TimeUnit.SECONDS)
        } catch (e: InterruptedException) {
            interrupted.incrementAndGet()
            throw e
        }
        return answer(calls.incrementAndGet())
    }
}

fun memoryClient(endpoint: HttpTransport, timeout: Duration? = null): Client {
    val provider = ProviderBuilder("memory").tokenEndpoint("http://127.0.0.1:9/token")
        .grant(GrantType.CLIENT_CREDENTIALS).grant(GrantType.REFRESH_TOKEN).build()
    return Client(provider, "id", "secret", transport = endpoint, timeout = timeout)
}

/** Runs [body] on [threads] threads released together; their results in any order. */
private fun <T> together(threads: Int, body: () -> T): List<Result<T>> {
    val start = CountDownLatch(1)
    val results = Collections.synchronizedList(ArrayList<Result<T>>())
    val workers = (1..threads).map {
        Thread {
            start.await()
            results.add(runCatching(body))
        }.also { it.start() }
    }
    start.countDown()
    workers.forEach { it.join() }
    return results
}

/** Sleeps until the renew-at second of a token issued at [issued] with lifetime 4 (skew 2) has come. */
private fun sleepToRenewAt(issued: Long) {
    val renewAt = (issued + 2) * 1000 + 50
    val wait = renewAt - System.currentTimeMillis()
    if (wait > 0) Thread.sleep(wait)
}

class OrderListener(private val slowFirst: Long = 0) : TokenListener {
    val seen: MutableList<Pair<String, Boolean>> = Collections.synchronizedList(ArrayList())
    val inFirst = CountDownLatch(1)
    private val busy = AtomicInteger()
    val overlaps = AtomicInteger()
    override fun onTokens(renewed: Renewed) {
        if (busy.incrementAndGet() > 1) overlaps.incrementAndGet()
        if (seen.isEmpty()) {
            inFirst.countDown()
            Thread.sleep(slowFirst)
        }
        seen.add(Pair(renewed.tokens.accessToken(), renewed.refreshTokenRotated))
        busy.decrementAndGet()
    }
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
        val nowSeconds = nowSeconds()
        assertTrue(lease.readyUntil in nowSeconds + 1L..nowSeconds + 2L) { "readyUntil ${lease.readyUntil} vs now $nowSeconds" }
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
        session.restore(TokenSet("restored", null, null, 0L))
        assertEq("restored", session.accessToken())
        session.restore(TokenSet("short", null, (nowSeconds() + 30), nowSeconds()))
        assertEq("short", session.accessToken())
        session.setSkew(3600L) // capped at half of 30 s: renewal due in 15 s, not yet
        assertEq("short", session.accessToken())
        assertEq(2, endpoint.calls.get())
        assertTrue(!session.toString().contains("short"))
    }
    t.check("session: 64 threads at once, one token request") {
        val endpoint = ScriptedEndpoint { n -> Thread.sleep(100); jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""") }
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        val results = together(64) { session.accessToken() }
        assertEq(setOf("tok-1"), results.map { it.getOrThrow() }.toSet())
        assertEq(1, endpoint.calls.get())
    }
    t.check("session: a proactive renewal in flight blocks nobody with a valid token; the lease stays right") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","expires_in":4}""") }
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        val issued = nowSeconds()
        assertEq("tok-1", session.accessToken())
        val expiresAt = session.tokens()!!.expiresAt()!!.toLong()
        sleepToRenewAt(issued)
        endpoint.gate = CountDownLatch(1)
        val renewer = Thread { session.accessToken() }.also { it.start() }
        while (endpoint.started.get() < 2) Thread.sleep(5)
        // Every other caller gets tok-1 at once, from Rust (the JVM lease ended at renew-at).
        val started = System.nanoTime()
        val others = together(16) { session.accessToken() }
        val tookMs = (System.nanoTime() - started) / 1_000_000
        assertEq(setOf("tok-1"), others.map { it.getOrThrow() }.toSet())
        assertTrue(tookMs < 1000) { "callers with a valid token waited $tookMs ms for the renewal" }
        assertTrue(session.renewing())
        endpoint.gate.countDown()
        renewer.join(10_000)
        assertTrue(!renewer.isAlive)
        // The renewal completed in Rust: the kept tok-1 was promised at most until its expiry
        // (and at most the next second), so it is picked up within about a second.
        val deadline = System.currentTimeMillis() + 2500
        var got = session.accessToken()
        while (got == "tok-1" && System.currentTimeMillis() < deadline) {
            assertTrue(nowSeconds() < expiresAt) { "tok-1 served past its expiry" }
            Thread.sleep(20)
            got = session.accessToken()
        }
        assertEq("tok-2", got)
        assertEq(2, endpoint.calls.get())
    }
    t.check("session: a lease taken during a renewal ends by the next second and never after the token's expiry") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","expires_in":4}""") }
        val native = NativeTokenSession.clientCredentials(memoryClient(endpoint))
        val issued = nowSeconds()
        assertEq("tok-1", native.accessToken())
        val expiresAt = native.tokens()!!.expiresAt()!!
        sleepToRenewAt(issued)
        endpoint.gate = CountDownLatch(1)
        val renewer = Thread { native.accessToken() }.also { it.start() }
        while (!native.renewing()) Thread.sleep(5)
        val lease = native.accessTokenLease()
        assertEq("tok-1", lease.accessToken)
        assertTrue(lease.readyUntil <= nowSeconds() + 1L && lease.readyUntil <= expiresAt) {
            "lease until ${lease.readyUntil}, now ${nowSeconds()}, expiry $expiresAt"
        }
        endpoint.gate.countDown()
        renewer.join(10_000)
    }
    t.check("session: a failed renewal while the token is valid reaches no caller, then backs off") {
        val endpoint = ScriptedEndpoint { n ->
            if (n == 1) jsonResponse(200, """{"access_token":"tok-1","expires_in":4}""")
            else throw GrantlineException.Transport("connection reset")
        }
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        val issued = nowSeconds()
        assertEq("tok-1", session.accessToken())
        sleepToRenewAt(issued)
        val results = together(16) { session.accessToken() }
        for (r in results) assertEq("tok-1", r.getOrThrow())
        assertEq(2, endpoint.calls.get(), "one renewal, then the backoff")
        assertEq(1, session.failures())
        assertTrue(session.retryAt() != null)
        assertEq("tok-1", session.accessToken())
    }
    t.check("session: a slow listener still gets token sets in renewal order") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","refresh_token":"rt-$n","expires_in":3600}""") }
        val listener = OrderListener(slowFirst = 400)
        val session = TokenSession.clientCredentials(memoryClient(endpoint), listener = listener)
        val first = Thread { runCatching { session.accessToken() } }.also { it.start() }
        assertTrue(listener.inFirst.await(5, TimeUnit.SECONDS))
        // tok-1 is being saved: it is usable already; refused by the API, it is renewed, and
        // renewal 2 waits for the slow save.
        val token = session.accessToken()
        assertEq("tok-1", token)
        assertTrue(session.reject(token))
        assertEq("tok-2", session.accessToken())
        first.join()
        assertEq(listOf("tok-1", "tok-2"), listener.seen.map { it.first })
        assertEq(0, listener.overlaps.get())
    }
    t.check("session: the listener gets the rotation flag") {
        val endpoint = ScriptedEndpoint { n ->
            when (n) {
                1 -> jsonResponse(200, """{"access_token":"tok-1","refresh_token":"rt-1","expires_in":3600}""")
                2 -> jsonResponse(200, """{"access_token":"tok-2","refresh_token":"rt-2","expires_in":3600}""")
                else -> jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""")
            }
        }
        val listener = OrderListener()
        val session = TokenSession.clientCredentials(memoryClient(endpoint), listener = listener)
        for (expected in listOf("tok-1", "tok-2", "tok-3")) {
            assertEq(expected, session.accessToken())
            session.reject(expected)
        }
        assertEq(listOf(Pair("tok-1", true), Pair("tok-2", true), Pair("tok-3", false)), listener.seen.toList())
        assertEq("rt-2", session.tokens()!!.refreshToken())
    }
    t.check("session: a token expired on arrival is served, never a loop of renewals") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","expires_in":0}""") }
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        val token = session.accessToken()
        repeat(20) { assertEq(token, session.accessToken()) }
        assertTrue(endpoint.calls.get() <= 2) { "${endpoint.calls.get()} token requests" }
    }
    t.check("session: DPoP tokens are refused, without a loop") {
        val endpoint = ScriptedEndpoint { n -> jsonResponse(200, """{"access_token":"tok-$n","token_type":"DPoP","expires_in":3600}""") }
        val session = TokenSession.clientCredentials(memoryClient(endpoint))
        repeat(3) {
            val e = assertThrows<GrantlineException.Configuration> { session.accessToken() }
            assertEq("unsupported_token_type", e.kind)
        }
        assertEq(1, endpoint.calls.get())
        val tokens = TokenSet.fromResponse(jsonResponse(200, """{"access_token":"x","token_type":"DPoP"}"""), 0L)
        assertTrue(!tokens.isBearer())
        assertEq("unsupported_token_type", assertThrows<GrantlineException.Configuration> { authorizationHeaderFor(tokens) }.kind)
    }
    t.check("session: send has its own API body limit and deadline; a cut body is an error") {
        val endpoint = ScriptedEndpoint(apiBody = ByteArray(3 shl 20) { 'a'.code.toByte() }) { n ->
            jsonResponse(200, """{"access_token":"tok-$n","expires_in":3600}""")
        }
        val session = TokenSession.clientCredentials(memoryClient(endpoint, timeout = Duration.ofSeconds(7)))
        val api = HttpRequest("GET", "http://127.0.0.1:9/api?key=s3cret", listOf(), ByteArray(0))
        assertEq(3 shl 20, session.send(api).body.size, "API bodies are not cut at 1 MiB")
        assertEq(Duration.ofSeconds(7), endpoint.lastApi?.timeout)
        assertEq(null, endpoint.lastApi?.maxResponseBody)
        session.setMaxApiBody(1000L)
        val e = assertThrows<GrantlineException.MalformedResponse> { session.send(api) }
        assertContains(e.reason, "limit of 1000 bytes")
        assertTrue(!e.reason.contains("s3cret"))
        assertEq(1000L, endpoint.lastApi?.maxResponseBody)
        assertEq(3 shl 20, session.send(api.withMaxResponseBody(4L shl 20).withTimeout(Duration.ofSeconds(2))).body.size)
        assertEq(Duration.ofSeconds(2), endpoint.lastApi?.timeout)
    }
    t.check("sans-IO: SessionState from Kotlin (Send with current, Completion, delivered, waited)") {
        val client = Client(ProviderBuilder("s").tokenEndpoint("https://as.example/token").grant(GrantType.CLIENT_CREDENTIALS).build(), "id", "secret")
        val s = SessionState.clientCredentials(client)
        val send = s.next(1000L) as Next.Send
        assertEq(null, send.current)
        assertContains(send.request.url(), "https://as.example/token")
        assertTrue(s.next(1000L) is Next.Wait)
        val done = s.receive(send.id, jsonResponse(200, """{"access_token":"abc-secret-token","refresh_token":"rt-secret-value","expires_in":100}"""), 1000L)
        assertEq(null, done.error)
        for (shown in listOf(done.toString(), s.toString(), send.toString())) {
            assertTrue(!shown.contains("abc-secret-token") && !shown.contains("rt-secret-value") && !shown.contains("secret&")) { shown }
        }
        assertEq(true, done.renewed?.refreshTokenRotated)
        assertTrue(s.delivered(send.id))
        val ready = s.waited(send.id, 1000L) as Next.Ready
        assertEq("abc-secret-token", ready.token)
        assertTrue(!ready.toString().contains("abc-secret-token")) { ready.toString() }
        assertEq(1050L, s.readyUntil())
        val proactive = s.next(1060L) as Next.Send
        assertEq("abc-secret-token", proactive.current)
        assertTrue(!proactive.toString().contains("abc-secret-token") && !proactive.toString().contains("rt-secret-value")) { proactive.toString() }
        val failed = s.fail(proactive.id, "connection reset", 1060L)
        assertTrue(failed.error is GrantlineException.Transport)
        assertTrue(s.waited(proactive.id, 1060L) is Next.Ready)
    }
    t.check("discovery: discover(issuer) over a transport, a forged issuer refused") {
        val forged = object : BlockingHttpTransport() {
            val urls = Collections.synchronizedList(ArrayList<String>())
            override fun send(request: HttpRequest): HttpResponse {
                urls.add(request.url())
                assertEq(Duration.ofSeconds(3), request.timeout())
                return if (request.url().endsWith("/openid-configuration")) {
                    jsonResponse(200, """{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}""")
                } else jsonResponse(404, "{}")
            }
        }
        val e = assertThrows<GrantlineException.StateMismatch> { discover("https://as.example/t1", forged, Duration.ofSeconds(3)) }
        assertEq("issuer_mismatch", e.kind)
        assertEq(listOf("https://as.example/.well-known/oauth-authorization-server/t1", "https://as.example/t1/.well-known/openid-configuration"), forged.urls.toList())
        assertEq("insecure_endpoint", assertThrows<GrantlineException.Configuration> { Discovery("http://as.example") }.kind)
        val p = Provider.fromMetadata("""{"issuer":"https://as.example","token_endpoint":"https://as.example/token","token_endpoint_auth_methods_supported":["private_key_jwt"]}""".toByteArray())
        assertEq(null, p.authMethod())
        assertEq(listOf("private_key_jwt"), p.authMethodsOffered())
        val e2 = assertThrows<GrantlineException.Configuration> { Client(p, "id", "secret").clientCredentialsRequest() }
        assertEq("unsupported_auth_method", e2.kind)
        assertEq("https://as.example/cb?code=[redacted]#access_token=[redacted]", redactUrl("https://user:pw@as.example/cb?code=abc#access_token=xyz"))
    }
}
