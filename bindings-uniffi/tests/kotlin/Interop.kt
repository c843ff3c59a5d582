// The Kotlin binding against real authorization servers (oidc-provider, Authlib,
// oauth2-mock-server) started on 127.0.0.1 by tests/interop/servers.sh, through the shipped
// JdkHttpTransport: every grant, rotation, introspection, revocation, JSON bodies, the
// single-flight session under 100 threads, the 401 helper, errors by type, no secret printed.
package grantline.test

import grantline.*
import java.net.CookieManager
import java.net.CookiePolicy
import java.net.URI
import java.net.URLEncoder
import java.util.Base64
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicInteger
import java.net.http.HttpClient as JdkClient
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse

const val CALLBACK = "http://127.0.0.1:8765/callback"
const val API = "urn:example:api"

private fun server(variable: String): String {
    val url = System.getenv(variable)
    if (url.isNullOrEmpty()) throw IllegalStateException("$variable is not set: run under tests/interop/servers.sh run -- ...")
    return url.trimEnd('/')
}

val oidcUrl by lazy { server("GRANTLINE_OIDC_URL") }
val authlibUrl by lazy { server("GRANTLINE_AUTHLIB_URL") }
val mockUrl by lazy { server("GRANTLINE_MOCK_URL") }

val jdk = JdkHttpTransport()

/** Counts what goes through it (token endpoint requests apart), and can slow each exchange. */
class CountingTransport(private val inner: HttpTransport, private val delayMillis: Long = 0) : HttpTransport {
    val tokenRequests = AtomicInteger()
    val all = AtomicInteger()
    val responses: MutableList<HttpResponse> = Collections.synchronizedList(ArrayList())
    private fun count(request: HttpRequest) {
        all.incrementAndGet()
        if (request.url().endsWith("/token")) tokenRequests.incrementAndGet()
    }
    override fun send(request: HttpRequest): HttpResponse {
        count(request)
        if (delayMillis > 0) Thread.sleep(delayMillis)
        return inner.send(request).also { responses.add(it) }
    }
    override suspend fun sendAsync(request: HttpRequest): HttpResponse {
        count(request)
        if (delayMillis > 0) kotlinx.coroutines.delay(delayMillis)
        return inner.sendAsync(request).also { responses.add(it) }
    }
}

fun get(url: String, token: String? = null): HttpResponse {
    val headers = if (token == null) listOf() else listOf(authorizationHeader(token))
    return jdk.send(HttpRequest("GET", url, headers, ByteArray(0)))
}

/** oidc-provider, discovered from its issuer (it answers the RFC 8414 URL with 404, so the
 *  OpenID Connect one is tried next). */
fun oidc() = discover(oidcUrl, jdk)
/** Authlib, from the full URL of its RFC 8414 metadata (the issuer is derived from it). */
fun authlib() = discover("$authlibUrl/.well-known/oauth-authorization-server", jdk)
/** The mock's metadata lists only `none` although it checks test-client's secret: use Basic. */
fun mock() = discover(mockUrl, jdk).toBuilder().authMethod(ClientAuthMethod.BASIC).build()

fun confidential(p: Provider, transport: HttpTransport = jdk, method: ClientAuthMethod? = null) =
    Client(p, "test-client", "test-secret", CALLBACK, method, transport)

fun public(p: Provider) = Client(p, "public-client", redirectUri = CALLBACK, transport = jdk)

fun authlibMe(token: String?) = get("$authlibUrl/api/me", token)

/** A scripted browser: java.net.http with a cookie jar, redirects followed by hand until one
 *  points at the redirect URI (the servers approve login and consent on their own). */
class Browser {
    private val http = JdkClient.newBuilder()
        .cookieHandler(CookieManager(null, CookiePolicy.ACCEPT_ALL))
        .followRedirects(JdkClient.Redirect.NEVER)
        .version(JdkClient.Version.HTTP_1_1)
        .build()

