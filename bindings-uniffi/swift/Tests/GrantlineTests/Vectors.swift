// The shared test vectors (tests/vectors/*.json) through the Swift binding's public API,
// interpreting every kind and field as the Rust reference runner (core/tests/vectors.rs) and the
// Kotlin runner do.
import Foundation
import Grantline

struct VectorError: Error { let message: String }

let seedFiles = ["libro.json", "bindeo.json", "bookable.json", "apicbase.json", "booking-experts.json"]
let extraFiles = ["lenient.json", "hostile.json"]
let commonFields = ["name", "kind", "source", "note"]

func short(_ v: J) -> String {
    let s = v.description
    return s.count > 300 ? "\(s.prefix(300))... (\(s.count) characters)" : s
}

struct Fields {
    let what: String
    let map: [String: J]

    init(_ value: J?, _ what: String, _ allowed: [String]) throws {
        self.what = what
        guard case let .object(m, order)? = value else {
            throw VectorError(message: "\(what): not a JSON object: \(value.map(short) ?? "nothing")")
        }
        if let unknown = order.first(where: { !allowed.contains($0) }) {
            throw VectorError(message: "\(what): unknown field `\(unknown)`")
        }
        map = m
    }

    func has(_ k: String) -> Bool { map[k] != nil }
    func get(_ k: String) -> J? { map[k] }
    func value(_ k: String) throws -> J {
        guard let v = map[k] else { throw VectorError(message: "\(what): missing field `\(k)`") }
        return v
    }
    func str(_ k: String) throws -> String {
        guard case let .string(s) = try value(k) else { throw VectorError(message: "\(what): `\(k)` is not a string") }
        return s
    }
    func optStr(_ k: String) throws -> String? {
        switch map[k] {
        case nil, .null?: return nil
        case let .string(s)?: return s
        default: throw VectorError(message: "\(what): `\(k)` is not a string or null")
        }
    }
    func nullableStr(_ k: String) throws -> String? { _ = try value(k); return try optStr(k) }
    /// A non-negative integer input, as the `Int64` the Swift API takes (one past `Int64.max`
    /// fails the vector).
    func u64(_ k: String) throws -> Int64 {
        guard case let .int(s) = try value(k), let v = UInt64(s) else {
            throw VectorError(message: "\(what): `\(k)` is not a non-negative integer")
        }
        guard let signed = Int64(exactly: v) else {
            throw VectorError(message: "\(what): `\(k)` (\(v)) does not fit the Int64 the Swift API takes")
        }
        return signed
    }
    func boolOr(_ k: String, _ d: Bool) throws -> Bool {
        guard let v = map[k] else { return d }
        guard case let .bool(b) = v else { throw VectorError(message: "\(what): `\(k)` is not a boolean") }
        return b
    }
    func strings(_ k: String) throws -> [String] {
        guard let v = map[k] else { return [] }
        let bad = VectorError(message: "\(what): `\(k)` is not a list of strings")
        guard case let .array(items) = v else { throw bad }
        return try items.map { guard case let .string(s) = $0 else { throw bad }; return s }
    }
    func pairs(_ k: String) throws -> [(String, String)] {
        guard let v = map[k] else { return [] }
        let bad = VectorError(message: "\(what): `\(k)` is not a list of [name, value] pairs")
        guard case let .array(items) = v else { throw bad }
        return try items.map {
            guard case let .array(p) = $0, p.count == 2, case let .string(a) = p[0], case let .string(b) = p[1] else { throw bad }
            return (a, b)
        }
    }
}

// MARK: names shared with the bindings

func grantName(_ g: GrantType) -> String {
    switch g {
    case .authorizationCode: return "authorization_code"
    case .clientCredentials: return "client_credentials"
    case .password: return "password"
    case .refreshToken: return "refresh_token"
    case .deviceCode: return "device_code"
    }
}
let allGrants: [GrantType] = [.authorizationCode, .clientCredentials, .password, .refreshToken, .deviceCode]
func grantFromName(_ n: String) throws -> GrantType {
    guard let g = allGrants.first(where: { grantName($0) == n }) else { throw VectorError(message: "unknown grant \(n)") }
    return g
}
func endpointName(_ e: Endpoint) -> String {
    switch e {
    case .authorization: return "authorization"
    case .token: return "token"
    case .introspection: return "introspection"
    case .revocation: return "revocation"
    case .deviceAuthorization: return "device_authorization"
    case .jwks: return "jwks"
    case .userinfo: return "userinfo"
    case .endSession: return "end_session"
    }
}
func authMethodName(_ m: ClientAuthMethod) -> String {
    switch m {
    case .basic: return "client_secret_basic"
    case .body: return "client_secret_post"
    case .`public`: return "none"
    case .privateKeyJwt: return "private_key_jwt"
    case .secretJwt: return "client_secret_jwt"
    }
}
func authMethodFromName(_ n: String) -> ClientAuthMethod? {
    [ClientAuthMethod.basic, .body, .`public`, .privateKeyJwt, .secretJwt].first { authMethodName($0) == n }
}
func expirySourceName(_ s: ExpirySource) -> String {
    switch s {
    case .expiresIn: return "expires_in"
    case .expires: return "expires"
    case .unverifiedJwtExp: return "unverified_jwt_exp"
    case .unknown: return "unknown"
    }
}
func hint(_ v: String?) throws -> TokenTypeHint? {
    switch v {
    case nil: return nil
    case "access_token"?: return .accessToken
    case "refresh_token"?: return .refreshToken
    default: throw VectorError(message: "unknown token_type_hint")
    }
}
/// Byte order, as Rust sorts strings.
func byteOrder(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }

