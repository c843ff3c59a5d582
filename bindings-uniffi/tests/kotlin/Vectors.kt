// Runs the shared test vectors (tests/vectors/*.json, format in tests/vectors/README.md)
// through the Kotlin binding's public API, interpreting every kind and field as the Rust
// reference runner (core/tests/vectors.rs) does: unknown kinds and fields are failures, every
// expectation is compared, every failure is listed by name.
package grantline.test

import grantline.*
import java.io.File
import java.math.BigInteger
import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction
import java.util.Base64

/** The vector itself cannot be run as written. */
class VectorError(message: String) : Exception(message)

private const val FORMAT = 1
private val SEED_FILES = listOf("libro.json", "bindeo.json", "bookable.json", "apicbase.json", "booking-experts.json")
private val EXTRA_FILES = listOf("lenient.json", "hostile.json")
private const val MIN_SEED_VECTORS = 37
private const val MIN_EXTRA_VECTORS = 40
private val COMMON = listOf("name", "kind", "source", "note")

internal fun short(v: Any?): String {
    val s = Json.write(v)
    return if (s.length > 300) "${s.take(300)}... (${s.length} characters)" else s
}

internal fun big(v: Long?): BigInteger? = v?.let { BigInteger.valueOf(it) }
internal fun big(v: Int): BigInteger = BigInteger.valueOf(v.toLong())

private val LONG_MAX: BigInteger = BigInteger.valueOf(Long.MAX_VALUE)

/**
 * An expected integer as the Kotlin API reports it: the binding returns `Long`, and a `u64` past
 * `Long.MAX_VALUE` saturates there (bindings-uniffi/src/num.rs; one vector expects an expiry of
 * 2^64-1). Only integers above `Long.MAX_VALUE` change.
 */
private fun asKotlin(expected: Any?): Any? = if (expected is BigInteger && expected > LONG_MAX) LONG_MAX else expected

@Suppress("UNCHECKED_CAST")
class Fields(value: Any?, val what: String, allowed: List<String>) {
    val map: Map<String, Any?> = value as? Map<String, Any?>
        ?: throw VectorError("$what: not a JSON object: ${short(value)}")

    init {
        map.keys.firstOrNull { it !in allowed }?.let { throw VectorError("$what: unknown field `$it`") }
    }

    fun get(key: String): Any? = map[key]
    fun has(key: String) = map.containsKey(key)
    fun value(key: String): Any? = if (has(key)) map[key] else throw VectorError("$what: missing field `$key`")
    fun str(key: String): String = value(key) as? String ?: throw VectorError("$what: `$key` is not a string")
    fun optStr(key: String): String? = when (val v = map[key]) {
        null -> null
        is String -> v
        else -> throw VectorError("$what: `$key` is not a string or null")
    }
    fun nullableStr(key: String): String? { value(key); return optStr(key) }
    /** A non-negative integer input, as the `Long` the Kotlin API takes (one past `Long.MAX_VALUE` fails the vector). */
    fun u64(key: String): Long {
        val v = value(key) as? BigInteger
        if (v == null || v.signum() < 0 || v.bitLength() > 64) throw VectorError("$what: `$key` is not a non-negative integer")
        if (v > LONG_MAX) throw VectorError("$what: `$key` ($v) does not fit the Long the Kotlin API takes")
        return v.toLong()
    }
    fun boolOr(key: String, default: Boolean): Boolean =
        if (!has(key)) default else map[key] as? Boolean ?: throw VectorError("$what: `$key` is not a boolean")
    fun strings(key: String): List<String> {
        if (!has(key)) return emptyList()
        val bad = { VectorError("$what: `$key` is not a list of strings") }
        val l = map[key] as? List<Any?> ?: throw bad()
        return l.map { it as? String ?: throw bad() }
    }
    fun pairs(key: String): List<Pair<String, String>> {
        if (!has(key)) return emptyList()
        val bad = { VectorError("$what: `$key` is not a list of [name, value] pairs") }
        val l = map[key] as? List<Any?> ?: throw bad()
        return l.map { p ->
            val pl = p as? List<Any?> ?: throw bad()
            if (pl.size != 2) throw bad()
            Pair(pl[0] as? String ?: throw bad(), pl[1] as? String ?: throw bad())
        }
    }
}

internal fun withCommon(vararg specific: String) = COMMON + specific.toList()

// ------------------------------------------------------------------ names shared with the bindings

fun grantName(g: GrantType) = g.name.lowercase()
fun grantFromName(name: String): GrantType =
    GrantType.values().firstOrNull { grantName(it) == name } ?: throw VectorError("unknown grant \"$name\"")
fun endpointName(e: Endpoint) = e.name.lowercase()
fun authMethodName(m: ClientAuthMethod) = when (m) {
    ClientAuthMethod.BASIC -> "client_secret_basic"
    ClientAuthMethod.BODY -> "client_secret_post"
    ClientAuthMethod.PUBLIC -> "none"
    ClientAuthMethod.PRIVATE_KEY_JWT -> "private_key_jwt"
    ClientAuthMethod.SECRET_JWT -> "client_secret_jwt"
}
fun authMethodFromName(name: String): ClientAuthMethod? =
    ClientAuthMethod.values().firstOrNull { authMethodName(it) == name }
/** A JWS algorithm by its JOSE name (vectors use the exact names). */
fun algorithm(name: String): JwsAlgorithm =
    jwsAlgorithmFromName(name) ?: throw VectorError("unknown JWS algorithm \"$name\"")
fun assertionAudience(name: String): AssertionAudience = when (name) {
    "issuer" -> AssertionAudience.ISSUER
    "token_endpoint" -> AssertionAudience.TOKEN_ENDPOINT
    else -> throw VectorError("unknown assertion audience \"$name\"")
}
fun assertionAudienceName(a: AssertionAudience) = a.name.lowercase()
private fun hint(v: String?): TokenTypeHint? = when (v) {
    null -> null
    "access_token" -> TokenTypeHint.ACCESS_TOKEN
    "refresh_token" -> TokenTypeHint.REFRESH_TOKEN
    else -> throw VectorError("unknown token_type_hint \"$v\"")
}

// ------------------------------------------------------------------ inputs

