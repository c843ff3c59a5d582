// OpenID Connect and JWT client authentication against oidc-provider (tests/interop/README.md,
// section oidc-provider): real ID tokens validated against the server's real JWKS through the
// client's own cache, userinfo, refresh (§12.2), logout, a key rotation mid-session,
// private_key_jwt and client_secret_jwt, resource indicators, token exchange.
package grantline.test

import grantline.*
import java.io.File
import java.util.Base64
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.runBlocking

private const val LOGGED_OUT = "http://127.0.0.1:8765/logged-out"
private const val JWT_API = "urn:example:jwt-api"
private const val SECRET_JWT_SECRET = "secret-jwt-client-shared-secret-0123456789"

/** Counts the JWKS fetches that go through it. */
private class JwksCounting(private val inner: HttpTransport) : HttpTransport {
    val jwks = AtomicInteger()
    private fun count(request: HttpRequest) {
        if (request.url().substringBefore('?').endsWith("/jwks")) jwks.incrementAndGet()
    }
    override fun send(request: HttpRequest): HttpResponse { count(request); return inner.send(request) }
    override suspend fun sendAsync(request: HttpRequest): HttpResponse { count(request); return inner.sendAsync(request) }
}

private fun jwtClientKey(repo: File): SigningKey =
    SigningKey.fromJwk(File(repo, "tests/interop/keys/jwt-client.private.jwk.json").readText())

private fun openid() = AuthorizationRequest(
    scopes = listOf("openid", "offline_access", "profile", "email"),
    params = listOf(Param("prompt", "consent")),
)

/** A login: the URL (with a nonce), the browser, the callback, the exchange. */
private fun login(client: Client, request: AuthorizationRequest = openid()): Pair<PendingAuthorization, TokenSet> {
    val auth = client.authorizationUrl(request)
    assertContains(auth.url(), "&nonce=")
    val pending = PendingAuthorization.fromJson(auth.pending().toJson())
    val grant = client.callback(pending, Browser().authorize(auth.url()))
    return Pair(pending, client.exchangeCode(grant))
}

@Suppress("UNCHECKED_CAST")
private fun headerOf(jwt: String): Map<String, Any?> =
    Json.parse(String(Base64.getUrlDecoder().decode(jwt.substringBefore('.')))) as Map<String, Any?>