// MARK: inputs

func provider(_ spec: J?) throws -> Provider {
    let f = try Fields(spec, "provider", ["preset", "audience", "custom", "metadata"])
    switch (f.has("preset"), f.has("custom"), f.has("metadata")) {
    case (true, false, false):
        let name = try f.str("preset")
        if let audience = try f.optStr("audience") {
            guard name == "bookable" else { throw VectorError(message: "provider: `audience` is only for the bookable preset") }
            return Provider.bookableWithAudience(audience: audience)
        }
        do { return try Provider.preset(name: name) } catch is GrantlineError {
            throw VectorError(message: "provider: unknown preset \(name)")
        }
    case (false, true, false) where !f.has("audience"):
        return try customProvider(f.get("custom"))
    case (false, false, true) where !f.has("audience"):
        guard case let .string(doc)? = f.get("metadata") else { throw VectorError(message: "provider: `metadata` is not a string") }
        return try Provider.fromMetadata(json: Data(doc.utf8))
    default:
        throw VectorError(message: "provider: exactly one of `preset`, `custom`, `metadata`")
    }
}

func customProvider(_ spec: J?) throws -> Provider {
    let f = try Fields(spec, "provider.custom", [
        "name", "issuer", "authorization_endpoint", "token_endpoint", "token_endpoints_by_grant",
        "introspection_endpoint", "revocation_endpoint", "device_authorization_endpoint", "body_encoding",
        "auth_method", "scope_separator", "extra_token_params", "default_skew", "grants",
        "unsolicited_callbacks", "iss_parameter_supported",
    ])
    var b = ProviderBuilder(name: try f.optStr("name") ?? "custom")
    if let v = try f.optStr("issuer") { b = b.issuer(issuer: v) }
    if let v = try f.optStr("authorization_endpoint") { b = b.authorizationEndpoint(url: v) }
    if let v = try f.optStr("token_endpoint") { b = b.tokenEndpoint(url: v) }
    if let byGrant = f.get("token_endpoints_by_grant") {
        guard case let .object(m, order) = byGrant else { throw VectorError(message: "provider.custom: `token_endpoints_by_grant` is not an object") }
        for g in order {
            guard case let .string(url)? = m[g] else { throw VectorError(message: "provider.custom: token endpoint for \(g) is not a string") }
            b = b.tokenEndpointFor(grant: try grantFromName(g), url: url)
        }
    }
    if let v = try f.optStr("introspection_endpoint") { b = b.introspectionEndpoint(url: v) }
    if let v = try f.optStr("revocation_endpoint") { b = b.revocationEndpoint(url: v) }
    if let v = try f.optStr("device_authorization_endpoint") { b = b.deviceAuthorizationEndpoint(url: v) }
    switch try f.optStr("body_encoding") ?? "form" {
    case "form": b = b.bodyEncoding(encoding: .form)
    case "json": b = b.bodyEncoding(encoding: .json)
    case let other: throw VectorError(message: "provider.custom: unknown body_encoding \(other)")
    }
    if let m = try f.optStr("auth_method") {
        guard let method = authMethodFromName(m) else { throw VectorError(message: "provider.custom: unknown auth_method \(m)") }
        b = b.authMethod(method: method)
    }
    if let v = try f.optStr("scope_separator") { b = b.scopeSeparator(separator: v) }
    for (k, v) in try f.pairs("extra_token_params") { b = b.extraTokenParam(name: k, value: v) }
    if f.has("default_skew") { b = b.defaultSkew(seconds: try f.u64("default_skew")) }
    for g in try f.strings("grants") { b = b.grant(grant: try grantFromName(g)) }
    b = b.unsolicitedCallbacks(yes: try f.boolOr("unsolicited_callbacks", false))
        .issParameterSupported(yes: try f.boolOr("iss_parameter_supported", false))
    return try b.build()
}

func client(_ p: Provider, _ spec: J?) throws -> Client {
    let f = try Fields(spec, "client", ["client_id", "client_secret", "redirect_uri", "auth_method"])
    var method: ClientAuthMethod?
    if let m = try f.optStr("auth_method") {
        guard let parsed = authMethodFromName(m) else { throw VectorError(message: "client: unknown auth_method \(m)") }
        method = parsed
    }
    return Client(provider: p, clientId: try f.str("client_id"), clientSecret: try f.optStr("client_secret"),
                  redirectUri: try f.optStr("redirect_uri"), authMethod: method)
}

func providerAndClient(_ f: Fields) throws -> Client {
    try client(try provider(try f.value("provider")), try f.value("client"))
}

