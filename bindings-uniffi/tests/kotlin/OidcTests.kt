// The issue-11 surface in Kotlin's idiom, with hostile inputs: keys that do not load, a 10 MB
// token, wrong JSON types, refused parameters, and secrets never in toString.
package grantline.test

import grantline.*

private const val ED_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
private const val ED_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
private const val ED_JWK = """{"kty":"OKP","crv":"Ed25519","kid":"k1","d":"$ED_D","x":"$ED_X"}"""

private fun op(): Provider = ProviderBuilder("op").issuer("https://op.example")
    .authorizationEndpoint("https://op.example/authorize").tokenEndpoint("https://op.example/token")
    .jwksUri("https://op.example/jwks").userinfoEndpoint("https://op.example/me")
    .endSessionEndpoint("https://op.example/logout").idTokenAlgorithms(listOf(JwsAlgorithm.ED_DSA))
    .grant(GrantType.AUTHORIZATION_CODE).grant(GrantType.CLIENT_CREDENTIALS).build()

fun oidcUnitTests(t: Tests) {
    t.check("oidc api: a signing key signs, verifies through a JWK Set, and never prints its key") {
        val key = SigningKey.fromJwk(ED_JWK)
        assertEq(JwsAlgorithm.ED_DSA, key.algorithm())
        assertEq("k1", key.kid())
        assertTrue(!key.toString().contains(ED_D)) { "$key" }
        assertTrue(!key.publicJwk()!!.contains(ED_D))
        val token = key.sign("""{"sub":"alice","n":1}""", """{"typ":"JWT"}""")
        val set = JwkSet.fromJson("""{"keys":[${key.publicJwk()}]}""")
        assertEq(listOf(JwkInfo("OKP", "Ed25519", "k1", "EdDSA", "sig")), set.keys())
        val verified = set.verify(token, listOf(JwsAlgorithm.ED_DSA))
        assertEq("k1", verified.kid())
        assertContains(verified.headerJson(), "\"typ\":\"JWT\"")
        assertContains(verified.claimsJson(), "\"sub\":\"alice\"")
        assertTrue(!verified.toString().contains("alice")) { "$verified" }
        assertEq("EdDSA", jwsAlgorithmName(JwsAlgorithm.ED_DSA))
        assertEq(null, jwsAlgorithmFromName("none"))
        assertEq(JwsAlgorithm.ED_DSA, key.withAlgorithm(JwsAlgorithm.ED_DSA).algorithm())
        assertEq("k2", key.withKid("k2").kid())
    }

    t.check("oidc api: hostile keys, tokens and JSON are typed errors") {
        for (bad in listOf("", "{", "[]", """{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}""", """{"kty":"OKP","crv":"Ed25519","x":"$ED_X"}""")) {
            val e = assertThrows<GrantlineException.InvalidKey> { SigningKey.fromJwk(bad) }
            assertTrue(!e.toString().contains(ED_X)) { "$e" }
        }
        assertThrows<GrantlineException.InvalidKey> { SigningKey.fromPkcs8Pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----") }
        assertThrows<GrantlineException.InvalidKey> { JwkSet.fromJson("""{"keys":"no"}""") }
        assertThrows<GrantlineException.InvalidKey> { SigningKey.fromJwk(ED_JWK).withAlgorithm(JwsAlgorithm.RS256) }
        val key = SigningKey.fromJwk(ED_JWK)
        for (claims in listOf("[1]", "\"s\"", "1", "{")) {
            val e = assertThrows<GrantlineException.Configuration> { key.sign(claims) }
            assertEq("invalid_input", e.kind)
        }
        assertThrows<GrantlineException.Configuration> { key.sign("{}", """{"alg":"none"}""") }
        val set = JwkSet.fromJson("""{"keys":[${key.publicJwk()}]}""")
        val huge = "a".repeat(10 * 1024 * 1024)
        assertEq("too_large", assertThrows<GrantlineException.Jws> { set.verify(huge, listOf(JwsAlgorithm.ED_DSA)) }.problem)
        assertEq("malformed", assertThrows<GrantlineException.Jws> { set.verify("a.b", listOf(JwsAlgorithm.ED_DSA)) }.problem)
        val token = key.sign("{}")
        assertEq("algorithm_not_accepted", assertThrows<GrantlineException.Jws> { set.verify(token, listOf(JwsAlgorithm.RS256)) }.problem)
        val other = SigningKey.fromJwk(ED_JWK).withKid("other").sign("{}")
        assertEq("no_matching_key", assertThrows<GrantlineException.Jws> { set.verify(other, listOf(JwsAlgorithm.ED_DSA)) }.problem)
        assertThrows<GrantlineException.Configuration> { JwksCache("http://op.example/jwks") }
    }

    t.check("oidc api: the sans-IO OpenID Connect pieces, and nothing secret in toString") {
        val key = SigningKey.fromJwk(ED_JWK)
        val client = Client(op(), "app", redirectUri = "https://app.example/cb")
        val request = AuthorizationRequest(scopes = listOf("openid"), nonce = "n-secret-123", maxAge = 300)
        assertTrue(!request.toString().contains("n-secret-123")) { "$request" }
        val auth = client.authorizationUrl(request)
        assertContains(auth.url(), "nonce=n-secret-123")
        assertContains(auth.url(), "max_age=300")
        val pending = auth.pending()
        assertEq("n-secret-123", pending.nonce())
        assertEq(300L, pending.maxAge())
        assertTrue(!pending.toString().contains("n-secret-123")) { "$pending" }
        // 64 bytes (the seed's length before nonces): an openid request without a nonce of its
        // own gets none, as before (the core's choice); 96 bytes draw it from bytes 64..96.
        assertEq(null, client.authorizationUrlWithSeed(AuthorizationRequest(scopes = listOf("openid")), ByteArray(64)).pending().nonce())
        assertTrue(client.authorizationUrlWithSeed(AuthorizationRequest(scopes = listOf("openid")), ByteArray(96)).pending().nonce() != null)
        assertThrows<GrantlineException.Configuration> { client.authorizationUrlWithSeed(AuthorizationRequest(), ByteArray(10)) }

        val now = System.currentTimeMillis() / 1000
        val idToken = key.sign("""{"iss":"https://op.example","sub":"alice","aud":"app","exp":${now + 600},"iat":$now,"auth_time":$now,"nonce":"n-secret-123"}""")
        val check = client.idTokenCheck(pending)
        assertEq(listOf(JwsAlgorithm.ED_DSA), check.acceptedAlgorithms())
        assertTrue(!check.toString().contains("n-secret-123")) { "$check" }
        val cache = JwksCache(op().jwksUri()!!)
        assertTrue(cache.verify(idToken, check.acceptedAlgorithms(), now) is JwksStep.Fetch)
        assertEq("https://op.example/jwks", cache.request().url())
        cache.receive(HttpResponse(200, listOf(), """{"keys":[${key.publicJwk()}]}""".toByteArray()), now)
        val verified = (cache.verify(idToken, check.acceptedAlgorithms(), now) as JwksStep.Verified).jws
        val claims = check.validate(verified, now)
        assertEq("alice", claims.sub())
        assertTrue(!claims.toString().contains("n-secret-123")) { "$claims" }
        val e = assertThrows<GrantlineException.IdToken> { check.withLeeway(0).validate(verified, now + 3600) }
        assertEq("exp", e.claim)
        assertTrue(!e.toString().contains(idToken))
        assertEq("nonce", assertThrows<GrantlineException.IdToken> { check.withNonce("other").validate(verified, now) }.claim)
        // The claims kept across requests (toJson/fromJson) serve the refresh check (§12.2).
        val restored = IdTokenClaims.fromJson(claims.toJson())
        assertEq(listOf("app"), restored.audiences())
        val refreshed = key.sign("""{"iss":"https://op.example","sub":"alice","aud":"app","exp":${now + 600},"iat":${now + 1},"auth_time":$now}""")
        val later = (cache.verify(refreshed, check.acceptedAlgorithms(), now) as JwksStep.Verified).jws
        assertEq("alice", client.refreshIdTokenCheck().validateRefreshed(later, restored, now + 1).sub())
        val someoneElse = key.sign("""{"iss":"https://op.example","sub":"mallory","aud":"app","exp":${now + 600},"iat":${now + 1}}""")
        val forged = (cache.verify(someoneElse, check.acceptedAlgorithms(), now) as JwksStep.Verified).jws
        assertEq("sub", assertThrows<GrantlineException.IdToken> { client.refreshIdTokenCheck().validateRefreshed(forged, restored, now + 1) }.claim)
        assertEq("invalid_input", assertThrows<GrantlineException.Configuration> { IdTokenClaims.fromJson("""{"alg":"EdDSA","claims":"n-secret-123"}""") }.kind)

        val userinfo = client.userinfoRequest("at-secret-1")
        assertEq("GET", userinfo.method())
        assertTrue(!userinfo.toString().contains("at-secret-1")) { "$userinfo" }
        val answer = parseUserinfoResponse(HttpResponse(200, listOf(Header("content-type", "application/json")), """{"sub":"alice","email":"a@x"}""".toByteArray()), "alice")
        assertEq("alice", (answer as UserInfoAnswer.Claims).info.sub())
        assertEq("sub", assertThrows<GrantlineException.IdToken> {
            parseUserinfoResponse(HttpResponse(200, listOf(), """{"sub":"mallory"}""".toByteArray()), "alice")
        }.claim)

        val logout = EndSessionRequest(idTokenHint = idToken, state = "st-secret", params = listOf(Param("x", "1"), Param("x", "2")))
        assertTrue(!logout.toString().contains(idToken) && !logout.toString().contains("st-secret")) { "$logout" }
        val url = client.endSessionUrl(logout)
        assertContains(url, "client_id=app")
        assertContains(url, "x=1&x=2")
        assertEq("invalid_input", assertThrows<GrantlineException.Configuration> { client.endSessionUrl(EndSessionRequest(params = listOf(Param("client_id", "evil")))) }.kind)
    }

    t.check("oidc api: generic grants, repeated parameters, refused names, and JWT client authentication") {
        val key = SigningKey.fromJwk(ED_JWK)
        val client = Client(op(), "app", signingKey = key, authMethod = ClientAuthMethod.PRIVATE_KEY_JWT)
        assertEq(ClientAuthMethod.PRIVATE_KEY_JWT, client.authMethod())
        assertTrue(!client.toString().contains(ED_D)) { "$client" }
        val request = GrantRequest("urn:example:grant").scopes(listOf("a", "b"))
            .params(listOf(Param("resource", "https://a"), Param("resource", "https://b")))
        assertEq(listOf("resource", "resource"), request.paramNames().filter { it == "resource" })
        val http = client.grantRequest(request, 1_700_000_000)
        val body = String(http.body())
        assertContains(body, "resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb")
        assertContains(body, "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer")
        val assertion = body.substringAfter("client_assertion=").substringBefore('&')
        assertTrue(!http.toString().contains(assertion)) { "$http" }
        val verified = Jwk.fromJson(key.publicJwk()!!).verify(assertion, listOf(JwsAlgorithm.ED_DSA))
        assertContains(verified.claimsJson(), "\"iat\":1700000000")
        for (name in listOf("grant_type", "client_id", "client_assertion", "scope", "")) {
            val e = assertThrows<GrantlineException.Configuration> { client.grantRequest(request.param(name, "x")) }
            assertEq("invalid_input", e.kind)
        }
        val exchange = TokenExchange(subjectToken = "st-secret-42", subjectTokenType = tokenTypeAccessToken(), actorToken = "act-secret-7")
        assertTrue(!exchange.toString().contains("st-secret-42") && !exchange.toString().contains("act-secret-7")) { "$exchange" }
        assertEq("invalid_input", assertThrows<GrantlineException.Configuration> { client.grantRequest(GrantRequest.tokenExchange(exchange)) }.kind)
        val ok = client.grantRequest(GrantRequest.tokenExchange(exchange.copy(actorTokenType = tokenTypeAccessToken())))
        assertTrue(!ok.toString().contains("st-secret-42")) { "$ok" }
        val short = Client(op(), "app", "short", authMethod = ClientAuthMethod.SECRET_JWT)
        assertThrows<GrantlineException.InvalidKey> { short.clientCredentialsRequest() }
        assertThrows<GrantlineException.Configuration> { Provider.entra("a/b") }
        assertEq("https://accounts.google.com", Provider.google().issuer())
        assertEq(AssertionAudience.TOKEN_ENDPOINT, Provider.okta("dev-1.okta.com").assertionAudience())
    }
}