internal fun provider(spec: Any?): Provider {
    val presetFields = listOf("audience", "tenant", "domain", "authorization_server", "base_url", "realm")
    val f = Fields(spec, "provider", listOf("preset", "custom", "metadata") + presetFields)
    val given = presetFields.filter { f.has(it) }
    fun only(name: String, vararg allowed: String) {
        given.firstOrNull { it !in allowed }?.let { throw VectorError("provider: `$it` is not a field of the $name preset") }
    }
    return when {
        f.has("preset") && !f.has("custom") && !f.has("metadata") -> {
            when (val name = f.str("preset")) {
                "entra" -> { only(name, "tenant"); Provider.entra(f.str("tenant")) }
                "okta" -> { only(name, "domain", "authorization_server"); Provider.okta(f.str("domain"), f.optStr("authorization_server")) }
                "auth0" -> { only(name, "domain", "audience"); Provider.auth0(f.str("domain"), f.optStr("audience")) }
                "keycloak" -> { only(name, "base_url", "realm"); Provider.keycloak(f.str("base_url"), f.str("realm")) }
                "bookable" -> {
                    only(name, "audience")
                    f.optStr("audience")?.let { Provider.bookableWithAudience(it) } ?: Provider.bookable()
                }
                else -> {
                    only(name)
                    try {
                        Provider.preset(name)
                    } catch (e: GrantlineException.Configuration) {
                        throw VectorError("provider: unknown preset \"$name\"")
                    }
                }
            }
        }
        given.isNotEmpty() -> throw VectorError("provider: ${given.first()} goes with a preset")
        !f.has("preset") && f.has("custom") && !f.has("metadata") -> customProvider(f.get("custom"))
        !f.has("preset") && !f.has("custom") && f.has("metadata") -> {
            val doc = f.get("metadata") as? String ?: throw VectorError("provider: `metadata` is not a string")
            Provider.fromMetadata(doc.toByteArray(Charsets.UTF_8))
        }
        else -> throw VectorError("provider: exactly one of `preset`, `custom`, `metadata`")
    }
}

@Suppress("UNCHECKED_CAST")
private fun customProvider(spec: Any?): Provider {
    val f = Fields(spec, "provider.custom", listOf(
        "name", "issuer", "authorization_endpoint", "token_endpoint", "token_endpoints_by_grant",
        "introspection_endpoint", "revocation_endpoint", "device_authorization_endpoint", "body_encoding",
        "auth_method", "scope_separator", "extra_token_params", "default_skew", "grants",
        "unsolicited_callbacks", "iss_parameter_supported", "jwks_uri", "userinfo_endpoint",
        "end_session_endpoint", "id_token_algorithms", "assertion_audience"))
    var b = ProviderBuilder(f.optStr("name") ?: "custom")
    f.optStr("issuer")?.let { b = b.issuer(it) }
    f.optStr("authorization_endpoint")?.let { b = b.authorizationEndpoint(it) }
    f.optStr("token_endpoint")?.let { b = b.tokenEndpoint(it) }
    if (f.has("token_endpoints_by_grant")) {
        val byGrant = f.get("token_endpoints_by_grant") as? Map<String, Any?>
            ?: throw VectorError("provider.custom: `token_endpoints_by_grant` is not an object")
        for ((grant, url) in byGrant) {
            val u = url as? String ?: throw VectorError("provider.custom: token endpoint for $grant is not a string")
            b = b.tokenEndpointFor(grantFromName(grant), u)
        }
    }
    f.optStr("introspection_endpoint")?.let { b = b.introspectionEndpoint(it) }
    f.optStr("revocation_endpoint")?.let { b = b.revocationEndpoint(it) }
    f.optStr("device_authorization_endpoint")?.let { b = b.deviceAuthorizationEndpoint(it) }
    b = b.bodyEncoding(when (val e = f.optStr("body_encoding") ?: "form") {
        "form" -> BodyEncoding.FORM
        "json" -> BodyEncoding.JSON
        else -> throw VectorError("provider.custom: unknown body_encoding \"$e\"")
    })
    f.optStr("auth_method")?.let {
        b = b.authMethod(authMethodFromName(it) ?: throw VectorError("provider.custom: unknown auth_method \"$it\""))
    }
    f.optStr("scope_separator")?.let { b = b.scopeSeparator(it) }
    for ((k, v) in f.pairs("extra_token_params")) b = b.extraTokenParam(k, v)
    if (f.has("default_skew")) b = b.defaultSkew(f.u64("default_skew"))
    for (g in f.strings("grants")) b = b.grant(grantFromName(g))
    f.optStr("jwks_uri")?.let { b = b.jwksUri(it) }
    f.optStr("userinfo_endpoint")?.let { b = b.userinfoEndpoint(it) }
    f.optStr("end_session_endpoint")?.let { b = b.endSessionEndpoint(it) }
    if (f.has("id_token_algorithms")) b = b.idTokenAlgorithms(f.strings("id_token_algorithms").map(::algorithm))
    f.optStr("assertion_audience")?.let { b = b.assertionAudience(assertionAudience(it)) }
    b = b.unsolicitedCallbacks(f.boolOr("unsolicited_callbacks", false))
        .issParameterSupported(f.boolOr("iss_parameter_supported", false))
    return b.build()
}

internal fun client(provider: Provider, spec: Any?): Client {
    val f = Fields(spec, "client", listOf("client_id", "client_secret", "redirect_uri", "auth_method", "signing_key"))
    val method = f.optStr("auth_method")?.let {
        authMethodFromName(it) ?: throw VectorError("client: unknown auth_method \"$it\"")
    }
    val key = f.optStr("signing_key")?.let { SigningKey.fromJwk(it) }
    return Client(provider, f.str("client_id"), f.optStr("client_secret"), f.optStr("redirect_uri"), method, signingKey = key)
}

internal fun providerAndClient(f: Fields): Client = client(provider(f.value("provider")), f.value("client"))

@Suppress("UNCHECKED_CAST")
fun response(spec: Any?): HttpResponse {
    val f = Fields(spec, "response", listOf("status", "headers", "body", "body_base64", "body_repeat"))
    val status = f.u64("status")
    if (status > 65535) throw VectorError("response: bad status")
    val headers = ArrayList<Header>()
    if (f.has("headers")) {
        val hs = f.get("headers") as? Map<String, Any?> ?: throw VectorError("response: `headers` is not an object")
        for ((name, value) in hs) {
            if (name != name.lowercase()) throw VectorError("response: header name \"$name\" is not lowercase")
            val values = when (value) {
                is String -> listOf(value)
                is List<*> -> value.map { it as? String ?: throw VectorError("response: header $name") }
                else -> throw VectorError("response: header $name is not a string or list")
            }
            for (v in values) headers.add(Header(name, v))
        }
    }
    val bodies = listOf("body", "body_base64", "body_repeat").count { f.has(it) }
    if (bodies != 1) throw VectorError("response: exactly one of `body`, `body_base64`, `body_repeat`")
    val body = when {
        f.has("body") -> f.str("body").toByteArray(Charsets.UTF_8)
        f.has("body_base64") -> try {
            Base64.getDecoder().decode(f.str("body_base64"))
        } catch (e: IllegalArgumentException) {
            throw VectorError("response: body_base64: ${e.message}")
        }
        else -> {
            val r = Fields(f.value("body_repeat"), "response.body_repeat", listOf("prefix", "text", "count", "suffix"))
            val count = r.u64("count").toInt()
            ((r.optStr("prefix") ?: "") + r.str("text").repeat(count) + (r.optStr("suffix") ?: "")).toByteArray(Charsets.UTF_8)
        }
    }
    return HttpResponse(status.toInt(), headers, body)
}