func response(_ spec: J?) throws -> HttpResponse {
    let f = try Fields(spec, "response", ["status", "headers", "body", "body_base64", "body_repeat"])
    let status = try f.u64("status")
    guard status <= 65535 else { throw VectorError(message: "response: bad status") }
    var headers: [Header] = []
    if let hs = f.get("headers") {
        guard case let .object(m, order) = hs else { throw VectorError(message: "response: `headers` is not an object") }
        for name in order {
            guard name == name.lowercased() else { throw VectorError(message: "response: header name \(name) is not lowercase") }
            switch m[name] {
            case let .string(v)?: headers.append(Header(name: name, value: v))
            case let .array(items)?:
                for item in items {
                    guard case let .string(v) = item else { throw VectorError(message: "response: header \(name)") }
                    headers.append(Header(name: name, value: v))
                }
            default: throw VectorError(message: "response: header \(name) is not a string or list")
            }
        }
    }
    let bodies = ["body", "body_base64", "body_repeat"].filter { f.has($0) }.count
    guard bodies == 1 else { throw VectorError(message: "response: exactly one of `body`, `body_base64`, `body_repeat`") }
    let body: Data
    if f.has("body") {
        body = Data(try f.str("body").utf8)
    } else if f.has("body_base64") {
        guard let d = Data(base64Encoded: try f.str("body_base64")) else { throw VectorError(message: "response: body_base64") }
        body = d
    } else {
        let r = try Fields(try f.value("body_repeat"), "response.body_repeat", ["prefix", "text", "count", "suffix"])
        let text = (try r.optStr("prefix") ?? "") + String(repeating: try r.str("text"), count: Int(try r.u64("count")))
            + (try r.optStr("suffix") ?? "")
        body = Data(text.utf8)
    }
    return HttpResponse(status: Int32(status), headers: headers, body: body)
}

func seed(_ hex: String) throws -> Data {
    let chars = Array(hex.utf8)
    guard chars.count == 128 else { throw VectorError(message: "seed_hex has \(chars.count) hex digits, not 128") }
    var out = Data()
    for i in 0..<64 {
        guard let byte = UInt8(String(decoding: chars[2 * i...2 * i + 1], as: UTF8.self), radix: 16) else {
            throw VectorError(message: "seed_hex: not a hex digit")
        }
        out.append(byte)
    }
    return out
}

// MARK: outputs

func requestJson(_ r: HttpRequest) throws -> J {
    var headers: [(String, J)] = []
    for h in r.headers() {
        if headers.contains(where: { $0.0 == h.name }) { throw VectorError(message: "request header \(h.name) appears twice") }
        headers.append((h.name, .string(h.value)))
    }
    guard let body = String(data: r.body(), encoding: .utf8) else { throw VectorError(message: "request body is not UTF-8") }
    return J.obj([("method", .string(r.method())), ("url", .string(r.url())), ("headers", J.obj(headers)), ("body", .string(body))])
}

func tokenSetJson(_ t: TokenSet) -> J {
    J.obj([
        ("access_token", .string(t.accessToken())),
        ("token_type", .string(t.tokenType())),
        ("refresh_token", .str(t.refreshToken())),
        ("id_token", .str(t.idToken())),
        ("expires_at", .u(t.expiresAt())),
        ("expiry_source", .string(expirySourceName(t.expirySource()))),
        ("scopes", .strings(t.scopes())),
        ("extra_names", .strings(t.extraNames().sorted(by: byteOrder))),
    ])
}

func providerJson(_ p: Provider) -> J {
    let grants = p.grants()
    return J.obj([
        ("name", .string(p.name())),
        ("issuer", .str(p.issuer())),
        ("authorization_endpoint", .str(p.authorizationEndpoint())),
        ("token_endpoints", J.obj(grants.map { (grantName($0), J.str(p.tokenEndpoint(grant: $0))) })),
        ("introspection_endpoint", .str(p.introspectionEndpoint())),
        ("revocation_endpoint", .str(p.revocationEndpoint())),
        ("device_authorization_endpoint", .str(p.deviceAuthorizationEndpoint())),
        ("body_encoding", .string(p.bodyEncoding() == .form ? "form" : "json")),
        ("auth_method", p.authMethod().map { .string(authMethodName($0)) } ?? .null),
        ("scope_separator", .string(p.scopeSeparator())),
        ("extra_token_params", .array(p.extraTokenParams().map { .array([.string($0.name), .string($0.value)]) })),
        ("default_skew", .u(p.defaultSkew())),
        ("grants", .strings(grants.map(grantName).sorted(by: byteOrder))),
        ("unsolicited_callbacks", .bool(p.unsolicitedCallbacks())),
        ("iss_parameter_supported", .bool(p.issParameterSupported())),
    ])
}

func pendingJson(_ p: PendingAuthorization) throws -> J {
    let stored = try JSONText.parse(p.toJson())
    return J.obj([
        ("state", stored["state"] ?? .null),
        ("code_verifier", stored["code_verifier"] ?? .null),
        ("redirect_uri", stored["redirect_uri"] ?? .null),
        ("issuer", stored["issuer"] ?? .null),
        ("require_iss", stored["require_iss"] ?? .bool(false)),
    ])
}

func grantJson(_ g: CodeGrant) -> J {
    J.obj([("code", .string(g.code())), ("code_verifier", .str(g.codeVerifier())), ("redirect_uri", .str(g.redirectUri()))])
}

