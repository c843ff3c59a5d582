// The shipped Kotlin transports (UrlConnectionTransport, JdkHttpTransport), blocking and
// suspending, against the hostile server (tests/hostile, GRANTLINE_HOSTILE_URL): whole-request
// deadlines (per call, per client, per transport), resets, truncated and huge bodies, gzip bombs,
// redirects never followed, gzip/deflate decoded, error pages that never leak what they carry.
// Then, on local servers: repeated headers kept, a cancelled coroutine closing its connection.
package grantline.test

import com.sun.net.httpserver.HttpServer
import grantline.*
import java.io.IOException
import java.net.InetSocketAddress
import java.net.URLEncoder
import java.time.Duration
import java.util.UUID
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import kotlin.concurrent.thread
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking

private val SECRETS = listOf("S3cr3t!x", "Xy7#longsecretvalue", "hostile-leaked-access-token-0123456789")

/** Everything a caller could print about an error. */
private fun shownOf(e: GrantlineException): String = buildString {
    append(e.toString()).append('\n').append(e.message).append('\n')
    when (e) {
        is GrantlineException.MalformedResponse -> append(e.excerpt).append(e.reason)
        is GrantlineException.OAuth -> append(e.description).append(e.uri)
        is GrantlineException.Transport -> append(e.reason)
        is GrantlineException.Store -> append(e.reason)
        is GrantlineException.Configuration -> append(e.reason)
        is GrantlineException.StateMismatch -> append(e.reason)
        is GrantlineException.ReauthorizationRequired -> {}
        is GrantlineException.IdToken -> append(e.claim).append(e.reason)
        is GrantlineException.Jws -> append(e.problem).append(e.reason)
        is GrantlineException.InvalidKey -> append(e.reason)
    }
}

private fun assertNoSecret(text: String) {
    for (s in SECRETS) assertTrue(!text.contains(s)) { "a secret of the page shows: $text" }
}

/** A shipped transport under test: its name, a default instance, and one with its own deadline. */
private class Shipped(val name: String, val default: HttpTransport, val withDeadline: (Duration) -> HttpTransport)

private val SHIPPED = listOf(
    Shipped("UrlConnectionTransport", UrlConnectionTransport()) { UrlConnectionTransport(it) },
    Shipped("JdkHttpTransport", JdkHttpTransport()) { JdkHttpTransport(it) },
)

fun hostile(t: Tests) {
    val base = System.getenv("GRANTLINE_HOSTILE_URL")?.trimEnd('/')
    if (base.isNullOrEmpty()) {
        println("hostile: GRANTLINE_HOSTILE_URL is not set: skipped")
    } else {
        // Each transport on its own thread (the checks are mostly waits for 2 s deadlines; each
        // transport's server-side captures are tagged with its own name).
        SHIPPED.map { shipped ->
            thread(name = "hostile ${shipped.name}") {
                try {
                    hostileWith(t, base, shipped)
                } catch (e: Throwable) {
                    t.fail("hostile [${shipped.name}]", "the group stopped: ${e.javaClass.name}: ${e.message}")
                }
            }
        }.forEach { it.join() }
    }
    for (shipped in SHIPPED) localChecks(t, shipped)
    t.check("transport: UrlConnectionTransport refuses what HttpURLConnection cannot send, with typed errors") {
        val transport = UrlConnectionTransport(Duration.ofSeconds(2))
        val patch = HttpRequest("PATCH", "http://127.0.0.1:9/api", listOf(), "{}".toByteArray())
        assertContains(assertThrows<GrantlineException.Transport> { transport.send(patch) }.reason, "PATCH")
        val getWithBody = HttpRequest("GET", "http://127.0.0.1:9/api?key=s3cret", listOf(), "x".toByteArray())
        val e = assertThrows<GrantlineException.Transport> { runBlocking { transport.sendAsync(getWithBody) } }
        assertTrue(!e.reason.contains("s3cret")) { e.reason }
        // Nothing listens on port 1: a typed error, the URL without its query.
        val closed = assertThrows<GrantlineException.Transport> {
            transport.send(HttpRequest("POST", "http://127.0.0.1:1/token?code=s3cret", listOf(), ByteArray(0)))
        }
        assertContains(closed.reason, "http://127.0.0.1:1/token")
        assertTrue(!closed.reason.contains("s3cret")) { closed.reason }
    }
}