internal fun seed(hex: String): ByteArray {
    if (hex.length != 128 && hex.length != 192) throw VectorError("seed_hex has ${hex.length} hex digits, not 128 or 192")
    return ByteArray(hex.length / 2) { i ->
        val hi = Character.digit(hex[2 * i], 16)
        val lo = Character.digit(hex[2 * i + 1], 16)
        if (hi < 0 || lo < 0) throw VectorError("seed_hex: not a hex digit")
        (hi * 16 + lo).toByte()
    }
}

// ------------------------------------------------------------------ outputs as JSON

internal fun utf8(bytes: ByteArray, what: String): String = try {
    Charsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes)).toString()
} catch (e: CharacterCodingException) {
    throw VectorError("$what is not UTF-8")
}

fun requestJson(r: HttpRequest): Map<String, Any?> {
    val headers = LinkedHashMap<String, Any?>()
    for (h in r.headers()) {
        if (headers.put(h.name, h.value) != null) throw VectorError("request header ${h.name} appears twice")
    }
    return linkedMapOf("method" to r.method(), "url" to r.url(), "headers" to headers, "body" to utf8(r.body(), "request body"))
}

fun tokenSetJson(t: TokenSet): Map<String, Any?> = linkedMapOf(
    "access_token" to t.accessToken(),
    "token_type" to t.tokenType(),
    "refresh_token" to t.refreshToken(),
    "id_token" to t.idToken(),
    "expires_at" to big(t.expiresAt()),
    "expiry_source" to t.expirySource().name.lowercase(),
    "scopes" to t.scopes(),
    "extra_names" to t.extraNames().sortedWith(::byteOrder),
)

/** Byte order of UTF-8 strings, as Rust sorts them. */
internal fun byteOrder(a: String, b: String): Int {
    val x = a.toByteArray(Charsets.UTF_8)
    val y = b.toByteArray(Charsets.UTF_8)
    for (i in 0 until minOf(x.size, y.size)) {
        val c = (x[i].toInt() and 0xff) - (y[i].toInt() and 0xff)
        if (c != 0) return c
    }
    return x.size - y.size
}

private fun providerJson(p: Provider): Map<String, Any?> {
    val grants = p.grants()
    return linkedMapOf(
        "name" to p.name(),
        "issuer" to p.issuer(),
        "authorization_endpoint" to p.authorizationEndpoint(),
        "token_endpoints" to grants.associate { grantName(it) to p.tokenEndpoint(it) },
        "introspection_endpoint" to p.introspectionEndpoint(),
        "revocation_endpoint" to p.revocationEndpoint(),
        "device_authorization_endpoint" to p.deviceAuthorizationEndpoint(),
        "body_encoding" to p.bodyEncoding().name.lowercase(),
        "auth_method" to p.authMethod()?.let(::authMethodName),
        "scope_separator" to p.scopeSeparator(),
        "extra_token_params" to p.extraTokenParams().map { listOf(it.name, it.value) },
        "default_skew" to big(p.defaultSkew()),
        "grants" to grants.map(::grantName).sortedWith(::byteOrder),
        "unsolicited_callbacks" to p.unsolicitedCallbacks(),
        "iss_parameter_supported" to p.issParameterSupported(),
    )
}

@Suppress("UNCHECKED_CAST")
private fun pendingJson(p: PendingAuthorization, oidc: Boolean = false): Map<String, Any?> {
    val stored = Json.parse(p.toJson()) as Map<String, Any?>
    return linkedMapOf(
        "state" to stored["state"],
        "code_verifier" to stored["code_verifier"],
        "redirect_uri" to stored["redirect_uri"],
        "issuer" to stored["issuer"],
        "require_iss" to (stored["require_iss"] ?: false),
    ).also {
        if (oidc) {
            it["nonce"] = p.nonce()
            it["max_age"] = big(p.maxAge())
        }
    }
}

private fun grantJson(g: CodeGrant): Map<String, Any?> =
    linkedMapOf("code" to g.code(), "code_verifier" to g.codeVerifier(), "redirect_uri" to g.redirectUri())

@Suppress("UNCHECKED_CAST")
private fun introspectionJson(i: Introspection): Map<String, Any?> = linkedMapOf(
    "active" to i.active,
    "scopes" to i.scopes,
    "client_id" to i.clientId,
    "username" to i.username,
    "token_type" to i.tokenType,
    "exp" to big(i.exp),
    "iat" to big(i.iat),
    "sub" to i.sub,
    "iss" to i.iss,
    "extra_names" to (Json.parse(i.extraJson) as Map<String, Any?>).keys.sortedWith(::byteOrder),
)

private fun deviceAuthorizationJson(d: DeviceAuthorization): Map<String, Any?> = linkedMapOf(
    "device_code" to d.deviceCode(),
    "user_code" to d.userCode(),
    "verification_uri" to d.verificationUri(),
    "verification_uri_complete" to d.verificationUriComplete(),
    "expires_at" to big(d.expiresAt()),
    "interval" to big(d.interval()),
)

private fun pollJson(p: DevicePoll): Map<String, Any?> = when (p) {
    is DevicePoll.Tokens -> linkedMapOf("poll" to "tokens", "token_set" to tokenSetJson(p.tokens))
    is DevicePoll.Pending -> linkedMapOf("poll" to "pending", "interval" to big(p.interval))
    is DevicePoll.SlowDown -> linkedMapOf("poll" to "slow_down", "interval" to big(p.interval))
    is DevicePoll.Expired -> linkedMapOf("poll" to "expired")
    is DevicePoll.Denied -> linkedMapOf("poll" to "denied")
}