func introspectionJson(_ i: Introspection) throws -> J {
    guard case let .object(_, names) = try JSONText.parse(i.extraJson) else { throw VectorError(message: "extra_json is not an object") }
    return J.obj([
        ("active", .bool(i.active)), ("scopes", .strings(i.scopes)), ("client_id", .str(i.clientId)),
        ("username", .str(i.username)), ("token_type", .str(i.tokenType)), ("exp", .u(i.exp)), ("iat", .u(i.iat)),
        ("sub", .str(i.sub)), ("iss", .str(i.iss)), ("extra_names", .strings(names.sorted(by: byteOrder))),
    ])
}

func deviceAuthorizationJson(_ d: DeviceAuthorization) -> J {
    J.obj([
        ("device_code", .string(d.deviceCode())), ("user_code", .string(d.userCode())),
        ("verification_uri", .string(d.verificationUri())), ("verification_uri_complete", .str(d.verificationUriComplete())),
        ("expires_at", .u(d.expiresAt())), ("interval", .u(d.interval())),
    ])
}

func pollJson(_ p: DevicePoll) -> J {
    switch p {
    case let .tokens(tokens): return J.obj([("poll", .string("tokens")), ("token_set", tokenSetJson(tokens))])
    case let .pending(interval): return J.obj([("poll", .string("pending")), ("interval", .u(interval))])
    case let .slowDown(interval): return J.obj([("poll", .string("slow_down")), ("interval", .u(interval))])
    case .expired: return J.obj([("poll", .string("expired"))])
    case .denied: return J.obj([("poll", .string("denied"))])
    }
}

func errorJson(_ e: GrantlineError) -> [String: J] {
    var m: [String: J] = ["kind": .null, "code": .null, "description": .null, "uri": .null,
                          "status": .null, "excerpt": .null, "grant": .null, "endpoint": .null,
                          "claim": .null, "problem": .null]
    func status(_ s: Int32) -> J { s == 0 ? .null : .i32(s) }
    switch e {
    case let .OAuth(code, description, uri, s):
        m["kind"] = .string("oauth"); m["code"] = .string(code); m["description"] = .str(description)
        m["uri"] = .str(uri); m["status"] = status(s)
    case let .MalformedResponse(kind, s, _, excerpt):
        m["kind"] = .string(kind); m["status"] = status(s); m["excerpt"] = .str(excerpt)
    case let .Configuration(kind, _, grant, endpoint):
        m["kind"] = .string(kind); m["grant"] = grant.map { .string(grantName($0)) } ?? .null
        m["endpoint"] = endpoint.map { .string(endpointName($0)) } ?? .null
    case let .StateMismatch(kind, _): m["kind"] = .string(kind)
    case .ReauthorizationRequired: m["kind"] = .string("reauthorization_required")
    case .Transport: m["kind"] = .string("transport")
    case .Store: m["kind"] = .string("store")
    case let .IdToken(claim, _): m["kind"] = .string("id_token"); m["claim"] = .string(claim)
    case let .Jws(problem, _): m["kind"] = .string("jws"); m["problem"] = .string(problem)
    case .InvalidKey: m["kind"] = .string("invalid_key")
    }
    return m
}

// MARK: comparing

/// An expected integer as the Swift API reports it: `Int64`, and a `u64` past `Int64.max`
/// saturates there (bindings-uniffi/src/num.rs; one vector expects an expiry of 2^64-1). Only
/// integers above `Int64.max` change.
func asSwift(_ expected: J) -> J {
    if case let .int(s) = expected, let v = UInt64(s), v > UInt64(Int64.max) { return .int(String(Int64.max)) }
    return expected
}

func diff(_ path: String, _ expected: J, _ actual: J, _ out: inout [String]) {
    if case let .object(e, eOrder) = expected, case let .object(a, aOrder) = actual {
        for k in eOrder {
            if let av = a[k] { diff("\(path).\(k)", e[k] ?? .null, av, &out) } else { out.append("\(path).\(k): expected \(short(e[k] ?? .null)), not produced") }
        }
        for k in aOrder where e[k] == nil { out.append("\(path).\(k): missing from the vector (got \(short(a[k] ?? .null)))") }
    } else if asSwift(expected) != actual {
        out.append("\(path):\n      expected \(short(expected))\n      got      \(short(actual))")
    }
}

enum Outcome {
    case ok([String: J])
    case core(GrantlineError)
    case vector(String)
}

func attempt(_ body: () throws -> [String: J]) -> Outcome {
    do { return .ok(try body()) } catch let e as GrantlineError { return .core(e) } catch let e as VectorError {
        return .vector(e.message)
    } catch { return .vector("\(error)") }
}

func judge(_ f: Fields, _ required: [String], _ optional: [String], _ actual: Outcome) throws -> String? {
    let expectError = f.has("expect_error")
    let present = (required + optional).filter { f.has($0) }
    if expectError && !present.isEmpty { return "the vector has both `expect_error` and \(present)" }
    if !expectError && present.isEmpty { return "the vector has no expectation: one of `expect_error` or \(required)" }
    if !expectError, let missing = required.first(where: { !f.has($0) }) { return "the vector is missing `\(missing)`" }
    switch actual {
    case let .vector(m): return "cannot run the vector: \(m)"
    case let .core(e):
        guard expectError else { return "unexpected error \(errorJson(e))" }
        return try compareError(f.get("expect_error"), e)
    case let .ok(out):
        if expectError { return "expected the error \(short(f.get("expect_error") ?? .null)), but it succeeded" }
        var diffs: [String] = []
        for k in present { diff(k, try f.value(k), out[k] ?? .null, &diffs) }
        return diffs.isEmpty ? nil : diffs.joined(separator: "\n    ")
    }
}

