// The issue-11 vector kinds (tests/vectors/README.md: jws_verify, jwk_set, jws_sign, the OpenID
// Connect kinds) and JWT client assertions (`expect_assertion`), through the Kotlin API, as the
// Rust reference runner (core/tests/vectors.rs) interprets them.
package grantline.test

import grantline.*
import java.util.Base64

private fun algorithms(f: Fields, key: String): List<JwsAlgorithm> = f.strings(key).map(::algorithm)

private fun repeated(spec: Any?, what: String): String {
    val r = Fields(spec, what, listOf("prefix", "text", "count", "suffix"))
    val count = r.u64("count")
    if (count > 50_000_000) throw VectorError("$what: count too large for this runner")
    return (r.optStr("prefix") ?: "") + r.str("text").repeat(count.toInt()) + (r.optStr("suffix") ?: "")
}

@Suppress("UNCHECKED_CAST")
private fun jsonObject(text: String, what: String): Map<String, Any?> =
    Json.parse(text) as? Map<String, Any?> ?: throw VectorError("$what is not a JSON object")

/**
 * `expect_assertion`: the request with its `client_assertion` replaced by `ASSERTION`, and the
 * assertion's header and claims (without `jti`, which must be a non-empty string), its signature
 * verified with the client's key (`private_key_jwt`) or its secret as an HS256 key.
 */
@Suppress("UNCHECKED_CAST")
internal fun clientAssertion(c: Client, clientSpec: Any?, request: Map<String, Any?>): Pair<Map<String, Any?>, Map<String, Any?>> {
    val body = request["body"] as String
    val token = if (body.startsWith("{")) {
        jsonObject(body, "the request body")["client_assertion"] as? String
    } else {
        body.split('&').map { it.split('=', limit = 2) }.filter { it[0] == "client_assertion" }
            .singleOrNull()?.getOrNull(1)
    } ?: throw VectorError("expect_assertion: no client_assertion in the body")
    if (token.isEmpty() || body.split(token).size != 2) throw VectorError("expect_assertion: the assertion does not occur exactly once")
    val replaced = LinkedHashMap(request)
    replaced["body"] = body.replace(token, "ASSERTION")
    val key = when (c.authMethod()) {
        ClientAuthMethod.PRIVATE_KEY_JWT ->
            Jwk.fromJson(c.signingKey()?.publicJwk() ?: throw VectorError("expect_assertion: private_key_jwt without a public key"))
        ClientAuthMethod.SECRET_JWT -> {
            val secret = (clientSpec as Map<String, Any?>)["client_secret"] as? String
                ?: throw VectorError("expect_assertion: client_secret_jwt without a secret")
            val k = Base64.getUrlEncoder().withoutPadding().encodeToString(secret.toByteArray(Charsets.UTF_8))
            Jwk.fromJson(Json.write(mapOf("kty" to "oct", "k" to k)))
        }
        else -> throw VectorError("expect_assertion: the client does not authenticate with a JWT (${c.authMethod()})")
    }
    val verified = key.verify(token, JwsAlgorithm.values().toList())
    val claims = LinkedHashMap(jsonObject(verified.claimsJson(), "the assertion's claims"))
    val jti = claims.remove("jti")
    if (jti !is String || jti.isEmpty()) throw VectorError("expect_assertion: jti is missing or not a non-empty string")
    return Pair(replaced, mapOf("header" to jsonObject(verified.headerJson(), "the assertion's header"), "claims" to claims))
}

private fun jwsJson(v: VerifiedJws): Map<String, Any?> =
    linkedMapOf("alg" to jwsAlgorithmName(v.algorithm()), "kid" to v.kid(), "payload" to utf8(v.payload(), "the payload"))

internal fun runJwsVerify(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("keys", "key", "token", "token_repeat", "algorithms", "expect_jws", "expect_error"))
    return judge(f, listOf("expect_jws"), listOf(), run {
        if (f.has("keys") == f.has("key")) throw VectorError("exactly one of `keys` and `key`")
        if (f.has("token") == f.has("token_repeat")) throw VectorError("exactly one of `token` and `token_repeat`")
        val token = if (f.has("token")) f.str("token") else repeated(f.value("token_repeat"), "token_repeat")
        val accepted = algorithms(f, "algorithms")
        val verified = if (f.has("keys")) JwkSet.fromJson(f.str("keys")).verify(token, accepted)
            else Jwk.fromJson(f.str("key")).verify(token, accepted)
        mapOf("expect_jws" to jwsJson(verified))
    })
}

internal fun runJwkSet(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("keys", "expect_keys", "expect_skipped", "expect_error"))
    return judge(f, listOf("expect_keys", "expect_skipped"), listOf(), run {
        val set = JwkSet.fromJson(f.str("keys"))
        mapOf(
            "expect_keys" to set.keys().map { linkedMapOf("kty" to it.kty, "crv" to it.crv, "kid" to it.kid, "alg" to it.alg, "use" to it.keyUse) },
            "expect_skipped" to big(set.skipped()),
        )
    })
}