/** Every comparable field of an error; `expect_error` names the ones it checks. */
fun errorJson(e: GrantlineException): Map<String, Any?> {
    val m = linkedMapOf<String, Any?>(
        "kind" to null, "code" to null, "description" to null, "uri" to null,
        "status" to null, "excerpt" to null, "grant" to null, "endpoint" to null,
        "claim" to null, "problem" to null,
    )
    fun status(s: Int) = if (s == 0) null else big(s)
    when (e) {
        is GrantlineException.OAuth -> {
            m["kind"] = "oauth"; m["code"] = e.code; m["description"] = e.description
            m["uri"] = e.uri; m["status"] = status(e.status)
        }
        is GrantlineException.MalformedResponse -> {
            m["kind"] = e.kind; m["status"] = status(e.status); m["excerpt"] = e.excerpt
        }
        is GrantlineException.Configuration -> {
            m["kind"] = e.kind; m["grant"] = e.grant?.let(::grantName); m["endpoint"] = e.endpoint?.let(::endpointName)
        }
        is GrantlineException.StateMismatch -> m["kind"] = e.kind
        is GrantlineException.ReauthorizationRequired -> m["kind"] = "reauthorization_required"
        is GrantlineException.Transport -> m["kind"] = "transport"
        is GrantlineException.Store -> m["kind"] = "store"
        is GrantlineException.IdToken -> { m["kind"] = "id_token"; m["claim"] = e.claim }
        is GrantlineException.Jws -> { m["kind"] = "jws"; m["problem"] = e.problem }
        is GrantlineException.InvalidKey -> m["kind"] = "invalid_key"
    }
    return m
}

// ------------------------------------------------------------------ comparing

/** Whether [a] (expected, from a vector) equals [b] (what the binding produced, as JSON). */
fun jsonEquals(a: Any?, b: Any?): Boolean = when {
    a is Map<*, *> && b is Map<*, *> -> a.keys == b.keys && a.keys.all { jsonEquals(a[it], b[it]) }
    a is List<*> && b is List<*> -> a.size == b.size && a.indices.all { jsonEquals(a[it], b[it]) }
    else -> asKotlin(a) == b
}

internal fun diff(path: String, expected: Any?, actual: Any?, out: MutableList<String>) {
    if (expected is Map<*, *> && actual is Map<*, *>) {
        for ((k, ev) in expected) {
            val p = "$path.$k"
            if (actual.containsKey(k)) diff(p, ev, actual[k], out) else out.add("$p: expected ${short(ev)}, not produced")
        }
        for ((k, av) in actual) if (!expected.containsKey(k)) out.add("$path.$k: missing from the vector (got ${short(av)})")
    } else if (!jsonEquals(expected, actual)) {
        out.add("$path:\n      expected ${short(expected)}\n      got      ${short(actual)}")
    }
}

private val ERROR_FIELDS = listOf("kind", "code", "description", "uri", "status", "excerpt", "grant", "endpoint", "claim", "problem")

internal fun compareError(expected: Any?, e: GrantlineException): String? {
    val f = Fields(expected, "expect_error", ERROR_FIELDS)
    f.str("kind")
    val actual = errorJson(e)
    val diffs = ArrayList<String>()
    for ((k, ev) in f.map) diff("expect_error.$k", ev, actual[k], diffs)
    return if (diffs.isEmpty()) null else "${diffs.joinToString("\n    ")}\n    (the error: ${e.message})"
}

internal sealed class Out {
    class Ok(val map: Map<String, Any?>) : Out()
    class Core(val e: GrantlineException) : Out()
    class Vector(val msg: String) : Out()
}

internal fun run(block: () -> Map<String, Any?>): Out = try {
    Out.Ok(block())
} catch (e: GrantlineException) {
    Out.Core(e)
} catch (e: VectorError) {
    Out.Vector(e.message ?: "")
}

/** Compares what ran with what the vector expects; returns the failure, or null. */
internal fun judge(f: Fields, required: List<String>, optional: List<String>, actual: Out): String? {
    val expectError = f.has("expect_error")
    val present = (required + optional).filter { f.has(it) }
    when {
        expectError && present.isNotEmpty() -> return "the vector has both `expect_error` and $present"
        !expectError && present.isEmpty() -> return "the vector has no expectation: one of `expect_error` or $required"
        !expectError -> required.firstOrNull { !f.has(it) }?.let { return "the vector is missing `$it`" }
    }
    return when (actual) {
        is Out.Vector -> "cannot run the vector: ${actual.msg}"
        is Out.Core -> if (expectError) compareError(f.get("expect_error"), actual.e)
            else "unexpected error ${short(errorJson(actual.e))}\n    (${actual.e.message})"
        is Out.Ok -> if (expectError) "expected the error ${short(f.get("expect_error"))}, but it succeeded with ${short(actual.map)}"
            else {
                val diffs = ArrayList<String>()
                for (k in present) diff(k, f.value(k), actual.map[k], diffs)
                if (diffs.isEmpty()) null else diffs.joinToString("\n    ")
            }
    }
}

// ------------------------------------------------------------------ the kinds

private fun runProvider(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "expect_provider", "expect_assertion_audience", "expect_error"))
    return judge(f, listOf("expect_provider"), listOf("expect_assertion_audience"), run {
        val p = provider(f.value("provider"))
        mapOf("expect_provider" to providerJson(p), "expect_assertion_audience" to assertionAudienceName(p.assertionAudience()))
    })
}

private fun buildCall(c: Client, spec: Any?, now: Long): HttpRequest {
    val type = (spec as? Map<*, *>)?.get("type") as? String ?: throw VectorError("call: missing `type`")
    fun fields(vararg allowed: String) = Fields(spec, "call ($type)", allowed.toList())
    val params = (spec as Map<*, *>).containsKey("params")
    /** The standard grants with `params`: through GrantRequest. */
    fun withParams(f: Fields, request: GrantRequest): HttpRequest =
        c.grantRequest(request.params(f.pairs("params").map { Param(it.first, it.second) }), now)
    return when (type) {
        "client_credentials" -> fields("type", "scopes", "params").let {
            it.value("scopes")
            if (params) withParams(it, GrantRequest.clientCredentials(it.strings("scopes")))
            else c.clientCredentialsRequest(it.strings("scopes"), now)
        }
        "password" -> fields("type", "username", "password", "scopes", "params").let {
            it.value("scopes")
            if (params) withParams(it, GrantRequest.password(it.str("username"), it.str("password"), it.strings("scopes")))
            else c.passwordRequest(it.str("username"), it.str("password"), it.strings("scopes"), now)
        }
        "refresh_token" -> fields("type", "refresh_token", "scopes", "params").let {
            it.value("scopes")
            if (params) withParams(it, GrantRequest.refresh(it.str("refresh_token"), it.strings("scopes")))
            else c.refreshRequest(it.str("refresh_token"), it.strings("scopes"), now)
        }
        "authorization_code" -> fields("type", "code", "code_verifier", "redirect_uri", "params").let {
            val grant = CodeGrant(it.str("code"), it.nullableStr("code_verifier"), it.nullableStr("redirect_uri"))
            if (params) withParams(it, GrantRequest.authorizationCode(grant)) else c.authorizationCodeRequest(grant, now)
        }
        "device_code" -> fields("type", "device_code", "params").let {
            if (params) withParams(it, GrantRequest.deviceCode(it.str("device_code"))) else c.deviceTokenRequest(it.str("device_code"), now)
        }
        "device_authorization" -> fields("type", "scopes").let { it.value("scopes"); c.deviceAuthorizationRequest(it.strings("scopes"), now) }
        "introspection" -> fields("type", "token", "token_type_hint", "refresh_token").let {
            val refresh = it.nullableStr("refresh_token")
            c.introspectionRequest(it.str("token"), hint(it.nullableStr("token_type_hint")), refresh, now)
        }
        "revocation" -> fields("type", "token", "token_type_hint").let {
            c.revocationRequest(it.str("token"), hint(it.nullableStr("token_type_hint")), now)
        }
        "grant" -> fields("type", "grant_type", "scopes", "params").let {
            withParams(it, GrantRequest(it.str("grant_type")).scopes(it.strings("scopes")))
        }
        "token_exchange" -> fields(
            "type", "subject_token", "subject_token_type", "actor_token", "actor_token_type",
            "requested_token_type", "resource", "audience", "scopes", "params",
        ).let {
            val exchange = TokenExchange(
                subjectToken = it.str("subject_token"),
                subjectTokenType = it.str("subject_token_type"),
                actorToken = it.optStr("actor_token"),
                actorTokenType = it.optStr("actor_token_type"),
                resource = it.strings("resource"),
                audience = it.strings("audience"),
                scopes = it.strings("scopes"),
                requestedTokenType = it.optStr("requested_token_type"),
            )
            withParams(it, GrantRequest.tokenExchange(exchange))
        }
        "jwt_bearer" -> fields("type", "assertion", "scopes", "params").let {
            withParams(it, GrantRequest.jwtBearer(it.str("assertion"), it.strings("scopes")))
        }
        else -> throw VectorError("call: unknown type \"$type\"")
    }
}