/// Compares an error with an `expect_error` object: only the fields it lists.
func compareError(_ expected: J?, _ e: GrantlineError) throws -> String? {
    let ef = try Fields(expected, "expect_error", ["kind", "code", "description", "uri", "status", "excerpt", "grant", "endpoint"])
    _ = try ef.str("kind")
    let a = errorJson(e)
    var diffs: [String] = []
    for (k, ev) in ef.map { diff("expect_error.\(k)", ev, a[k] ?? .null, &diffs) }
    return diffs.isEmpty ? nil : "\(diffs.joined(separator: "\n    "))\n    (the error: \(e))"
}

// MARK: the kinds

func buildCall(_ c: Client, _ spec: J?) throws -> HttpRequest {
    guard case let .string(type)? = spec?["type"] else { throw VectorError(message: "call: missing `type`") }
    func fields(_ allowed: [String]) throws -> Fields { try Fields(spec, "call (\(type))", allowed) }
    switch type {
    case "client_credentials":
        let f = try fields(["type", "scopes"]); _ = try f.value("scopes")
        return try c.clientCredentialsRequest(scopes: try f.strings("scopes"))
    case "password":
        let f = try fields(["type", "username", "password", "scopes"]); _ = try f.value("scopes")
        return try c.passwordRequest(username: try f.str("username"), password: try f.str("password"), scopes: try f.strings("scopes"))
    case "refresh_token":
        let f = try fields(["type", "refresh_token", "scopes"]); _ = try f.value("scopes")
        return try c.refreshRequest(refreshToken: try f.str("refresh_token"), scopes: try f.strings("scopes"))
    case "authorization_code":
        let f = try fields(["type", "code", "code_verifier", "redirect_uri"])
        let grant = CodeGrant(code: try f.str("code"), codeVerifier: try f.nullableStr("code_verifier"), redirectUri: try f.nullableStr("redirect_uri"))
        return try c.authorizationCodeRequest(grant: grant)
    case "device_code":
        let f = try fields(["type", "device_code"])
        return try c.deviceTokenRequest(deviceCode: try f.str("device_code"))
    case "device_authorization":
        let f = try fields(["type", "scopes"]); _ = try f.value("scopes")
        return try c.deviceAuthorizationRequest(scopes: try f.strings("scopes"))
    case "introspection":
        let f = try fields(["type", "token", "token_type_hint", "refresh_token"])
        return try c.introspectionRequest(token: try f.str("token"), hint: try hint(try f.nullableStr("token_type_hint")), refreshToken: try f.nullableStr("refresh_token"))
    case "revocation":
        let f = try fields(["type", "token", "token_type_hint"])
        return try c.revocationRequest(token: try f.str("token"), hint: try hint(try f.nullableStr("token_type_hint")))
    default:
        throw VectorError(message: "call: unknown type \(type)")
    }
}

/// Runs one vector: its failure, or nil (a vector that cannot be read is a failure too).
func vectorFailure(_ v: J) -> String? {
    do { return try runVector(v) } catch let e as VectorError { return e.message } catch { return "\(error)" }
}

func withCommon(_ specific: [String]) -> [String] { commonFields + specific }