fun oidcInterop(t: Tests, repo: File) {
    t.check("interop oidc: code flow, ID token, userinfo, refresh (§12.2), logout URL (test-client)") {
        val client = confidential(oidc())
        val (pending, tokens) = login(client)
        val claims = client.validateIdToken(tokens, pending)
        assertEq("alice", claims.sub())
        assertEq(oidcUrl, claims.issuer())
        assertEq(listOf("test-client"), claims.audiences())
        assertEq(JwsAlgorithm.RS256, claims.algorithm())
        assertEq(pending.nonce(), claims.nonce())
        assertTrue(!claims.toString().contains(pending.nonce()!!)) { "the nonce shows: $claims" }

        // Another login's pending record (another nonce) refuses this token.
        val (otherPending, _) = login(client)
        val e = assertThrows<GrantlineException.IdToken> { client.validateIdToken(tokens, otherPending) }
        assertEq("nonce", e.claim)
        assertTrue(!e.toString().contains(tokens.idToken()!!))

        val info = client.userinfo(tokens, claims)
        assertEq("alice", info.sub())
        assertContains(info.claimsJson(), "alice@example.com")
        assertTrue(!info.toString().contains("alice@example.com")) { "userinfo prints claim values: $info" }

        val renewed = client.refresh(tokens)
        assertTrue(renewed.refreshTokenRotated) { "oidc-provider rotates refresh tokens" }
        val refreshed = client.validateRefreshedIdToken(renewed.tokens, claims)
            ?: throw AssertionError("a refresh with openid returns an ID token")
        assertEq(claims.sub(), refreshed.sub())

        val url = client.endSessionUrl(EndSessionRequest(
            idTokenHint = renewed.tokens.idToken(), postLogoutRedirectUri = LOGGED_OUT, state = "bye-123",
        ))
        assertTrue(url.startsWith("$oidcUrl/session/end?")) { url }
        assertContains(url, "client_id=test-client")
        assertEq(200, get(url).status, "the end-session page (oidc-provider's logout confirmation)")
    }

    t.check("interop oidc: the suspending twins validate and fetch userinfo too") {
        runBlocking {
            val client = confidential(oidc())
            val (pending, tokens) = login(client)
            val claims = client.validateIdTokenAsync(tokens, pending)
            assertEq(claims.sub(), client.userinfoAsync(tokens, claims).sub())
        }
    }

    t.check("interop oidc: private_key_jwt (jwt-client): code flow with an ES256 ID token, client credentials, introspection") {
        val counting = JwksCounting(jdk)
        val client = Client(oidc(), "jwt-client", redirectUri = CALLBACK, transport = counting, signingKey = jwtClientKey(repo))
        assertEq(ClientAuthMethod.PRIVATE_KEY_JWT, client.authMethod(), "discovery lists private_key_jwt, the client has a key")
        assertTrue(!client.toString().contains("\"d\"")) { "$client" }
        val (pending, tokens) = login(client)
        val claims = client.validateIdToken(tokens, pending)
        assertEq(JwsAlgorithm.ES256, claims.algorithm())
        assertEq(listOf("jwt-client"), claims.audiences())
        // Two assertions in a row, both accepted: oidc-provider refuses a replayed jti.
        repeat(2) {
            val request = client.clientCredentialsRequest()
            assertTrue(request.header("authorization") == null) { "no Basic header with private_key_jwt" }
            assertTrue(!request.toString().contains(String(request.body()).substringAfter("client_assertion=").take(40))) { "the assertion shows: $request" }
            val cc = client.clientCredentials()
            val intro = client.introspect(cc.accessToken(), TokenTypeHint.ACCESS_TOKEN)
            assertTrue(intro.active) { "the token is active" }
            assertEq("jwt-client", intro.clientId)
        }
        assertEq(1, counting.jwks.get(), "one JWKS fetch for the client")
    }

    t.check("interop oidc: client_secret_jwt (secret-jwt-client): code flow with an EdDSA ID token, client credentials") {
        val client = Client(oidc(), "secret-jwt-client", SECRET_JWT_SECRET, CALLBACK, ClientAuthMethod.SECRET_JWT, jdk)
        val (pending, tokens) = login(client)
        assertEq(JwsAlgorithm.ED_DSA, client.validateIdToken(tokens, pending).algorithm())
        repeat(2) { assertTrue(client.clientCredentials().accessToken().isNotEmpty()) }
        val short = Client(oidc(), "secret-jwt-client", "short", CALLBACK, ClientAuthMethod.SECRET_JWT, jdk)
        assertThrows<GrantlineException.InvalidKey> { short.clientCredentials() }
    }

    t.check("interop oidc: a key rotation mid-session validates after exactly one JWKS refetch") {
        val counting = JwksCounting(jdk)
        // A 1 s refetch interval so the test need not wait a minute; the rule is the core's.
        val client = confidential(oidc(), counting).withJwksMinRefetch(1)
        val (p1, t1) = login(client)
        val first = client.validateIdToken(t1, p1)
        assertEq(1, counting.jwks.get(), "the first validation fetches the keys")
        val oldKid = headerOf(t1.idToken()!!)["kid"]
        val rotated = jdk.send(HttpRequest("POST", "$oidcUrl/admin/rotate-keys", listOf(), ByteArray(0)))
        assertEq(200, rotated.status, "rotate-keys")
        Thread.sleep(1100)
        val (p2, t2) = login(client)
        val newKid = headerOf(t2.idToken()!!)["kid"]
        assertTrue(oldKid != newKid) { "the new token names the new key ($oldKid, $newKid)" }
        val second = client.validateIdToken(t2, p2)
        assertEq(2, counting.jwks.get(), "exactly one refetch for the new kid")
        assertEq(first.sub(), second.sub())
        client.validateIdToken(t1, p1)
        assertEq(2, counting.jwks.get(), "the old key still verifies from the cache")
    }

    t.check("interop oidc: resource indicator gives a JWT access token (RFC 9068)") {
        val client = confidential(oidc())
        val tokens = client.grant(GrantRequest.clientCredentials(listOf("api:read")).param("resource", JWT_API))
        val jwt = tokens.accessToken()
        assertEq(3, jwt.split('.').size, "a JWT access token")
        assertEq("at+jwt", headerOf(jwt)["typ"])
        val keys = JwkSet.fromJson(String(jdk.send(HttpRequest("GET", oidc().jwksUri()!!, listOf(), ByteArray(0))).body))
        val verified = keys.verify(jwt, JwsAlgorithm.values().filter { it != JwsAlgorithm.HS256 })
        assertContains(verified.claimsJson(), "\"aud\":\"$JWT_API\"")
        // The same through the standard calls' params, blocking and suspending.
        for (viaParams in listOf(
            client.clientCredentials(listOf("api:read"), listOf(Param("resource", JWT_API))),
            kotlinx.coroutines.runBlocking { client.clientCredentialsAsync(listOf("api:read"), listOf(Param("resource", JWT_API))) },
        )) {
            assertEq("at+jwt", headerOf(viaParams.accessToken())["typ"])
        }
    }

    t.check("interop oidc: token exchange with two resource and two audience values") {
        for (client in listOf(confidential(oidc()), Client(oidc(), "jwt-client", transport = jdk, signingKey = jwtClientKey(repo)))) {
            val subject = client.grant(GrantRequest.clientCredentials(listOf("api:read")).param("resource", API))
            val exchange = TokenExchange(
                subjectToken = subject.accessToken(), subjectTokenType = tokenTypeAccessToken(),
                resource = listOf(API, JWT_API), audience = listOf("billing", "reports"),
                requestedTokenType = tokenTypeAccessToken(),
            )
            assertTrue(!exchange.toString().contains(subject.accessToken())) { "the subject token shows: $exchange" }
            val answer = client.tokenExchange(exchange)
            assertEq(tokenTypeAccessToken(), answer.issuedTokenType())
            @Suppress("UNCHECKED_CAST")
            val echo = (Json.parse(answer.extraJson()) as Map<String, Any?>)["exchanged"] as Map<String, Any?>
            assertEq(listOf(API, JWT_API), echo["resource"])
            assertEq(listOf("billing", "reports"), echo["audience"])
        }
    }
}