private fun runRequest(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "call", "now", "expect_request", "expect_assertion", "expect_error"))
    return judge(f, listOf("expect_request"), listOf("expect_assertion"), run {
        val c = providerAndClient(f)
        val now = if (f.has("now")) f.u64("now") else 0L
        val request = requestJson(buildCall(c, f.value("call"), now))
        if (f.has("expect_assertion")) {
            val (replaced, assertion) = clientAssertion(c, f.value("client"), request)
            mapOf("expect_request" to replaced, "expect_assertion" to assertion)
        } else {
            mapOf("expect_request" to request)
        }
    })
}

private fun authorizationRequest(spec: Any?): AuthorizationRequest {
    val f = Fields(spec, "request", listOf("scopes", "pkce", "redirect_uri", "params", "nonce", "max_age"))
    val pkce = when (val p = f.optStr("pkce") ?: "S256") {
        "S256" -> PkceMethod.S256
        "plain" -> PkceMethod.PLAIN
        else -> throw VectorError("request: unknown pkce \"$p\"")
    }
    return AuthorizationRequest(
        scopes = f.strings("scopes"),
        pkce = pkce,
        redirectUri = f.optStr("redirect_uri"),
        params = f.pairs("params").map { Param(it.first, it.second) },
        nonce = f.optStr("nonce"),
        maxAge = if (f.has("max_age")) f.u64("max_age") else null,
    )
}

private fun runAuthorizationUrl(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "request", "seed_hex", "expect_url", "expect_pending", "expect_error"))
    return judge(f, listOf("expect_url", "expect_pending"), listOf(), run {
        val request = authorizationRequest(f.value("request"))
        val seed = seed(f.str("seed_hex"))
        val c = providerAndClient(f)
        val a = c.authorizationUrlWithSeed(request, seed)
        val oidc = (f.get("expect_pending") as? Map<*, *>)?.containsKey("nonce") == true
        mapOf("expect_url" to a.url(), "expect_pending" to pendingJson(a.pending(), oidc))
    })
}

private fun runCallback(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "pending", "unsolicited", "callback", "expect_grant", "expect_exchange_request", "expect_error"))
    return judge(f, listOf("expect_grant"), listOf("expect_exchange_request"), run {
        val c = providerAndClient(f)
        val callback = f.str("callback")
        val unsolicited = f.boolOr("unsolicited", false)
        val grant = when {
            unsolicited && !f.has("pending") -> c.unsolicitedCallback(callback)
            !unsolicited && f.has("pending") -> {
                val pending = f.get("pending")
                Fields(pending, "pending", listOf("state", "code_verifier", "redirect_uri", "issuer", "require_iss"))
                c.callback(PendingAuthorization.fromJson(Json.write(pending)), callback)
            }
            else -> throw VectorError("callback: `pending`, or `unsolicited: true`, not both")
        }
        val o = linkedMapOf<String, Any?>("expect_grant" to grantJson(grant))
        if (f.has("expect_exchange_request")) o["expect_exchange_request"] = requestJson(c.authorizationCodeRequest(grant))
        o
    })
}

private fun runTokenResponse(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("now", "response", "previous", "provider", "expect_token_set", "expect_rotated", "expect_issued_token_type", "expect_error"))
    if (f.has("previous") != f.has("expect_rotated") && !f.has("expect_error")) {
        return "`previous` and `expect_rotated` go together"
    }
    val actual = run {
        val resp = response(f.value("response"))
        var tokens = if (f.has("provider")) {
            TokenSet.fromResponseFor(resp, f.u64("now"), provider(f.get("provider")))
        } else {
            TokenSet.fromResponse(resp, f.u64("now"))
        }
        val o = linkedMapOf<String, Any?>()
        if (f.has("previous")) {
            val p = Fields(f.get("previous"), "previous", listOf("refresh_token"))
            val old = TokenSet("previous-access-token", p.nullableStr("refresh_token"), null, 0L)
            val renewed = tokens.inheritRefreshToken(old)
            o["expect_rotated"] = renewed.refreshTokenRotated
            tokens = renewed.tokens
        }
        o["expect_token_set"] = tokenSetJson(tokens)
        o["expect_issued_token_type"] = tokens.issuedTokenType()
        o
    }
    val required = if (f.has("previous")) listOf("expect_token_set", "expect_rotated") else listOf("expect_token_set")
    val optional = (if (f.has("previous")) listOf() else listOf("expect_rotated")) + "expect_issued_token_type"
    return judge(f, required, optional, actual)
}

private fun runIntrospectionResponse(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("response", "expect_introspection", "expect_error"))
    return judge(f, listOf("expect_introspection"), listOf(), run {
        mapOf("expect_introspection" to introspectionJson(parseIntrospectionResponse(response(f.value("response")))))
    })
}

private fun runRevocationResponse(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("response", "expect_revoked", "expect_error"))
    if (f.has("expect_revoked") && f.get("expect_revoked") != true) return "`expect_revoked` can only be true (use `expect_error`)"
    return judge(f, listOf("expect_revoked"), listOf(), run {
        checkRevocationResponse(response(f.value("response")))
        mapOf("expect_revoked" to true)
    })
}