func runVector(_ v: J) throws -> String? {
    guard case let .object(m, _) = v else { return "not a JSON object" }
    for key in ["name", "kind", "source"] {
        guard case let .string(s)? = m[key], !s.trimmingCharacters(in: .whitespaces).isEmpty else {
            return "`\(key)` is missing or not a non-empty string"
        }
    }
    if let note = m["note"], case .string = note {} else if m["note"] != nil { return "`note` is not a string" }
    guard case let .string(kind)? = m["kind"] else { return "no kind" }
    switch kind {
    case "provider":
        let f = try Fields(v, "vector", withCommon(["provider", "expect_provider", "expect_error"]))
        return try judge(f, ["expect_provider"], [], attempt { ["expect_provider": providerJson(try provider(try f.value("provider")))] })
    case "request":
        let f = try Fields(v, "vector", withCommon(["provider", "client", "call", "expect_request", "expect_error"]))
        return try judge(f, ["expect_request"], [], attempt {
            ["expect_request": try requestJson(try buildCall(try providerAndClient(f), f.get("call")))]
        })
    case "authorization_url":
        let f = try Fields(v, "vector", withCommon(["provider", "client", "request", "seed_hex", "expect_url", "expect_pending", "expect_error"]))
        return try judge(f, ["expect_url", "expect_pending"], [], attempt {
            let r = try Fields(try f.value("request"), "request", ["scopes", "pkce", "redirect_uri", "params"])
            var pkce = PkceMethod.s256
            switch try r.optStr("pkce") ?? "S256" {
            case "S256": pkce = .s256
            case "plain": pkce = .plain
            case let other: throw VectorError(message: "request: unknown pkce \(other)")
            }
            let request = AuthorizationRequest(scopes: try r.strings("scopes"), pkce: pkce, redirectUri: try r.optStr("redirect_uri"),
                                               params: try r.pairs("params").map { Param(name: $0.0, value: $0.1) })
            let s = try seed(try f.str("seed_hex"))
            let a = try providerAndClient(f).authorizationUrlWithSeed(request: request, seed: s)
            return ["expect_url": .string(a.url()), "expect_pending": try pendingJson(a.pending())]
        })
    case "callback":
        let f = try Fields(v, "vector", withCommon(["provider", "client", "pending", "unsolicited", "callback", "expect_grant", "expect_exchange_request", "expect_error"]))
        return try judge(f, ["expect_grant"], ["expect_exchange_request"], attempt {
            let c = try providerAndClient(f)
            let callback = try f.str("callback")
            let unsolicited = try f.boolOr("unsolicited", false)
            let grant: CodeGrant
            if unsolicited && !f.has("pending") {
                grant = try c.unsolicitedCallback(urlOrQuery: callback)
            } else if !unsolicited, let pending = f.get("pending") {
                _ = try Fields(pending, "pending", ["state", "code_verifier", "redirect_uri", "issuer", "require_iss"])
                grant = try c.callback(pending: try PendingAuthorization.fromJson(json: JSONText.write(pending)), urlOrQuery: callback)
            } else {
                throw VectorError(message: "callback: `pending`, or `unsolicited: true`, not both")
            }
            var out = ["expect_grant": grantJson(grant)]
            if f.has("expect_exchange_request") { out["expect_exchange_request"] = try requestJson(try c.authorizationCodeRequest(grant: grant)) }
            return out
        })
    case "token_response":
        let f = try Fields(v, "vector", withCommon(["now", "response", "previous", "provider", "expect_token_set", "expect_rotated", "expect_error"]))
        if f.has("previous") != f.has("expect_rotated") && !f.has("expect_error") { return "`previous` and `expect_rotated` go together" }
        let actual = attempt {
            let resp = try response(f.get("response"))
            var tokens = f.has("provider")
                ? try TokenSet.fromResponseFor(response: resp, now: try f.u64("now"), provider: try provider(f.get("provider")))
                : try TokenSet.fromResponse(response: resp, now: try f.u64("now"))
            var out: [String: J] = [:]
            if let previous = f.get("previous") {
                let p = try Fields(previous, "previous", ["refresh_token"])
                let old = TokenSet(accessToken: "previous-access-token", refreshToken: try p.nullableStr("refresh_token"), expiresAt: nil, issuedAt: 0)
                let renewed = tokens.inheritRefreshToken(previous: old)
                out["expect_rotated"] = .bool(renewed.refreshTokenRotated)
                tokens = renewed.tokens
            }
            out["expect_token_set"] = tokenSetJson(tokens)
            return out
        }
        return try judge(f, f.has("previous") ? ["expect_token_set", "expect_rotated"] : ["expect_token_set"],
                         f.has("previous") ? [] : ["expect_rotated"], actual)
    case "introspection_response":
        let f = try Fields(v, "vector", withCommon(["response", "expect_introspection", "expect_error"]))
        return try judge(f, ["expect_introspection"], [], attempt {
            ["expect_introspection": try introspectionJson(try parseIntrospectionResponse(response: try response(f.get("response"))))]
        })
    case "revocation_response":
        let f = try Fields(v, "vector", withCommon(["response", "expect_revoked", "expect_error"]))
        if let r = f.get("expect_revoked"), r != .bool(true) { return "`expect_revoked` can only be true (use `expect_error`)" }
        return try judge(f, ["expect_revoked"], [], attempt {
            try checkRevocationResponse(response: try response(f.get("response")))
            return ["expect_revoked": .bool(true)]
        })
    case "device_authorization_response":
        let f = try Fields(v, "vector", withCommon(["now", "response", "expect_device_authorization", "expect_error"]))
        return try judge(f, ["expect_device_authorization"], [], attempt {
            ["expect_device_authorization": deviceAuthorizationJson(try DeviceAuthorization.fromResponse(response: try response(f.get("response")), now: try f.u64("now")))]
        })
    case "device_poll_response":
        let f = try Fields(v, "vector", withCommon(["now", "interval", "response", "expect_poll", "expect_error"]))
        return try judge(f, ["expect_poll"], [], attempt {
            ["expect_poll": pollJson(try parseDevicePollResponse(response: try response(f.get("response")), now: try f.u64("now"), interval: try f.u64("interval")))]
        })
    case "www_authenticate":
        let f = try Fields(v, "vector", withCommon(["response", "expect_challenge", "expect_needs_renewal", "expect_challenges"]))
        return try judge(f, ["expect_challenge", "expect_needs_renewal"], ["expect_challenges"], attempt {
            let resp = try response(f.get("response"))
            let challenge: J = bearerChallenge(headers: resp.headers).map {
                J.obj([("realm", .str($0.realm)), ("scope", .strings($0.scope)), ("error", .str($0.error)),
                       ("error_description", .str($0.errorDescription)), ("error_uri", .str($0.errorUri))])
            } ?? .null
            var challenges: [J] = []
            for h in resp.headers where h.name == "www-authenticate" {
                for c in parseWwwAuthenticate(value: h.value) {
                    challenges.append(J.obj([("scheme", .string(c.scheme)), ("token68", .str(c.token68)),
                                             ("params", .array(c.params.map { .array([.string($0.name), .string($0.value)]) }))]))
                }
            }
            return ["expect_challenge": challenge,
                    "expect_needs_renewal": .bool(needsRenewal(status: resp.status, headers: resp.headers)),
                    "expect_challenges": .array(challenges)]
        })
    case "discovery":
        return try runDiscovery(v)
    case "redact_url":
        let f = try Fields(v, "vector", withCommon(["url", "expect_url"]))
        var diffs: [String] = []
        diff("expect_url", try f.value("expect_url"), .string(redactUrl(url: try f.str("url"))), &diffs)
        return diffs.isEmpty ? nil : diffs.joined(separator: "\n    ")
    case "session":
        return try runSession(v)
    default:
        return "unknown kind \(kind)"
    }
}