    fun authorize(url: String, stopAt: String = CALLBACK): String {
        var current = url
        repeat(12) {
            val response = http.send(JdkRequest.newBuilder(URI(current)).GET().build(), JdkResponse.BodyHandlers.ofString())
            val location = response.headers().firstValue("location").orElse(null)
            if (response.statusCode() !in 300..399 || location == null) {
                throw AssertionError("the authorization ended on HTTP ${response.statusCode()} at ${current.substringBefore('?')}")
            }
            val next = URI(current).resolve(location).toString()
            if (next.startsWith(stopAt)) return next
            current = next
        }
        throw AssertionError("too many redirects")
    }

    /** Follows redirects from [url] (GET) until a page comes; returns its URL and body. */
    private fun page(url: String, first: JdkResponse<String>? = null): Pair<String, String> {
        var current = url
        var response = first ?: http.send(JdkRequest.newBuilder(URI(current)).GET().build(), JdkResponse.BodyHandlers.ofString())
        repeat(12) {
            val location = response.headers().firstValue("location").orElse(null)
            if (response.statusCode() !in 300..399 || location == null) return Pair(current, response.body())
            current = URI(current).resolve(location).toString()
            response = http.send(JdkRequest.newBuilder(URI(current)).GET().build(), JdkResponse.BodyHandlers.ofString())
        }
        throw AssertionError("too many redirects")
    }

    /** The user's part of the device flow at oidc-provider: open the complete verification URI,
     *  confirm the code in its form (xsrf, user_code, confirm=yes), follow to the end. */
    fun approveDevice(device: DeviceAuthorization) {
        val (_, confirm) = page(device.verificationUriComplete() ?: throw AssertionError("no verification_uri_complete"))
        val xsrf = formInput(confirm, "xsrf") ?: throw AssertionError("no xsrf field on the confirm page")
        val code = formInput(confirm, "user_code") ?: throw AssertionError("no user_code field on the confirm page")
        assertEq(device.userCode().replace("-", ""), code.replace("-", ""), "the user code on the page")
        val form = listOf("xsrf" to xsrf, "user_code" to code, "confirm" to "yes")
            .joinToString("&") { (k, v) -> "$k=${URLEncoder.encode(v, "UTF-8")}" }
        val answer = http.send(
            JdkRequest.newBuilder(URI(device.verificationUri()))
                .header("content-type", "application/x-www-form-urlencoded")
                .POST(JdkRequest.BodyPublishers.ofString(form)).build(),
            JdkResponse.BodyHandlers.ofString(),
        )
        // The proof that it worked is the token the next poll gets.
        page(device.verificationUri(), answer)
    }

    private fun formInput(html: String, name: String): String? {
        for (tag in Regex("<input[^>]*>").findAll(html).map { it.value }) {
            if (Regex("\\sname=[\"']${Regex.escape(name)}[\"']").containsMatchIn(tag)) {
                val value = Regex("\\svalue=([\"'])(.*?)\\1").find(tag)?.groupValues?.get(2) ?: return null
                return value.replace("&amp;", "&").replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
            }
        }
        return null
    }
}

/** The authorization code flow up to the exchange, the pending record surviving "process death"
 *  as JSON. Returns the callback URL and the code grant. */
fun authorize(client: Client, request: AuthorizationRequest): Pair<String, CodeGrant> {
    val auth = client.authorizationUrl(request)
    val stored = auth.pending().toJson()
    val callback = Browser().authorize(auth.url())
    val grant = client.callback(PendingAuthorization.fromJson(stored), callback)
    return Pair(callback, grant)
}

fun oidcRequest() = AuthorizationRequest(
    scopes = listOf("openid", "offline_access", "api:read"),
    params = listOf(Param("resource", API), Param("prompt", "consent")),
)

fun authlibRequest() = AuthorizationRequest(scopes = listOf("read", "profile"))

class RecordingListener : TokenListener {
    val renewals: MutableList<Renewed> = Collections.synchronizedList(ArrayList())
    override fun onTokens(renewed: Renewed) {
        renewals.add(renewed)
    }
}

fun assertOAuth(code: String, status: Int?, body: () -> Unit) {
    val e = assertThrows<GrantlineException.OAuth>(body)
    assertEq(code, e.code, "OAuth error code")
    if (status != null) assertEq(status, e.status, "OAuth error status")
}