private fun runDeviceAuthorizationResponse(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("now", "response", "expect_device_authorization", "expect_error"))
    return judge(f, listOf("expect_device_authorization"), listOf(), run {
        val d = DeviceAuthorization.fromResponse(response(f.value("response")), f.u64("now"))
        mapOf("expect_device_authorization" to deviceAuthorizationJson(d))
    })
}

private fun runDevicePollResponse(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("now", "interval", "response", "expect_poll", "expect_error"))
    return judge(f, listOf("expect_poll"), listOf(), run {
        val p = parseDevicePollResponse(response(f.value("response")), f.u64("now"), f.u64("interval"))
        mapOf("expect_poll" to pollJson(p))
    })
}

private fun runWwwAuthenticate(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("response", "expect_challenge", "expect_needs_renewal", "expect_challenges"))
    return judge(f, listOf("expect_challenge", "expect_needs_renewal"), listOf("expect_challenges"), run {
        val resp = response(f.value("response"))
        val challenge = bearerChallenge(resp.headers)?.let {
            linkedMapOf("realm" to it.realm, "scope" to it.scope, "error" to it.error,
                "error_description" to it.errorDescription, "error_uri" to it.errorUri)
        }
        val challenges = ArrayList<Any?>()
        for (h in resp.headers.filter { it.name == "www-authenticate" }) {
            if (!h.value.all { it == '\t' || it in ' '..'~' }) throw VectorError("www-authenticate is not visible ASCII")
            for (c in parseWwwAuthenticate(h.value)) {
                challenges.add(linkedMapOf("scheme" to c.scheme, "token68" to c.token68,
                    "params" to c.params.map { listOf(it.name, it.value) }))
            }
        }
        mapOf(
            "expect_challenge" to challenge,
            "expect_needs_renewal" to needsRenewal(resp.status, resp.headers),
            "expect_challenges" to challenges,
        )
    })
}

// ------------------------------------------------------------------ discovery, redact_url, session

@Suppress("UNCHECKED_CAST")
private fun runDiscovery(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("input", "responses", "expect_issuer", "expect_urls", "expect_provider", "expect_error"))
    val responses = f.value("responses") as? List<Any?> ?: return "`responses` is not a list"
    if (f.has("expect_error") && !f.has("expect_issuer") && responses.isNotEmpty()) {
        return "an error from Discovery(...) has no responses"
    }
    // The issuer and URLs are compared whenever the vector gives them, also with `expect_error`
    // (an error from `receive`, after a constructor that succeeded).
    var urlsSeen: Map<String, Any?> = emptyMap()
    val actual = run {
        val discovery = Discovery(f.str("input"))
        val urls = discovery.urls()
        urlsSeen = linkedMapOf("expect_issuer" to discovery.issuer(), "expect_urls" to urls)
        val o = LinkedHashMap(urlsSeen)
        if (responses.isEmpty()) throw VectorError("a discovery that succeeds needs responses")
        for ((i, spec) in responses.withIndex()) {
            val request = discovery.request()
            val want = urls.getOrNull(i) ?: throw VectorError("more responses than well-known URLs")
            val parts = request.parts()
            if (parts.url != want || parts.method != "GET" || request.header("accept") != "application/json" || parts.body.isNotEmpty()) {
                throw VectorError("request $i is not GET $want: $request")
            }
            val last = i == responses.size - 1
            val provider = discovery.receive(response(spec))
            when {
                provider == null && last -> throw VectorError("discovery wants another response")
                provider == null -> {}
                last -> o["expect_provider"] = providerJson(provider)
                else -> throw VectorError("a provider after response $i, before the last")
            }
        }
        o
    }
    if (f.has("expect_error") && f.has("expect_issuer") && actual is Out.Core) {
        val diffs = ArrayList<String>()
        for (k in listOf("expect_issuer", "expect_urls")) diff(k, f.value(k), urlsSeen[k], diffs)
        if (diffs.isNotEmpty()) return diffs.joinToString("\n    ")
        return compareError(f.get("expect_error"), actual.e)
    }
    return judge(f, listOf("expect_issuer", "expect_urls", "expect_provider"), listOf(), actual)
}

private fun runRedactUrl(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("url", "expect_url"))
    val diffs = ArrayList<String>()
    diff("expect_url", f.value("expect_url"), redactUrl(f.str("url")), diffs)
    return if (diffs.isEmpty()) null else diffs.joinToString("\n    ")
}

internal fun sessionState(c: Client, spec: Any?): SessionState {
    val type = (spec as? Map<*, *>)?.get("type") as? String ?: throw VectorError("grant: `type` missing")
    return when (type) {
        "client_credentials" -> Fields(spec, "grant", listOf("type", "scopes")).let { SessionState.clientCredentials(c, it.strings("scopes")) }
        "password" -> Fields(spec, "grant", listOf("type", "username", "password", "scopes")).let {
            SessionState.password(c, it.str("username"), it.str("password"), it.strings("scopes"))
        }
        "refresh_only" -> { Fields(spec, "grant", listOf("type")); SessionState.refreshOnly(c) }
        else -> throw VectorError("grant: unknown type \"$type\"")
    }
}

private fun nextJson(n: Next): Map<String, Any?> = when (n) {
    is Next.Ready -> linkedMapOf("next" to "ready", "token" to n.token)
    is Next.Wait -> linkedMapOf("next" to "wait", "id" to big(n.id))
    is Next.Send -> linkedMapOf("next" to "send", "id" to big(n.id), "current" to n.current, "request" to requestJson(n.request))
}

internal fun completionJson(c: Completion): Map<String, Any?> = linkedMapOf(
    "renewed" to c.renewed?.let {
        linkedMapOf("access_token" to it.tokens.accessToken(), "refresh_token" to it.tokens.refreshToken(), "rotated" to it.refreshTokenRotated)
    },
    "error" to c.error?.let(::errorJson),
)

private fun compareNext(expected: Any?, n: Next): String? {
    val actual = nextJson(n).toMutableMap()
    if ((expected as? Map<*, *>)?.containsKey("request") != true) actual.remove("request")
    val diffs = ArrayList<String>()
    diff("expect", expected, actual, diffs)
    return if (diffs.isEmpty()) null else diffs.joinToString("\n    ")
}

internal fun compareCompletion(expected: Any?, c: Completion): String? {
    val f = Fields(expected, "expect_completion", listOf("renewed", "error"))
    val diffs = ArrayList<String>()
    diff("expect_completion.renewed", f.value("renewed"), completionJson(c)["renewed"], diffs)
    val wantError = f.value("error")
    val gotError = c.error
    when {
        wantError == null && gotError != null -> diffs.add("expect_completion.error: expected none, got ${gotError.message}")
        wantError != null && gotError == null -> diffs.add("expect_completion.error: expected an error, got none")
        wantError != null && gotError != null -> compareError(wantError, gotError)?.let { diffs.add(it) }
    }
    return if (diffs.isEmpty()) null else diffs.joinToString("\n    ")
}