internal fun runJwsSign(v: Any?): String? {
    val f = Fields(v, "vector", withCommon(
        "signing_key", "signing_key_pem", "algorithm", "kid", "header", "payload",
        "expect_token", "expect_verified_by", "expect_header", "expect_error",
    ))
    val randomized = f.has("expect_verified_by")
    val required = if (randomized) listOf("expect_verified_by", "expect_header") else listOf("expect_token")
    val optional = if (randomized) listOf() else listOf("expect_verified_by", "expect_header")
    return judge(f, required, optional, run {
        if (f.has("signing_key") == f.has("signing_key_pem")) throw VectorError("exactly one of `signing_key` and `signing_key_pem`")
        var key = if (f.has("signing_key")) SigningKey.fromJwk(f.str("signing_key")) else SigningKey.fromPkcs8Pem(f.str("signing_key_pem"))
        f.optStr("algorithm")?.let { key = key.withAlgorithm(algorithm(it)) }
        f.optStr("kid")?.let { key = key.withKid(it) }
        val header = f.value("header") as? Map<*, *> ?: throw VectorError("`header` is not an object")
        val token = key.signPayload(f.str("payload").toByteArray(Charsets.UTF_8), Json.write(header))
        if (randomized) {
            val verified = Jwk.fromJson(f.str("expect_verified_by")).verify(token, JwsAlgorithm.values().toList())
            if (utf8(verified.payload(), "the payload") != f.str("payload")) throw VectorError("the verified payload differs")
            mapOf("expect_verified_by" to f.str("expect_verified_by"), "expect_header" to jsonObject(verified.headerJson(), "the header"))
        } else {
            mapOf("expect_token" to token)
        }
    })
}

// ------------------------------------------------------------------ OpenID Connect

private fun pending(spec: Any?): PendingAuthorization {
    Fields(spec, "pending", listOf("state", "code_verifier", "redirect_uri", "issuer", "require_iss", "nonce", "max_age"))
    return PendingAuthorization.fromJson(Json.write(spec))
}

private fun adjust(check: IdTokenCheck, spec: Any?): IdTokenCheck {
    if (spec == null) return check
    val f = Fields(spec, "check", listOf("leeway", "algorithms", "access_token", "code"))
    var c = check
    if (f.has("leeway")) c = c.withLeeway(f.u64("leeway"))
    if (f.has("algorithms")) c = c.withAlgorithms(algorithms(f, "algorithms"))
    f.optStr("access_token")?.let { c = c.withAccessToken(it) }
    f.optStr("code")?.let { c = c.withCode(it) }
    return c
}

internal fun claimsJson(c: IdTokenClaims): Map<String, Any?> = linkedMapOf(
    "sub" to c.sub(), "iss" to c.issuer(), "aud" to c.audiences(), "azp" to c.azp(), "nonce" to c.nonce(),
    "auth_time" to big(c.authTime()), "acr" to c.acr(), "amr" to c.amr(),
    "exp" to big(c.expiresAt()), "iat" to big(c.issuedAt()), "claim_names" to c.claimNames().sortedWith(::byteOrder),
)

internal fun runIdToken(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "pending", "check", "jwks", "token", "now", "expect_claims", "expect_error"))
    return judge(f, listOf("expect_claims"), listOf(), run {
        val c = providerAndClient(f)
        val check = adjust(c.idTokenCheck(pending(f.value("pending"))), f.get("check"))
        val verified = JwkSet.fromJson(f.str("jwks")).verify(f.str("token"), check.acceptedAlgorithms())
        mapOf("expect_claims" to claimsJson(check.validate(verified, f.u64("now"))))
    })
}

internal fun runIdTokenRefresh(v: Any?): String? {
    val f = Fields(v, "vector", withCommon(
        "provider", "client", "pending", "check", "jwks", "previous_token", "previous_now", "token", "now",
        "expect_claims", "expect_error",
    ))
    return judge(f, listOf("expect_claims"), listOf(), run {
        val c = providerAndClient(f)
        val keys = JwkSet.fromJson(f.str("jwks"))
        val first = c.idTokenCheck(pending(f.value("pending")))
        val previous = first.validate(keys.verify(f.str("previous_token"), first.acceptedAlgorithms()), f.u64("previous_now"))
        val check = adjust(c.refreshIdTokenCheck(), f.get("check"))
        val verified = keys.verify(f.str("token"), check.acceptedAlgorithms())
        mapOf("expect_claims" to claimsJson(check.validateRefreshed(verified, previous, f.u64("now"))))
    })
}

internal fun runUserinfoRequest(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "access_token", "expect_request", "expect_error"))
    return judge(f, listOf("expect_request"), listOf(), run {
        mapOf("expect_request" to requestJson(providerAndClient(f).userinfoRequest(f.str("access_token"))))
    })
}