// MARK: discovery and the sans-IO session

func runDiscovery(_ v: J) throws -> String? {
    let f = try Fields(v, "vector", withCommon(["input", "responses", "expect_issuer", "expect_urls", "expect_provider", "expect_error"]))
    guard case let .array(responses) = try f.value("responses") else { return "`responses` is not a list" }
    if f.has("expect_error") && !f.has("expect_issuer") && !responses.isEmpty { return "an error from Discovery(...) has no responses" }
    // The issuer and URLs are compared whenever the vector gives them, also with `expect_error`
    // (an error from `receive`, after a constructor that succeeded).
    var seen: [String: J] = [:]
    let actual = attempt {
        let d = try Discovery(issuerOrUrl: try f.str("input"))
        let urls = d.urls()
        seen = ["expect_issuer": .string(d.issuer()), "expect_urls": .strings(urls)]
        var out = seen
        if responses.isEmpty { throw VectorError(message: "a discovery that succeeds needs responses") }
        for (i, spec) in responses.enumerated() {
            let request = d.request()
            guard i < urls.count else { throw VectorError(message: "more responses than well-known URLs") }
            let parts = request.parts()
            if parts.url != urls[i] || parts.method != "GET" || request.header(name: "accept") != "application/json" || !parts.body.isEmpty {
                throw VectorError(message: "request \(i) is not GET \(urls[i]): \(request)")
            }
            let last = i == responses.count - 1
            let found = try d.receive(response: try response(spec))
            if let provider = found {
                guard last else { throw VectorError(message: "a provider after response \(i), before the last") }
                out["expect_provider"] = providerJson(provider)
            } else if last {
                throw VectorError(message: "discovery wants another response")
            }
        }
        return out
    }
    if f.has("expect_error"), f.has("expect_issuer"), case let .core(e) = actual {
        var diffs: [String] = []
        for k in ["expect_issuer", "expect_urls"] { diff(k, try f.value(k), seen[k] ?? .null, &diffs) }
        if !diffs.isEmpty { return diffs.joined(separator: "\n    ") }
        return try compareError(f.get("expect_error"), e)
    }
    return try judge(f, ["expect_issuer", "expect_urls", "expect_provider"], [], actual)
}

func sessionState(_ c: Client, _ spec: J?) throws -> SessionState {
    guard case let .string(type)? = spec?["type"] else { throw VectorError(message: "grant: `type` missing") }
    switch type {
    case "client_credentials":
        let f = try Fields(spec, "grant", ["type", "scopes"])
        return SessionState.clientCredentials(client: c, scopes: try f.strings("scopes"))
    case "password":
        let f = try Fields(spec, "grant", ["type", "username", "password", "scopes"])
        return SessionState.password(client: c, username: try f.str("username"), password: try f.str("password"), scopes: try f.strings("scopes"))
    case "refresh_only":
        _ = try Fields(spec, "grant", ["type"])
        return SessionState.refreshOnly(client: c)
    default:
        throw VectorError(message: "grant: unknown type \(type)")
    }
}

func nextJson(_ n: Next) throws -> J {
    switch n {
    case let .ready(token): return J.obj([("next", .string("ready")), ("token", .string(token))])
    case let .wait(id): return J.obj([("next", .string("wait")), ("id", .u(id))])
    case let .send(id, request, current):
        return J.obj([("next", .string("send")), ("id", .u(id)), ("current", .str(current)), ("request", try requestJson(request))])
    }
}

func completionJson(_ c: Completion) -> J {
    let renewed: J = c.renewed.map {
        J.obj([("access_token", .string($0.tokens.accessToken())), ("refresh_token", .str($0.tokens.refreshToken())),
               ("rotated", .bool($0.refreshTokenRotated))])
    } ?? .null
    let error: J = c.error.map { e in J.obj(errorJson(e).map { ($0.key, $0.value) }) } ?? .null
    return J.obj([("renewed", renewed), ("error", error)])
}

func compareNext(_ expected: J, _ n: Next) throws -> String? {
    var actual = try nextJson(n)
    if expected["request"] == nil, case let .object(m, order) = actual {
        var without = m
        without["request"] = nil
        actual = .object(without, order.filter { $0 != "request" })
    }
    var diffs: [String] = []
    diff("expect", expected, actual, &diffs)
    return diffs.isEmpty ? nil : diffs.joined(separator: "\n    ")
}