private fun <T> outcome(body: () -> T): Result<T> = try {
    Result.success(body())
} catch (e: GrantlineException) {
    Result.failure(e)
}

private fun runStep(s: SessionState, step: Any?): String? {
    val op = (step as? Map<*, *>)?.get("op") as? String ?: throw VectorError("`op` missing")
    fun nextOrError(f: Fields, r: Result<Next>): String? {
        val e = r.exceptionOrNull() as GrantlineException?
        return when {
            f.has("expect") && !f.has("expect_error") && e == null -> compareNext(f.get("expect"), r.getOrThrow())
            !f.has("expect") && f.has("expect_error") && e != null -> compareError(f.get("expect_error"), e)
            f.has("expect") && !f.has("expect_error") -> "expected a next, got the error ${e?.message}"
            !f.has("expect") && f.has("expect_error") -> "expected an error, got ${short(nextJson(r.getOrThrow()))}"
            else -> "exactly one of `expect` and `expect_error`"
        }
    }
    fun completionOrError(f: Fields, r: Result<Completion>): String? {
        val e = r.exceptionOrNull() as GrantlineException?
        return when {
            f.has("expect_completion") && !f.has("expect_error") && e == null -> compareCompletion(f.get("expect_completion"), r.getOrThrow())
            !f.has("expect_completion") && f.has("expect_error") && e != null -> compareError(f.get("expect_error"), e)
            f.has("expect_completion") && !f.has("expect_error") -> "expected a completion, got the error ${e?.message}"
            !f.has("expect_completion") && f.has("expect_error") -> "expected an error, got ${short(completionJson(r.getOrThrow()))}"
            else -> "exactly one of `expect_completion` and `expect_error`"
        }
    }
    fun boolean(f: Fields, got: Boolean): String? {
        val want = f.value("expect") as? Boolean ?: throw VectorError("`expect` is not a boolean")
        return if (want == got) null else "expected $want, got $got"
    }
    return when (op) {
        "next" -> Fields(step, "step", listOf("op", "now", "expect", "expect_error")).let { nextOrError(it, outcome { s.next(it.u64("now")) }) }
        "waited" -> Fields(step, "step", listOf("op", "id", "now", "expect", "expect_error")).let {
            nextOrError(it, outcome { s.waited(it.u64("id"), it.u64("now")) })
        }
        "receive" -> Fields(step, "step", listOf("op", "id", "now", "response", "expect_completion", "expect_error")).let {
            val resp = response(it.value("response"))
            completionOrError(it, outcome { s.receive(it.u64("id"), resp, it.u64("now")) })
        }
        "fail" -> Fields(step, "step", listOf("op", "id", "now", "reason", "expect_completion", "expect_error")).let {
            completionOrError(it, outcome { s.fail(it.u64("id"), it.str("reason"), it.u64("now")) })
        }
        "delivered" -> Fields(step, "step", listOf("op", "id", "expect")).let { boolean(it, s.delivered(it.u64("id"))) }
        "abandon" -> Fields(step, "step", listOf("op", "id", "expect")).let { boolean(it, s.abandon(it.u64("id"))) }
        "reject" -> Fields(step, "step", listOf("op", "token", "expect")).let { boolean(it, s.reject(it.str("token"))) }
        "ready_until" -> Fields(step, "step", listOf("op", "expect")).let {
            val got = big(s.readyUntil())
            val want = it.value("expect")
            if (jsonEquals(want, got)) null else "ready_until: expected ${short(want)}, got ${short(got)}"
        }
        else -> "unknown op \"$op\""
    }
}

private fun runSession(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "grant", "tokens", "skew", "steps"))
    val c = try {
        providerAndClient(f)
    } catch (e: GrantlineException) {
        return "building the client failed: ${e.message}"
    }
    val s = sessionState(c, f.value("grant"))
    if (f.has("tokens")) {
        val set = try {
            TokenSet.fromJson(Json.write(f.get("tokens")))
        } catch (e: GrantlineException) {
            return "tokens: ${e.message}"
        }
        s.restore(set)
    }
    if (f.has("skew")) s.setSkew(f.u64("skew"))
    val steps = f.value("steps") as? List<*> ?: return "`steps` is not a list"
    if (steps.isEmpty()) return "no steps"
    for ((i, step) in steps.withIndex()) {
        val failure = try {
            runStep(s, step)
        } catch (e: VectorError) {
            e.message
        }
        if (failure != null) return "step $i (${short(step)}): $failure"
    }
    return null
}

/** Runs one vector; returns the failure, or null. */
fun runVector(v: Any?): String? = try {
    val m = v as? Map<*, *> ?: throw VectorError("not a JSON object")
    for (key in listOf("name", "kind", "source")) {
        val s = m[key] as? String
        if (s == null || s.isBlank()) return "`$key` is missing or not a non-empty string"
    }
    if (m.containsKey("note") && m["note"] !is String) return "`note` is not a string"
    when (val kind = m["kind"] as String) {
        "provider" -> runProvider(v)
        "request" -> runRequest(v)
        "authorization_url" -> runAuthorizationUrl(v)
        "callback" -> runCallback(v)
        "token_response" -> runTokenResponse(v)
        "introspection_response" -> runIntrospectionResponse(v)
        "revocation_response" -> runRevocationResponse(v)
        "device_authorization_response" -> runDeviceAuthorizationResponse(v)
        "device_poll_response" -> runDevicePollResponse(v)
        "www_authenticate" -> runWwwAuthenticate(v)
        "discovery" -> runDiscovery(v)
        "redact_url" -> runRedactUrl(v)
        "session" -> runSession(v)
        "jws_verify" -> runJwsVerify(v)
        "jwk_set" -> runJwkSet(v)
        "jws_sign" -> runJwsSign(v)
        "id_token" -> runIdToken(v)
        "id_token_refresh" -> runIdTokenRefresh(v)
        "userinfo_request" -> runUserinfoRequest(v)
        "userinfo_response" -> runUserinfoResponse(v)
        "end_session_url" -> runEndSessionUrl(v)
        "jwks_cache" -> runJwksCache(v)
        "provider_oidc" -> runProviderOidc(v)
        "store_entry" -> runStoreEntry(v)
        "fleet_session" -> runFleetSession(v)
        else -> "unknown kind \"$kind\""
    }
} catch (e: VectorError) {
    e.message
}