internal fun runUserinfoResponse(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("response", "expected_sub", "signed", "expect_userinfo", "expect_error"))
    return judge(f, listOf("expect_userinfo"), listOf(), run {
        val sub = f.str("expected_sub")
        val (signed, info) = when (val answer = parseUserinfoResponse(response(f.value("response")), sub)) {
            is UserInfoAnswer.Claims -> Pair(false, answer.info)
            is UserInfoAnswer.Signed -> {
                val s = Fields(f.value("signed"), "signed", listOf("jwks", "algorithms", "issuer", "client_id"))
                val verified = JwkSet.fromJson(s.str("jwks")).verify(answer.jws, algorithms(s, "algorithms"))
                Pair(true, UserInfo.fromVerified(verified, sub, s.str("issuer"), s.str("client_id")))
            }
        }
        mapOf("expect_userinfo" to linkedMapOf("signed" to signed, "sub" to info.sub(), "claim_names" to info.claimNames().sortedWith(::byteOrder)))
    })
}

internal fun runEndSessionUrl(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "request", "expect_url", "expect_error"))
    return judge(f, listOf("expect_url"), listOf(), run {
        val r = Fields(f.value("request"), "request", listOf("id_token_hint", "logout_hint", "post_logout_redirect_uri", "state", "ui_locales", "params"))
        val request = EndSessionRequest(
            idTokenHint = r.optStr("id_token_hint"),
            logoutHint = r.optStr("logout_hint"),
            postLogoutRedirectUri = r.optStr("post_logout_redirect_uri"),
            state = r.optStr("state"),
            uiLocales = r.optStr("ui_locales"),
            params = r.pairs("params").map { Param(it.first, it.second) },
        )
        mapOf("expect_url" to providerAndClient(f).endSessionUrl(request))
    })
}

internal fun runProviderOidc(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "expect_oidc", "expect_error"))
    return judge(f, listOf("expect_oidc"), listOf(), run {
        val p = provider(f.value("provider"))
        mapOf("expect_oidc" to linkedMapOf(
            "jwks_uri" to p.jwksUri(), "userinfo_endpoint" to p.userinfoEndpoint(),
            "end_session_endpoint" to p.endSessionEndpoint(),
            "id_token_algorithms" to p.idTokenAlgorithms().map(::jwsAlgorithmName),
        ))
    })
}

/** One step of a `jwks_cache` vector: its expectation or error compared; the failure, or null. */
private fun jwksStep(cache: JwksCache, step: Any?, i: Int): String? {
    val op = (step as? Map<*, *>)?.get("op") as? String ?: throw VectorError("step $i: missing `op`")
    val f = when (op) {
        "verify" -> Fields(step, "step $i", listOf("op", "token", "algorithms", "now", "expect", "expect_error"))
        "receive" -> Fields(step, "step $i", listOf("op", "response", "now", "expect", "expect_error"))
        "request" -> Fields(step, "step $i", listOf("op", "expect_request"))
        else -> throw VectorError("step $i: unknown op \"$op\"")
    }
    val actual = run {
        when (op) {
            "verify" -> when (val s = cache.verify(f.str("token"), algorithms(f, "algorithms"), f.u64("now"))) {
                is JwksStep.Fetch -> mapOf("expect" to "fetch")
                is JwksStep.Verified -> mapOf("expect" to mapOf("verified" to linkedMapOf(
                    "alg" to jwsAlgorithmName(s.jws.algorithm()), "kid" to s.jws.kid(),
                )))
            }
            "receive" -> { cache.receive(response(f.value("response")), f.u64("now")); mapOf("expect" to "ok") }
            else -> mapOf("expect_request" to requestJson(cache.request()))
        }
    }
    val expectation = if (op == "request") "expect_request" else "expect"
    return judge(f, listOf(expectation), listOf(), actual)?.let { "step $i ($op): $it" }
}

internal fun runJwksCache(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("jwks_uri", "min_refetch", "max_age", "keys", "steps"))
    val cache = try {
        val keys = f.get("keys")?.let { Fields(it, "keys", listOf("jwks", "fetched_at")) }
        JwksCache(
            f.str("jwks_uri"),
            if (f.has("min_refetch")) f.u64("min_refetch") else null,
            if (f.has("max_age")) f.u64("max_age") else null,
            keys?.let { JwkSet.fromJson(it.str("jwks")) },
            keys?.u64("fetched_at") ?: 0L,
        )
    } catch (e: GrantlineException) {
        return "the cache could not be built: ${e.message}"
    }
    val steps = f.value("steps") as? List<*> ?: throw VectorError("`steps` is not a list")
    if (steps.isEmpty()) throw VectorError("no steps")
    steps.forEachIndexed { i, step -> jwksStep(cache, step, i)?.let { return it } }
    return null
}