fun interop(t: Tests) {
    // ------------------------------------------------------------------ client credentials
    t.check("interop: client credentials, oidc-provider, Basic and body") {
        val p = oidc()
        val basic = confidential(p)
        assertEq(ClientAuthMethod.BASIC, basic.authMethod())
        val viaBasic = basic.clientCredentials(listOf("api:read"))
        val viaBody = confidential(p, method = ClientAuthMethod.BODY).clientCredentials(listOf("api:read"))
        for (tokens in listOf(viaBasic, viaBody)) {
            assertEq("Bearer", tokens.tokenType())
            assertEq(listOf("api:read"), tokens.scopes())
            assertEq(null, tokens.refreshToken())
            assertTrue(tokens.lifetime()!! in 3590L..3600L) { "lifetime ${tokens.lifetime()}" }
        }
        assertTrue(viaBasic.accessToken() != viaBody.accessToken())
    }
    t.check("interop: client credentials, Authlib, and the token opens its API") {
        val tokens = confidential(authlib()).clientCredentials(listOf("read"))
        assertEq(listOf("read"), tokens.scopes())
        val me = authlibMe(tokens.accessToken())
        assertEq(200, me.status)
        assertContains(String(me.body), "test-client")
    }
    t.check("interop: client credentials, oauth2-mock-server, Basic and body") {
        val p = mock()
        for (m in listOf(ClientAuthMethod.BASIC, ClientAuthMethod.BODY)) {
            val tokens = confidential(p, method = m).clientCredentials(listOf("api"))
            assertEq(ExpirySource.EXPIRES_IN, tokens.expirySource())
        }
    }

    // ------------------------------------------------------------------ authorization code + PKCE
    t.check("interop: authorization code + PKCE, oidc-provider (iss checked, scripted consent)") {
        val client = confidential(oidc())
        val (callback, grant) = authorize(client, oidcRequest())
        assertContains(callback, "iss=" + URLEncoder.encode(oidcUrl, "UTF-8"))
        assertTrue(grant.codeVerifier() != null)
        val tokens = client.exchangeCode(grant)
        assertTrue(tokens.refreshToken() != null) { "offline_access + prompt=consent gives a refresh token" }
        assertTrue(tokens.idToken() != null)
        assertEq(listOf("api:read"), tokens.scopes())
        val info = client.introspect(tokens.accessToken(), TokenTypeHint.ACCESS_TOKEN)
        assertTrue(info.active)
        assertEq("alice", info.sub)
        assertOAuth("invalid_grant", 400) { client.exchangeCode(grant) } // a code is single use
    }
    t.check("interop: authorization code + PKCE, Authlib, confidential and public clients") {
        val client = confidential(authlib())
        val (callback, grant) = authorize(client, authlibRequest())
        assertTrue(!callback.contains("iss="))
        val tokens = client.exchangeCode(grant)
        assertEq(listOf("read", "profile"), tokens.scopes())
        assertEq(200, authlibMe(tokens.accessToken()).status)
        val pub = public(authlib())
        assertEq(ClientAuthMethod.PUBLIC, pub.authMethod())
        val (_, pubGrant) = authorize(pub, authlibRequest())
        val request = pub.authorizationCodeRequest(pubGrant)
        assertEq(null, request.header("authorization"))
        assertTrue(!String(request.body()).contains("client_secret"))
        assertEq(200, authlibMe(pub.exchangeCode(pubGrant).accessToken()).status)
    }
    t.check("interop: a callback with another request's state is StateMismatch") {
        val client = confidential(authlib())
        val auth = client.authorizationUrl(authlibRequest())
        val callback = Browser().authorize(auth.url())
        val other = client.authorizationUrl(authlibRequest())
        assertThrows<GrantlineException.StateMismatch> { client.callback(other.pending(), callback) }
        client.callback(PendingAuthorization.fromJson(auth.pending().toJson()), callback)
    }

    // ------------------------------------------------------------------ refresh rotation
    for ((name, provider, replayKills) in listOf(
        Triple("oidc-provider", ::oidc, true), Triple("Authlib", ::authlib, false),
    )) {
        t.check("interop: refresh with rotation through TokenSession + listener, $name") {
            val client = confidential(provider())
            val (_, grant) = authorize(client, if (name == "Authlib") authlibRequest() else oidcRequest())
            val first = client.exchangeCode(grant)
            val listener = RecordingListener()
            val session = TokenSession.fromTokens(client, first, listener)
            assertEq(first.accessToken(), session.accessToken())
            assertTrue(session.reject(first.accessToken()))
            val second = session.accessToken()
            assertTrue(second != first.accessToken())
            assertEq(1, listener.renewals.size, "one renewal reported")
            val renewed = listener.renewals[0]
            assertTrue(renewed.refreshTokenRotated) { "both servers rotate" }
            val newRefresh = renewed.tokens.refreshToken()!!
            assertTrue(newRefresh != first.refreshToken())
            assertEq(second, renewed.tokens.accessToken())
            assertEq(newRefresh, session.tokens()!!.refreshToken())
            // The old refresh token is dead.
            assertOAuth("invalid_grant", 400) { client.refresh(first) }
            if (replayKills) {
                assertOAuth("invalid_grant", 400) { client.refresh(renewed.tokens) }
            } else {
                val again = client.refresh(renewed.tokens)
                assertTrue(again.refreshTokenRotated)
            }
        }
    }

    // ------------------------------------------------------------------ introspection, revocation
    t.check("interop: introspection and revocation, oidc-provider") {
        val client = confidential(oidc())
        val tokens = client.clientCredentials(listOf("api:read"))
        val info = client.introspect(tokens.accessToken(), TokenTypeHint.ACCESS_TOKEN)
        assertTrue(info.active)
        assertEq("test-client", info.clientId)
        assertEq(listOf("api:read"), info.scopes)
        client.revoke(tokens.accessToken(), TokenTypeHint.ACCESS_TOKEN)
        assertTrue(!client.introspect(tokens.accessToken()).active)
        client.revoke(tokens.accessToken())          // again: still a success (RFC 7009)
        client.revoke("not-a-token-this-server-issued")
    }
    t.check("interop: introspection and revocation, Authlib, then its API says renew") {
        val client = confidential(authlib())
        val token = client.clientCredentials(listOf("read")).accessToken()
        assertTrue(client.introspect(token, TokenTypeHint.ACCESS_TOKEN).active)
        client.revoke(token, TokenTypeHint.ACCESS_TOKEN)
        assertTrue(!client.introspect(token).active)
        val me = authlibMe(token)
        assertEq(401, me.status)
        assertEq("invalid_token", bearerChallenge(me.headers)?.error)
        assertTrue(needsRenewal(me.status, me.headers))
    }

    // ------------------------------------------------------------------ password
    t.check("interop: password grant, Authlib, and a wrong password") {
        val client = confidential(authlib())
        val tokens = client.password("alice", "wonderland", listOf("read"))
        assertTrue(tokens.refreshToken() != null)
        assertContains(String(authlibMe(tokens.accessToken()).body), "alice")
        // Authlib answers a wrong password with invalid_request (RFC 6749 says invalid_grant).
        assertOAuth("invalid_request", 400) { client.password("alice", "looking-glass", listOf("read")) }
    }
    t.check("interop: password session renews with the refresh token, Authlib") {
        val counting = CountingTransport(jdk)
        val listener = RecordingListener()
        val session = TokenSession.password(confidential(authlib(), counting), "alice", "wonderland", listOf("read"), listener)
        val first = session.accessToken()
        assertTrue(session.reject(first))
        val second = session.accessToken()
        assertEq(2, counting.tokenRequests.get())
        assertEq(2, listener.renewals.size)
        assertTrue(listener.renewals[1].refreshTokenRotated)
        assertEq(200, authlibMe(second).status)
    }

    // ------------------------------------------------------------------ JSON bodies
    t.check("interop: JSON bodies with an audience parameter, Authlib's JSON endpoint") {
        val provider = ProviderBuilder("json-authlib")
            .tokenEndpoint("$authlibUrl/token")
            .introspectionEndpoint("$authlibUrl/introspect")
            .bodyEncoding(BodyEncoding.JSON)
            .authMethod(ClientAuthMethod.BODY)
            .extraTokenParam("audience", "https://api.example.com")
            .grant(GrantType.CLIENT_CREDENTIALS).grant(GrantType.PASSWORD).grant(GrantType.REFRESH_TOKEN)
            .build()
        val client = confidential(provider)
        val request = client.clientCredentialsRequest(listOf("read"))
        assertEq("application/json", request.header("content-type"))
        val body = Json.parse(String(request.body())) as Map<*, *>
        assertEq("https://api.example.com", body["audience"])
        assertEq("test-secret", body["client_secret"])
        val tokens = client.clientCredentials(listOf("read"))
        assertEq(200, authlibMe(tokens.accessToken()).status)
        assertTrue(client.introspect(tokens.accessToken()).active)
        val p = client.password("alice", "wonderland", listOf("read"))
        assertTrue(client.refresh(p).refreshTokenRotated)
        val wrong = Client(provider, "test-client", "nope", transport = jdk)
        assertOAuth("invalid_client", null) { wrong.clientCredentials() }
    }

    // ------------------------------------------------------------------ single flight
    t.check("interop: 100 threads, one token request; 100 rejections, one renewal (Authlib)") {
        val counting = CountingTransport(jdk, delayMillis = 100)
        val listener = RecordingListener()
        val session = TokenSession.clientCredentials(confidential(authlib(), counting), listOf("read"), listener)
        fun hammer(action: () -> String): Set<String> {
            val start = CountDownLatch(1)
            val results = Collections.synchronizedList(ArrayList<String>())
            val errors = Collections.synchronizedList(ArrayList<Throwable>())
            val threads = (1..100).map {
                Thread {
                    start.await()
                    try { results.add(action()) } catch (e: Throwable) { errors.add(e) }
                }.also { it.start() }
            }
            start.countDown()
            threads.forEach { it.join() }
            if (errors.isNotEmpty()) throw AssertionError("${errors.size} threads failed: ${errors[0]}")
            assertEq(100, results.size)
            return results.toSet()
        }
        val first = hammer { session.accessToken() }
        assertEq(1, first.size, "every thread got the same token")
        assertEq(1, counting.tokenRequests.get(), "token requests")
        val token = first.single()
        val second = hammer { session.reject(token); session.accessToken() }
        assertEq(1, second.size, "every thread got the same new token")
        assertTrue(second.single() != token)
        assertEq(2, counting.tokenRequests.get(), "token requests after 100 rejections")
        assertEq(2, listener.renewals.size, "the listener heard of each renewal once")
        assertEq(200, authlibMe(second.single()).status)
    }

    // ------------------------------------------------------------------ the 401 helper
    t.check("interop: TokenSession.send renews once after a real 401 invalid_token (Authlib)") {
        val counting = CountingTransport(jdk)
        val client = confidential(authlib(), counting)
        val session = TokenSession.clientCredentials(client, listOf("read"))
        val api = HttpRequest("GET", "$authlibUrl/api/me", listOf(), ByteArray(0))
        assertEq(200, session.send(api).status)
        assertEq(1, counting.tokenRequests.get())
        client.revoke(session.accessToken(), TokenTypeHint.ACCESS_TOKEN) // behind the session's back
        val before = counting.all.get()
        val answer = session.send(api)
        assertEq(200, answer.status)
        assertContains(String(answer.body), "test-client")
        assertEq(2, counting.tokenRequests.get(), "one renewal")
        assertEq(before + 3, counting.all.get(), "401, renewal, retry")
    }

    // ------------------------------------------------------------------ errors, by type
    t.check("interop: invalid_client on every server is GrantlineException.OAuth") {
        for (p in listOf(oidc(), authlib(), mock())) {
            for (m in listOf(ClientAuthMethod.BASIC, ClientAuthMethod.BODY)) {
                val e = assertThrows<GrantlineException.OAuth> {
                    Client(p, "test-client", "not-the-secret", authMethod = m, transport = jdk).clientCredentials()
                }
                assertEq("invalid_client", e.code)
                assertTrue(e.status == 400 || e.status == 401) { "status ${e.status}" }
            }
        }
    }
    t.check("errors: Configuration, Transport, MalformedResponse, ReauthorizationRequired by type") {
        val insecure = assertThrows<GrantlineException.Configuration> {
            ProviderBuilder("x").tokenEndpoint("http://example.com/token").build()
        }
        assertEq("insecure_endpoint", insecure.kind)
        val unsupported = assertThrows<GrantlineException.Configuration> {
            Client(Provider.bookable(), "id", "s").passwordRequest("u", "p")
        }
        assertEq(GrantType.PASSWORD, unsupported.grant)
        assertThrows<GrantlineException.Configuration> { Client(Provider.bookable(), "id", "s").clientCredentials() }
        assertThrows<GrantlineException.Configuration> { PendingAuthorization.fromJson("{not json") }
        assertThrows<GrantlineException.Configuration> { HttpRequest("GET", "not a url", listOf(), ByteArray(0)) }
        // Nothing listens on port 1.
        val closed = ProviderBuilder("closed").tokenEndpoint("http://127.0.0.1:1/token").grant(GrantType.CLIENT_CREDENTIALS).build()
        assertThrows<GrantlineException.Transport> { Client(closed, "id", "s", transport = jdk).clientCredentials() }
        // A transport that throws something else is a transport failure too, never a crash.
        val broken = object : BlockingHttpTransport() {
            override fun send(request: HttpRequest): HttpResponse = throw IllegalStateException("boom")
        }
        val viaSession = TokenSession.clientCredentials(Client(closed, "id", "s", transport = broken))
        assertContains(assertThrows<GrantlineException.Transport> { viaSession.accessToken() }.reason, "boom")
        val html = HttpResponse(502, listOf(Header("content-type", "text/html")), "<html><h1>502 Bad Gateway</h1></html>".toByteArray())
        val malformed = assertThrows<GrantlineException.MalformedResponse> { TokenSet.fromResponse(html, 0L) }
        assertEq("unexpected_status", malformed.kind)
        assertContains(malformed.excerpt, "502 Bad Gateway")
        assertThrows<GrantlineException.MalformedResponse> {
            TokenSet.fromResponse(HttpResponse(200, listOf(), "{\"token_type\":\"bearer\"}".toByteArray()), 0L)
        }
        // A dead refresh token: invalid_grant once, then ReauthorizationRequired.
        val client = confidential(authlib())
        val (_, grant) = authorize(client, authlibRequest())
        val tokens = client.exchangeCode(grant)
        client.revoke(tokens.refreshToken()!!, TokenTypeHint.REFRESH_TOKEN)
        val session = TokenSession.fromTokens(client, tokens)
        session.reject(tokens.accessToken())
        assertOAuth("invalid_grant", 400) { session.accessToken() }
        assertThrows<GrantlineException.ReauthorizationRequired> { session.accessToken() }
        // A listener that throws: its error reaches the caller, the session keeps the tokens.
        val failing = object : TokenListener {
            override fun onTokens(renewed: Renewed) = throw GrantlineException.Transport("disk full")
        }
        val s = TokenSession.clientCredentials(confidential(authlib()), listOf("read"), failing)
        assertContains(assertThrows<GrantlineException.Transport> { s.accessToken() }.reason, "disk full")
        assertTrue(s.tokens() != null)
        assertEq(200, authlibMe(s.accessToken()).status)
    }
    t.check("transport: redirects come back as they are, never followed") {
        val client = confidential(authlib())
        val r = get(client.authorizationUrl(authlibRequest()).url())
        assertTrue(r.status in 300..399) { "status ${r.status}" }
        assertTrue(r.headers.first { it.name.equals("location", true) }.value.startsWith(CALLBACK))
    }
    t.check("transport: a body over the request's cap is cut at cap + 1 bytes and refused") {
        val server = com.sun.net.httpserver.HttpServer.create(java.net.InetSocketAddress("127.0.0.1", 0), 0)
        val big = ByteArray(3 shl 20) { 'a'.code.toByte() }
        server.createContext("/token") { ex ->
            ex.responseHeaders.add("content-type", "application/json")
            ex.sendResponseHeaders(200, big.size.toLong())
            try { ex.responseBody.use { it.write(big) } } catch (_: java.io.IOException) { }
        }
        server.start()
        try {
            val url = "http://127.0.0.1:${server.address.port}/token"
            val r = jdk.send(HttpRequest("POST", url, listOf(), ByteArray(0), maxResponseBody = maxResponseBody()))
            assertEq(maxResponseBody().toInt() + 1, r.body.size)
            // Without a limit of its own, the whole body.
            assertEq(big.size, jdk.send(HttpRequest("POST", url, listOf(), ByteArray(0))).body.size)
            val p = ProviderBuilder("big").tokenEndpoint(url).grant(GrantType.CLIENT_CREDENTIALS).build()
            val e = assertThrows<GrantlineException.MalformedResponse> { Client(p, "id", "s", transport = jdk).clientCredentials() }
            assertContains(e.reason, "MiB")
        } finally {
            server.stop(0)
        }
    }

    // ------------------------------------------------------------------ no secret printed
    t.check("secrets: no toString, description or message shows a secret (real values)") {
        val recording = CountingTransport(jdk)
        val client = confidential(authlib(), recording)
        val auth = client.authorizationUrl(authlibRequest())
        val callback = Browser().authorize(auth.url())
        val grant = client.callback(auth.pending(), callback)
        val tokens = client.exchangeCode(grant)
        val passwordRequest = client.passwordRequest("alice", "wonderland", listOf("read"))
        val listener = RecordingListener()
        val session = TokenSession.fromTokens(client, tokens, listener)
        session.reject(tokens.accessToken())
        session.accessToken()
        val renewed = listener.renewals.single()
        val oauthError = assertThrows<GrantlineException.OAuth> { client.password("alice", "wonderland-wrong") }
        val device = DeviceAuthorization.fromResponse(HttpResponse(200, listOf(), """{"device_code":"dev-c0de-s3cret-value","user_code":"ABCD-EFGH","verification_uri":"https://as.example/device"}""".toByteArray()), 0L)
        val pending = auth.pending()
        val pendingJson = Json.parse(pending.toJson()) as Map<*, *>
        val secrets = listOf(
            "test-secret", "wonderland", tokens.accessToken(), tokens.refreshToken()!!,
            renewed.tokens.accessToken(), renewed.tokens.refreshToken()!!, grant.code(), grant.codeVerifier()!!,
            pendingJson["state"] as String, device.deviceCode(),
            Base64.getEncoder().encodeToString("test-client:test-secret".toByteArray()),
        )
        val shown = listOf(
            client.toString(), tokens.toString(), renewed.toString(), renewed.tokens.toString(),
            passwordRequest.toString(), passwordRequest.parts().toString(), client.refreshRequest(tokens.refreshToken()!!).toString(),
            client.authorizationCodeRequest(grant).toString(), auth.toString(), pending.toString(),
            grant.toString(), device.toString(), session.toString(), oauthError.toString(),
            oauthError.message ?: "", authorizationHeader(tokens.accessToken()).toString(),
            passwordRequest.headers().toString(), recording.responses.toString(),
            DevicePoll.Tokens(tokens).toString(), session.tokens().toString(),
            NativeTokenSession.fromTokens(client, renewed.tokens).accessTokenLease().toString(),
        )
        // The secrets are real: the checks below could fail.
        assertTrue(recording.responses.any { String(it.body).contains(tokens.accessToken()) })
        assertTrue(passwordRequest.headers().any { it.value.contains(secrets.last()) })
        for (text in shown) for (secret in secrets) {
            assertTrue(!text.contains(secret)) { "a secret shows in: $text" }
        }
        assertContains(passwordRequest.toString(), "password=[redacted]")
        assertContains(passwordRequest.toString(), "authorization: Basic [redacted]")
    }
}