/** Every vector file, every vector: results into [t], one test per vector plus the file checks. */
@Suppress("UNCHECKED_CAST")
fun runAllVectors(dir: File, t: Tests) {
    val files = (dir.listFiles { f -> f.name.endsWith(".json") } ?: emptyArray()).sortedBy { it.name }
    for (required in SEED_FILES + EXTRA_FILES) {
        t.check("vectors: $required present") { if (files.none { it.name == required }) throw AssertionError("missing") }
    }
    val names = HashSet<String>()
    var seedCount = 0
    var extraCount = 0
    for (file in files) {
        val vectors: List<Any?> = try {
            val doc = Json.parse(file.readText(Charsets.UTF_8))
            val f = Fields(doc, file.name, listOf("format", "description", "vectors"))
            if (f.u64("format") != FORMAT.toLong()) throw VectorError("${file.name}: format ${f.value("format")} is not $FORMAT")
            if (f.str("description").isBlank()) throw VectorError("${file.name}: empty description")
            val l = f.value("vectors") as? List<Any?> ?: throw VectorError("${file.name}: `vectors` is not a list")
            if (l.isEmpty()) throw VectorError("${file.name}: no vectors")
            l
        } catch (e: Exception) {
            t.fail("vectors: ${file.name}", e.message ?: e.toString())
            continue
        }
        if (file.name in SEED_FILES) seedCount += vectors.size else extraCount += vectors.size
        vectors.forEachIndexed { i, v ->
            val name = ((v as? Map<*, *>)?.get("name") as? String) ?: "#$i"
            val label = "vector ${file.name}: $name"
            if (!names.add(name)) {
                t.fail(label, "duplicate name")
            } else {
                val failure = try {
                    runVector(v)
                } catch (e: Exception) {
                    "the runner threw ${e.javaClass.name}: ${e.message}"
                }
                if (failure == null) t.pass(label) else t.fail(label, failure)
            }
        }
    }
    t.check("vectors: at least $MIN_SEED_VECTORS seed vectors ($seedCount)") {
        if (seedCount < MIN_SEED_VECTORS) throw AssertionError("only $seedCount")
    }
    t.check("vectors: at least $MIN_EXTRA_VECTORS lenient/hostile vectors ($extraCount)") {
        if (extraCount < MIN_EXTRA_VECTORS) throw AssertionError("only $extraCount")
    }
}

/** The runner must not pass what it cannot check (as the Rust runner's self-tests). */
fun runnerSelfTests(t: Tests) {
    fun libroCc(): MutableMap<String, Any?> = Json.parse("""
        {"name":"self-test","kind":"request","source":"runner self-test","provider":{"preset":"libro"},
         "client":{"client_id":"YOUR_CLIENT_ID","client_secret":"YOUR_CLIENT_SECRET"},
         "call":{"type":"client_credentials","scopes":[]},
         "expect_request":{"method":"POST","url":"https://api.libroreserve.com/oauth/token",
           "headers":{"accept":"application/json","content-type":"application/x-www-form-urlencoded"},
           "body":"grant_type=client_credentials&client_id=YOUR_CLIENT_ID&client_secret=YOUR_CLIENT_SECRET"}}
    """.trimIndent()).let { @Suppress("UNCHECKED_CAST") (it as Map<String, Any?>).toMutableMap() }

    t.check("runner: passes a right vector") { assertEq(null, runVector(libroCc())) }
    t.check("runner: fails an unknown kind") {
        assertContains(runVector(mapOf("name" to "x", "kind" to "no_such_kind", "source" to "t")), "unknown kind")
    }
    t.check("runner: fails a wrong body and a missing header") {
        val v = libroCc()
        v["expect_request"] = (v["expect_request"] as Map<*, *>).toMutableMap().also { it["body"] = "grant_type=client_credentials" }
        assertContains(runVector(v), "expect_request.body")
        val w = libroCc()
        val req = (w["expect_request"] as Map<*, *>).toMutableMap()
        req["headers"] = (req["headers"] as Map<*, *>).toMutableMap().also { it.remove("accept") }
        w["expect_request"] = req
        assertContains(runVector(w), "expect_request.headers.accept")
    }
    t.check("runner: fails unknown fields, missing or double expectations, unknown call types") {
        assertContains(runVector(libroCc().also { it["expect_requst"] = mapOf<String, Any?>() }), "unknown field")
        assertContains(runVector(libroCc().also { it.remove("expect_request") }), "no expectation")
        assertContains(runVector(libroCc().also { it["expect_error"] = mapOf("kind" to "oauth") }), "both")
        assertContains(runVector(libroCc().also { it["call"] = mapOf("type" to "implicit") }), "unknown type")
    }
    t.check("runner: fails an error where success was expected, and back") {
        assertContains(runVector(libroCc().also {
            it["call"] = mapOf("type" to "password", "username" to "u", "password" to "p", "scopes" to listOf<String>())
        }), "unsupported_grant")
        assertContains(runVector(libroCc().also {
            it.remove("expect_request"); it["expect_error"] = mapOf("kind" to "unsupported_grant")
        }), "succeeded")
    }
    t.check("runner: fails wrong fleet expectations, unknown fleet fields and ops") {
        val key = listOf(mapOf("kid" to "k1", "key_hex" to "07".repeat(32)))
        val entry = Json.parse("""{"version":1,"written_at":1,"tokens":{"access_token":"a","token_type":"Bearer","issued_at":1,"expiry_source":"unknown"}}""")
        fun sealing(expect: String) = mapOf("name" to "x", "kind" to "store_entry", "source" to "t", "keys" to key,
            "entry" to entry, "nonce_hex" to "01".repeat(12), "expect_sealed" to expect)
        assertContains(runVector(sealing("{}")), "sealed:")
        assertContains(runVector(sealing("{}") + ("extra" to 1)), "unknown field")
        assertContains(runVector(mapOf("name" to "x", "kind" to "store_entry", "source" to "t", "keys" to key,
            "sealed" to "garbage", "expect_entry" to mapOf("version" to BigInteger.ONE))), "expected an entry, got the error")
        val fleet = Json.parse("""{"name":"x","kind":"fleet_session","source":"t",
            "provider":{"custom":{"token_endpoint":"https://as.example/token","grants":["client_credentials"]}},
            "client":{"client_id":"c","client_secret":"s"},"grant":{"type":"client_credentials","scopes":[]},
            "fleet":{"name":"api","owner":"o","plaintext":true},
            "steps":[{"op":"next","now_ms":1000,"expect":{"next":"perform","id":1,"current":null,"action":{"action":"store","op":"read","key":"grantline:{other}"}}}]}""")
        assertContains(runVector(fleet), "action.key")
        @Suppress("UNCHECKED_CAST")
        val unknownOp = (fleet as Map<String, Any?>) + ("steps" to listOf(mapOf("op" to "teleport")))
        assertContains(runVector(unknownOp), "unknown op")
    }
}