private fun hostileWith(t: Tests, base: String, shipped: Shipped) {
    val transport = shipped.default // 30 s by default: every test below sets a shorter one
    val name = "hostile [${shipped.name}]"
    val short = Duration.ofSeconds(2)
    fun request(path: String, method: String = "POST", timeout: Duration? = short) =
        HttpRequest(method, "$base$path", listOf(Header("accept", "application/json")),
            if (method == "POST") "grant_type=client_credentials".toByteArray() else ByteArray(0),
            timeout = timeout, maxResponseBody = maxResponseBody())
    fun tokenClient(path: String, timeout: Duration? = short, via: HttpTransport = transport): Client {
        val p = ProviderBuilder("hostile").tokenEndpoint("$base$path").grant(GrantType.CLIENT_CREDENTIALS).build()
        return Client(p, "hostile-client", "hostile-secret", transport = via, timeout = timeout)
    }
    /** A token endpoint in memory, the API through the transport under test. */
    val api = object : HttpTransport {
        val token = HttpResponse(200, listOf(), """{"access_token":"a","expires_in":3600}""".toByteArray())
        override fun send(request: HttpRequest): HttpResponse =
            if (request.url().endsWith("/token")) token else transport.send(request)
        override suspend fun sendAsync(request: HttpRequest): HttpResponse =
            if (request.url().endsWith("/token")) token else transport.sendAsync(request)
    }
    /** Runs [body], expects a Transport error by the deadline (2 s) and not much later. */
    fun endsAtDeadline(what: String, body: suspend () -> Unit) {
        val start = System.nanoTime()
        val e = assertThrows<GrantlineException.Transport> { runBlocking { body() } }
        val ms = (System.nanoTime() - start) / 1_000_000
        assertTrue(ms in 1700..4500) { "$what ended after $ms ms: ${e.reason}" }
        assertContains(e.reason, "deadline")
        assertTrue(!e.reason.contains("?")) { "the URL's query in ${e.reason}" }
    }

    // ------------------------------------------------------------------ deadlines
    t.check("$name: /drip ends at a per-request deadline (HttpRequest.withTimeout), send and sendAsync") {
        endsAtDeadline("/drip") { transport.send(request("/drip?interval=0.5")) }
        endsAtDeadline("/drip, sendAsync") { transport.sendAsync(request("/drip?interval=0.5")) }
    }
    t.check("$name: /drip-headers and /hang end at the deadline, send and sendAsync") {
        endsAtDeadline("/drip-headers") { transport.send(request("/drip-headers?interval=0.5")) }
        endsAtDeadline("/hang, sendAsync") { transport.sendAsync(request("/hang")) }
        endsAtDeadline("/drip-headers, sendAsync") { transport.sendAsync(request("/drip-headers?interval=0.5")) }
        endsAtDeadline("/hang") { transport.send(request("/hang")) }
    }
    t.check("$name: /drip ends at a per-client deadline (Client timeout), clientCredentials and clientCredentialsAsync") {
        endsAtDeadline("/drip via Client") { tokenClient("/drip").clientCredentials() }
        endsAtDeadline("/drip via Client, suspending") { tokenClient("/drip").clientCredentialsAsync() }
        val thirty = tokenClient("/drip", timeout = null)
        endsAtDeadline("/drip via Client.withTimeout") { thirty.withTimeout(short).clientCredentials() }
    }
    t.check("$name: /drip ends at the transport's own deadline, through TokenSession and AsyncTokenSession") {
        val client = tokenClient("/drip", timeout = null, via = shipped.withDeadline(short))
        endsAtDeadline("/drip via TokenSession") { TokenSession.clientCredentials(client).accessToken() }
        endsAtDeadline("/drip via AsyncTokenSession") { AsyncTokenSession.clientCredentials(client).accessToken() }
    }

    // ------------------------------------------------------------------ broken connections
    t.check("$name: /reset and /close-mid-body are transport errors, blocking and suspending") {
        for (path in listOf("/reset", "/close-mid-body")) {
            assertThrows<GrantlineException.Transport> { transport.send(request(path)) }
            assertThrows<GrantlineException.Transport> { runBlocking { transport.sendAsync(request(path)) } }
            val e = assertThrows<GrantlineException.Transport> { tokenClient(path).clientCredentials() }
            assertContains(e.reason, "$base$path")
            val s = assertThrows<GrantlineException.Transport> { runBlocking { tokenClient(path).clientCredentialsAsync() } }
            assertContains(s.reason, "$base$path")
        }
    }

    // ------------------------------------------------------------------ bounded bodies
    t.check("$name: /huge, /huge-chunked and /gzip-bomb stop at the cap (decoded bytes), then are refused") {
        val cap = maxResponseBody().toInt()
        for (path in listOf("/huge", "/huge-chunked", "/gzip-bomb")) {
            val start = System.nanoTime()
            val blocking = transport.send(request(path, timeout = Duration.ofSeconds(20)))
            val suspending = runBlocking { transport.sendAsync(request(path, timeout = Duration.ofSeconds(20))) }
            for (r in listOf(blocking, suspending)) {
                assertEq(cap + 1, r.body.size, "$path body read")
                assertTrue(String(r.body, 0, 17) == "{\"access_token\":\"") { "$path: not the decoded body" }
                if (path == "/gzip-bomb") assertTrue(r.headers.none { it.name.equals("content-encoding", true) }) { "decoded body still labelled gzip" }
            }
            val e = assertThrows<GrantlineException.MalformedResponse> { tokenClient(path, Duration.ofSeconds(20)).clientCredentials() }
            assertContains(e.reason, "MiB")
            val ms = (System.nanoTime() - start) / 1_000_000
            assertTrue(ms < 15_000) { "$path took $ms ms" }
        }
        // Through TokenSession.send and AsyncTokenSession.send (API calls): their own limit, an
        // error when over it.
        val session = TokenSession.clientCredentials(tokenClient("/token", via = api))
        session.setMaxApiBody(4L shl 20)
        val bomb = HttpRequest("GET", "$base/gzip-bomb", listOf(), ByteArray(0), timeout = Duration.ofSeconds(20))
        assertContains(assertThrows<GrantlineException.MalformedResponse> { session.send(bomb) }.reason, "limit of ${4 shl 20} bytes")
        val suspending = AsyncTokenSession.clientCredentials(tokenClient("/token", via = api))
        suspending.setMaxApiBody(4L shl 20)
        assertContains(assertThrows<GrantlineException.MalformedResponse> { runBlocking { suspending.send(bomb) } }.reason, "limit of ${4 shl 20} bytes")
    }

    // ------------------------------------------------------------------ redirects
    t.check("$name: /redirect-30x are never followed (nothing reaches /capture), blocking and suspending") {
        val tag = "kotlin-${shipped.name}-${UUID.randomUUID()}"
        val q = URLEncoder.encode(tag, "UTF-8")
        transport.send(request("/captured/reset?tag=$q"))
        for (code in listOf(301, 302, 303, 307, 308)) {
            val r = transport.send(request("/redirect-$code?tag=$q"))
            assertEq(code, r.status)
            assertContains(r.headers.first { it.name.equals("location", true) }.value, "/capture")
            assertEq(code, runBlocking { transport.sendAsync(request("/redirect-$code?tag=$q")) }.status)
            val e = assertThrows<GrantlineException.MalformedResponse> { tokenClient("/redirect-$code?tag=$q").clientCredentials() }
            assertEq("unexpected_status", e.kind)
            assertEq(code, e.status)
            val s = assertThrows<GrantlineException.MalformedResponse> { runBlocking { tokenClient("/redirect-$code?tag=$q").clientCredentialsAsync() } }
            assertEq(code, s.status)
            // And for API calls through a session.
            val viaSession = TokenSession.clientCredentials(tokenClient("/token", via = api))
            val apiCall = HttpRequest("GET", "$base/redirect-$code?tag=$q", listOf(), ByteArray(0), timeout = short)
            assertEq(code, viaSession.send(apiCall).status)
            assertEq(code, runBlocking { AsyncTokenSession.clientCredentials(tokenClient("/token", via = api)).send(apiCall) }.status)
        }
        val captured = Json.parse(String(transport.send(request("/captured?tag=$q", method = "GET")).body)) as Map<*, *>
        assertEq(java.math.BigInteger.ZERO, captured["count"], "requests that reached /capture")
    }

    // ------------------------------------------------------------------ compression
    t.check("$name: /gzip and /deflate are decoded into the token, blocking and suspending") {
        for ((path, token) in listOf("/gzip" to "gzip-token", "/deflate" to "deflate-token")) {
            assertEq(token, tokenClient(path).clientCredentials().accessToken())
            assertEq(token, runBlocking { tokenClient(path).clientCredentialsAsync() }.accessToken())
            for (r in listOf(transport.send(request(path)), runBlocking { transport.sendAsync(request(path)) })) {
                assertTrue(r.headers.none { it.name.equals("content-encoding", true) || it.name.equals("content-length", true) })
            }
        }
    }

    // ------------------------------------------------------------------ error pages
    t.check("$name: /html-error, /empty-403, /error-200 are typed errors that show no secret of the page") {
        val html = assertThrows<GrantlineException.MalformedResponse> { tokenClient("/html-error").clientCredentials() }
        assertEq("unexpected_status", html.kind)
        assertEq(502, html.status)
        assertNoSecret(shownOf(html))
        val empty = assertThrows<GrantlineException.MalformedResponse> { tokenClient("/empty-403").clientCredentials() }
        assertEq(403, empty.status)
        assertNoSecret(shownOf(empty))
        val oauth = assertThrows<GrantlineException.OAuth> { runBlocking { tokenClient("/error-200").clientCredentialsAsync() } }
        assertEq("invalid_grant", oauth.code)
        assertEq(200, oauth.status)
        assertNoSecret(shownOf(oauth))
        // Through the sessions too, and what they print.
        val session = TokenSession.clientCredentials(tokenClient("/html-error"))
        val viaSession = assertThrows<GrantlineException.MalformedResponse> { session.accessToken() }
        assertNoSecret(shownOf(viaSession) + session.toString())
        val suspending = AsyncTokenSession.clientCredentials(tokenClient("/html-error"))
        val viaAsync = assertThrows<GrantlineException.MalformedResponse> { runBlocking { suspending.accessToken() } }
        assertNoSecret(shownOf(viaAsync) + suspending.toString())
        val r = transport.send(request("/html-error"))
        assertNoSecret(r.toString())
        assertTrue(String(r.body).contains(SECRETS[0])) { "the page really carries the secrets" }
    }
}

