// JdkHttpTransport against the hostile server (tests/hostile, GRANTLINE_HOSTILE_URL): whole-request
// deadlines (per call, per client, per transport), resets, truncated and huge bodies, gzip bombs,
// redirects never followed, gzip/deflate decoded, error pages that never leak what they carry.
package grantline.test

import grantline.*
import java.net.URLEncoder
import java.time.Duration
import java.util.UUID

private val SECRETS = listOf("S3cr3t!x", "Xy7#longsecretvalue", "hostile-leaked-access-token-0123456789")

/** Everything a caller could print about an error. */
private fun shownOf(e: GrantlineException): String = buildString {
    append(e.toString()).append('\n').append(e.message).append('\n')
    when (e) {
        is GrantlineException.MalformedResponse -> append(e.excerpt).append(e.reason)
        is GrantlineException.OAuth -> append(e.description).append(e.uri)
        is GrantlineException.Transport -> append(e.reason)
        is GrantlineException.Configuration -> append(e.reason)
        is GrantlineException.StateMismatch -> append(e.reason)
        is GrantlineException.ReauthorizationRequired -> {}
    }
}

private fun assertNoSecret(text: String) {
    for (s in SECRETS) assertTrue(!text.contains(s)) { "a secret of the page shows: $text" }
}

fun hostile(t: Tests) {
    val base = System.getenv("GRANTLINE_HOSTILE_URL")?.trimEnd('/')
    if (base.isNullOrEmpty()) {
        println("hostile: GRANTLINE_HOSTILE_URL is not set: skipped")
        return
    }
    val transport = JdkHttpTransport() // 30 s by default: every test below sets a shorter one
    val short = Duration.ofSeconds(2)
    fun request(path: String, method: String = "POST", timeout: Duration? = short) =
        HttpRequest(method, "$base$path", listOf(Header("accept", "application/json")), "grant_type=client_credentials".toByteArray(),
            timeout = timeout, maxResponseBody = maxResponseBody())
    fun tokenClient(path: String, timeout: Duration? = short, via: HttpTransport = transport): Client {
        val p = ProviderBuilder("hostile").tokenEndpoint("$base$path").grant(GrantType.CLIENT_CREDENTIALS).build()
        return Client(p, "hostile-client", "hostile-secret", transport = via, timeout = timeout)
    }
    /** Runs [body], expects a Transport error by the deadline (2 s) and not much later. */
    fun endsAtDeadline(what: String, body: () -> Unit) {
        val start = System.nanoTime()
        val e = assertThrows<GrantlineException.Transport>(body)
        val ms = (System.nanoTime() - start) / 1_000_000
        assertTrue(ms in 1700..4500) { "$what ended after $ms ms: ${e.reason}" }
        assertContains(e.reason, "deadline")
        assertTrue(!e.reason.contains("?")) { "the URL's query in ${e.reason}" }
    }

    // ------------------------------------------------------------------ deadlines
    t.check("hostile: /drip ends at a per-request deadline (HttpRequest.withTimeout)") {
        endsAtDeadline("/drip") { transport.send(request("/drip?interval=0.5")) }
    }
    t.check("hostile: /drip-headers ends at the deadline") {
        endsAtDeadline("/drip-headers") { transport.send(request("/drip-headers?interval=0.5")) }
    }
    t.check("hostile: /hang ends at the deadline") {
        endsAtDeadline("/hang") { transport.send(request("/hang")) }
    }
    t.check("hostile: /drip ends at a per-client deadline (Client timeout), through clientCredentials") {
        endsAtDeadline("/drip via Client") { tokenClient("/drip").clientCredentials() }
        val thirty = tokenClient("/drip", timeout = null)
        endsAtDeadline("/drip via Client.withTimeout") { thirty.withTimeout(short).clientCredentials() }
    }
    t.check("hostile: /drip ends at the transport's own deadline, through a TokenSession") {
        val session = TokenSession.clientCredentials(tokenClient("/drip", timeout = null, via = JdkHttpTransport(short)))
        endsAtDeadline("/drip via TokenSession") { session.accessToken() }
    }

    // ------------------------------------------------------------------ broken connections
    t.check("hostile: /reset and /close-mid-body are transport errors") {
        for (path in listOf("/reset", "/close-mid-body")) {
            assertThrows<GrantlineException.Transport> { transport.send(request(path)) }
            val e = assertThrows<GrantlineException.Transport> { tokenClient(path).clientCredentials() }
            assertContains(e.reason, "$base$path")
        }
    }

    // ------------------------------------------------------------------ bounded bodies
    t.check("hostile: /huge, /huge-chunked and /gzip-bomb stop at the cap (decoded bytes), then are refused") {
        val cap = maxResponseBody().toInt()
        for (path in listOf("/huge", "/huge-chunked", "/gzip-bomb")) {
            val start = System.nanoTime()
            val r = transport.send(request(path, timeout = Duration.ofSeconds(20)))
            assertEq(cap + 1, r.body.size, "$path body read")
            assertTrue(String(r.body, 0, 17) == "{\"access_token\":\"") { "$path: not the decoded body" }
            if (path == "/gzip-bomb") assertTrue(r.headers.none { it.name.equals("content-encoding", true) }) { "decoded body still labelled gzip" }
            val e = assertThrows<GrantlineException.MalformedResponse> { tokenClient(path, Duration.ofSeconds(20)).clientCredentials() }
            assertContains(e.reason, "MiB")
            val ms = (System.nanoTime() - start) / 1_000_000
            assertTrue(ms < 15_000) { "$path took $ms ms" }
        }
        // Through TokenSession.send (an API call): its own limit, an error when over it.
        val api = object : HttpTransport {
            override fun send(request: HttpRequest): HttpResponse =
                if (request.url().endsWith("/token")) HttpResponse(200u, listOf(), """{"access_token":"a","expires_in":3600}""".toByteArray())
                else transport.send(request)
        }
        val session = TokenSession.clientCredentials(tokenClient("/token", via = api))
        session.setMaxApiBody((4 shl 20).toULong())
        val e = assertThrows<GrantlineException.MalformedResponse> {
            session.send(HttpRequest("GET", "$base/gzip-bomb", listOf(), ByteArray(0), timeout = Duration.ofSeconds(20)))
        }
        assertContains(e.reason, "limit of ${4 shl 20} bytes")
    }

    // ------------------------------------------------------------------ redirects
    t.check("hostile: /redirect-30x are never followed (nothing reaches /capture)") {
        val tag = "kotlin-${UUID.randomUUID()}"
        val q = URLEncoder.encode(tag, "UTF-8")
        transport.send(request("/captured/reset?tag=$q"))
        for (code in listOf(301, 302, 303, 307, 308)) {
            val r = transport.send(request("/redirect-$code?tag=$q"))
            assertEq(code, r.status.toInt())
            assertContains(r.headers.first { it.name.equals("location", true) }.value, "/capture")
            val e = assertThrows<GrantlineException.MalformedResponse> { tokenClient("/redirect-$code?tag=$q").clientCredentials() }
            assertEq("unexpected_status", e.kind)
            assertEq(code, e.status.toInt())
            // And for API calls through a session.
            val api = object : HttpTransport {
                override fun send(request: HttpRequest): HttpResponse =
                    if (request.url().endsWith("/token")) HttpResponse(200u, listOf(), """{"access_token":"a","expires_in":3600}""".toByteArray())
                    else transport.send(request)
            }
            val viaSession = TokenSession.clientCredentials(tokenClient("/token", via = api))
            assertEq(code, viaSession.send(HttpRequest("GET", "$base/redirect-$code?tag=$q", listOf(), ByteArray(0), timeout = short)).status.toInt())
        }
        val captured = Json.parse(String(transport.send(request("/captured?tag=$q", method = "GET")).body)) as Map<*, *>
        assertEq(java.math.BigInteger.ZERO, captured["count"], "requests that reached /capture")
    }

    // ------------------------------------------------------------------ compression
    t.check("hostile: /gzip and /deflate are decoded into the token") {
        for ((path, token) in listOf("/gzip" to "gzip-token", "/deflate" to "deflate-token")) {
            assertEq(token, tokenClient(path).clientCredentials().accessToken())
            val r = transport.send(request(path))
            assertTrue(r.headers.none { it.name.equals("content-encoding", true) || it.name.equals("content-length", true) })
        }
    }

    // ------------------------------------------------------------------ error pages
    t.check("hostile: /html-error, /empty-403, /error-200 are typed errors that show no secret of the page") {
        val html = assertThrows<GrantlineException.MalformedResponse> { tokenClient("/html-error").clientCredentials() }
        assertEq("unexpected_status", html.kind)
        assertEq(502, html.status.toInt())
        assertNoSecret(shownOf(html))
        val empty = assertThrows<GrantlineException.MalformedResponse> { tokenClient("/empty-403").clientCredentials() }
        assertEq(403, empty.status.toInt())
        assertNoSecret(shownOf(empty))
        val oauth = assertThrows<GrantlineException.OAuth> { tokenClient("/error-200").clientCredentials() }
        assertEq("invalid_grant", oauth.code)
        assertEq(200, oauth.status.toInt())
        assertNoSecret(shownOf(oauth))
        // Through a session too, and what the session prints.
        val session = TokenSession.clientCredentials(tokenClient("/html-error"))
        val viaSession = assertThrows<GrantlineException.MalformedResponse> { session.accessToken() }
        assertNoSecret(shownOf(viaSession) + session.toString())
        val r = transport.send(request("/html-error"))
        assertNoSecret(r.toString())
        assertTrue(String(r.body).contains(SECRETS[0])) { "the page really carries the secrets" }
    }
}