func compareCompletion(_ expected: J, _ c: Completion) throws -> String? {
    let f = try Fields(expected, "expect_completion", ["renewed", "error"])
    var diffs: [String] = []
    diff("expect_completion.renewed", try f.value("renewed"), completionJson(c)["renewed"] ?? .null, &diffs)
    let want = try f.value("error")
    switch (want == .null, c.error) {
    case (true, nil): break
    case let (true, e?): diffs.append("expect_completion.error: expected none, got \(e)")
    case (false, nil): diffs.append("expect_completion.error: expected an error, got none")
    case let (false, e?): if let d = try compareError(want, e) { diffs.append(d) }
    }
    return diffs.isEmpty ? nil : diffs.joined(separator: "\n    ")
}

func runStep(_ s: SessionState, _ step: J) throws -> String? {
    guard case let .string(op)? = step["op"] else { throw VectorError(message: "`op` missing") }
    func nextOrError(_ f: Fields, _ body: () throws -> Next) throws -> String? {
        var result: Next?
        var failure: GrantlineError?
        do { result = try body() } catch let e as GrantlineError { failure = e }
        switch (f.get("expect"), f.get("expect_error")) {
        case let (expected?, nil):
            if let r = result { return try compareNext(expected, r) }
            return "expected a next, got the error \(failure.map { "\($0)" } ?? "?")"
        case let (nil, expected?):
            if let e = failure { return try compareError(expected, e) }
            return "expected an error, got \(short(try result.map(nextJson) ?? .null))"
        default:
            return "exactly one of `expect` and `expect_error`"
        }
    }
    func completionOrError(_ f: Fields, _ body: () throws -> Completion) throws -> String? {
        var result: Completion?
        var failure: GrantlineError?
        do { result = try body() } catch let e as GrantlineError { failure = e }
        switch (f.get("expect_completion"), f.get("expect_error")) {
        case let (expected?, nil):
            if let r = result { return try compareCompletion(expected, r) }
            return "expected a completion, got the error \(failure.map { "\($0)" } ?? "?")"
        case let (nil, expected?):
            if let e = failure { return try compareError(expected, e) }
            return "expected an error, got \(short(result.map(completionJson) ?? .null))"
        default:
            return "exactly one of `expect_completion` and `expect_error`"
        }
    }
    func boolean(_ f: Fields, _ got: Bool) throws -> String? {
        guard case let .bool(want) = try f.value("expect") else { throw VectorError(message: "`expect` is not a boolean") }
        return want == got ? nil : "expected \(want), got \(got)"
    }
    switch op {
    case "next":
        let f = try Fields(step, "step", ["op", "now", "expect", "expect_error"])
        return try nextOrError(f) { try s.next(now: try f.u64("now")) }
    case "waited":
        let f = try Fields(step, "step", ["op", "id", "now", "expect", "expect_error"])
        return try nextOrError(f) { try s.waited(id: try f.u64("id"), now: try f.u64("now")) }
    case "receive":
        let f = try Fields(step, "step", ["op", "id", "now", "response", "expect_completion", "expect_error"])
        let resp = try response(f.get("response"))
        return try completionOrError(f) { try s.receive(id: try f.u64("id"), response: resp, now: try f.u64("now")) }
    case "fail":
        let f = try Fields(step, "step", ["op", "id", "now", "reason", "expect_completion", "expect_error"])
        return try completionOrError(f) { try s.fail(id: try f.u64("id"), reason: try f.str("reason"), now: try f.u64("now")) }
    case "delivered":
        let f = try Fields(step, "step", ["op", "id", "expect"])
        return try boolean(f, s.delivered(id: try f.u64("id")))
    case "abandon":
        let f = try Fields(step, "step", ["op", "id", "expect"])
        return try boolean(f, s.abandon(id: try f.u64("id")))
    case "reject":
        let f = try Fields(step, "step", ["op", "token", "expect"])
        return try boolean(f, s.reject(token: try f.str("token")))
    case "ready_until":
        let f = try Fields(step, "step", ["op", "expect"])
        let got = J.u(s.readyUntil())
        let want = try f.value("expect")
        return asSwift(want) == got ? nil : "ready_until: expected \(short(want)), got \(short(got))"
    default:
        return "unknown op \(op)"
    }
}

func runSession(_ v: J) throws -> String? {
    let f = try Fields(v, "vector", withCommon(["provider", "client", "grant", "tokens", "skew", "steps"]))
    let c: Client
    do { c = try providerAndClient(f) } catch let e as GrantlineError { return "building the client failed: \(e)" }
    let s = try sessionState(c, f.get("grant"))
    if let tokens = f.get("tokens") {
        do { s.restore(tokens: try TokenSet.fromJson(json: JSONText.write(tokens))) } catch let e as GrantlineError {
            return "tokens: \(e)"
        }
    }
    if f.has("skew") { s.setSkew(seconds: try f.u64("skew")) }
    guard case let .array(steps) = try f.value("steps") else { return "`steps` is not a list" }
    if steps.isEmpty { return "no steps" }
    for (i, step) in steps.enumerated() {
        let failure: String?
        do { failure = try runStep(s, step) } catch let e as VectorError { failure = e.message }
        if let failure = failure { return "step \(i) (\(short(step))): \(failure)" }
    }
    return nil
}