/** A loopback server for what the hostile server does not do. Stopped by [use]. */
private class LocalServer(configure: (HttpServer) -> Unit) : AutoCloseable {
    private val server = HttpServer.create(InetSocketAddress("127.0.0.1", 0), 0).also {
        it.executor = java.util.concurrent.Executors.newCachedThreadPool { r -> Thread(r).apply { isDaemon = true } }
        configure(it)
        it.start()
    }
    val url = "http://127.0.0.1:${server.address.port}"
    override fun close() = server.stop(0)
}

private fun localChecks(t: Tests, shipped: Shipped) {
    val name = "transport [${shipped.name}]"
    t.check("$name: repeated headers come back as repeated entries, in order") {
        LocalServer { s ->
            s.createContext("/api") { ex ->
                ex.responseHeaders.add("www-authenticate", "Basic realm=\"a\"")
                ex.responseHeaders.add("www-authenticate", "Bearer error=\"invalid_token\"")
                ex.responseHeaders.add("set-cookie", "a=1")
                ex.responseHeaders.add("set-cookie", "b=2")
                ex.sendResponseHeaders(401, -1)
                ex.close()
            }
        }.use { server ->
            val request = HttpRequest("GET", "${server.url}/api", listOf(), ByteArray(0), timeout = Duration.ofSeconds(5))
            for (r in listOf(shipped.default.send(request), runBlocking { shipped.default.sendAsync(request) })) {
                assertEq(401, r.status)
                val challenges = r.headers.filter { it.name.equals("www-authenticate", true) }.map { it.value }
                assertEq(listOf("Basic realm=\"a\"", "Bearer error=\"invalid_token\""), challenges)
                assertEq(listOf("a=1", "b=2"), r.headers.filter { it.name.equals("set-cookie", true) }.map { it.value })
                assertEq("invalid_token", bearerChallenge(r.headers)?.error)
                assertTrue(needsRenewal(r.status, r.headers))
            }
        }
    }
    t.check("$name: cancelling the coroutine in sendAsync closes the connection at once") {
        val goneAway = CountDownLatch(1)
        val started = CountDownLatch(1)
        LocalServer { s ->
            s.createContext("/slow") { ex ->
                // 100 MB announced (more than the JVM HttpURLConnection's keep-alive cleaner
                // drains, 512 KiB: see UrlConnectionTransport), one byte every 100 ms for 60 s;
                // the write fails once the client has hung up.
                ex.sendResponseHeaders(200, 100_000_000)
                started.countDown()
                try {
                    repeat(600) {
                        ex.responseBody.write('a'.code)
                        ex.responseBody.flush()
                        Thread.sleep(100)
                    }
                } catch (e: IOException) {
                    goneAway.countDown()
                } finally {
                    try { ex.close() } catch (_: IOException) { }
                }
            }
        }.use { server ->
            val request = HttpRequest("GET", "${server.url}/slow", listOf(), ByteArray(0), timeout = Duration.ofSeconds(60))
            runBlocking {
                val call = async(Dispatchers.Default) { shipped.default.sendAsync(request) }
                assertTrue(started.await(10, TimeUnit.SECONDS)) { "the request did not arrive" }
                delay(300)
                assertTrue(call.isActive) { "the call ended before its cancellation" }
                call.cancel()
                call.join()
                assertTrue(call.isCancelled) { "the call was not cancelled" }
                // No thread is left inside the exchange.
                val frame = "grantline.${shipped.name}.exchange"
                var busy = true
                repeat(500) {
                    busy = Thread.getAllStackTraces().values.any { trace -> trace.any { "${it.className}.${it.methodName}" == frame } }
                    if (!busy) return@repeat
                    delay(20)
                }
                assertTrue(!busy) { "a thread is still in $frame" }
            }
            // The server notices the closed connection long before its 60 s body ends.
            assertTrue(goneAway.await(20, TimeUnit.SECONDS)) { "the connection stayed open after the cancellation" }
        }
    }
}
