// The Swift binding's suite: the same cases as the Kotlin test program
// (bindings-uniffi/tests/kotlin): every shared vector, and against the real servers of
// tests/interop (through URLSessionTransport): client credentials, authorization code + PKCE,
// refresh with rotation, introspection, revocation, password, JSON bodies, 100 threads -> one
// token request, the 401 helper, errors by type, no secret in any description; the hostile
// server (deadlines, bounded bodies, redirects, compression, error pages); the session's
// liveness rules with in-memory endpoints.
//
//   bindings-uniffi/generate.sh release
//   tests/interop/servers.sh run -- swift test --package-path bindings-uniffi/swift
import Foundation
import Grantline
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let callbackURI = "http://127.0.0.1:8765/callback"
let apiResource = "urn:example:api"
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

func server(_ variable: String) throws -> String {
    guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
        throw VectorError(message: "\(variable) is not set: run under tests/interop/servers.sh run -- swift test ...")
    }
    return url.hasSuffix("/") ? String(url.dropLast()) : url
}

let transport = URLSessionTransport()

/// Counts what goes through it, token endpoint requests apart, and can slow each exchange.
final class CountingTransport: HttpTransport, @unchecked Sendable {
    private let inner: HttpTransport
    private let delay: TimeInterval
    private let lock = NSLock()
    private(set) var tokenRequests = 0
    private(set) var all = 0
    private(set) var responses: [HttpResponse] = []

    init(_ inner: HttpTransport, delay: TimeInterval = 0) {
        self.inner = inner
        self.delay = delay
    }

    private func count(_ request: HttpRequest) {
        lock.lock()
        all += 1
        if request.url().hasSuffix("/token") { tokenRequests += 1 }
        lock.unlock()
    }

    private func record(_ response: HttpResponse) -> HttpResponse {
        lock.lock()
        responses.append(response)
        lock.unlock()
        return response
    }

    func send(request: HttpRequest) throws -> HttpResponse {
        count(request)
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
        return record(try inner.send(request: request))
    }

    func sendAsync(request: HttpRequest) async throws -> HttpResponse {
        count(request)
        if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000)) }
        return record(try await inner.sendAsync(request: request))
    }
}

final class RecordingListener: TokenListener, @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Renewed] = []
    var renewals: [Renewed] { lock.lock(); defer { lock.unlock() }; return items }
    func onTokens(renewed: Renewed) throws {
        lock.lock()
        items.append(renewed)
        lock.unlock()
    }
}

final class FailingListener: TokenListener, @unchecked Sendable {
    func onTokens(renewed: Renewed) throws { throw GrantlineError.Transport(reason: "disk full") }
}

final class BrokenTransport: BlockingHttpTransport, @unchecked Sendable {
    struct Boom: Error {}
    func send(request: HttpRequest) throws -> HttpResponse { throw Boom() }
}

func get(_ url: String, token: String? = nil) throws -> HttpResponse {
    let headers = try token.map { [try authorizationHeader(accessToken: $0)] } ?? []
    return try transport.send(request: try HttpRequest(method: "GET", url: url, headers: headers, body: Data()))
}

/// oidc-provider, discovered from its issuer (RFC 8414's URL answers 404, OpenID Connect's is next).
func oidc() throws -> Provider { try discover(issuer: try server("GRANTLINE_OIDC_URL"), transport: transport) }
/// Authlib, from the full URL of its RFC 8414 metadata (the issuer is derived from it).
func authlib() throws -> Provider {
    try discover(issuer: "\(try server("GRANTLINE_AUTHLIB_URL"))/.well-known/oauth-authorization-server", transport: transport)
}
/// The mock's metadata lists only `none` although it checks test-client's secret: use Basic.
func mock() throws -> Provider {
    try discover(issuer: try server("GRANTLINE_MOCK_URL"), transport: transport).toBuilder().authMethod(method: .basic).build()
}

func confidential(_ p: Provider, _ t: HttpTransport = transport, method: ClientAuthMethod? = nil) -> Client {
    Client(provider: p, clientId: "test-client", clientSecret: "test-secret", redirectUri: callbackURI, authMethod: method, transport: t)
}

func authlibMe(_ token: String?) throws -> HttpResponse { try get("\(try server("GRANTLINE_AUTHLIB_URL"))/api/me", token: token) }

/// A scripted browser: a URLSession with cookies, redirects followed by hand until one points at
/// the redirect URI (the servers approve login and consent on their own).
final class Browser: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    private lazy var session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }

    func authorize(_ url: String, stopAt: String = callbackURI) throws -> String {
        var current = URL(string: url)!
        for _ in 0..<12 {
            let done = DispatchSemaphore(value: 0)
            var answer: HTTPURLResponse?
            session.dataTask(with: current) { _, response, _ in
                answer = response as? HTTPURLResponse
                done.signal()
            }.resume()
            done.wait()
            guard let r = answer, (300..<400).contains(r.statusCode),
                  let location = r.value(forHTTPHeaderField: "Location"),
                  let next = URL(string: location, relativeTo: current)?.absoluteURL else {
                throw VectorError(message: "the authorization ended on HTTP \(answer?.statusCode ?? 0) at \(current.path)")
            }
            if next.absoluteString.hasPrefix(stopAt) { return next.absoluteString }
            current = next
        }
        throw VectorError(message: "too many redirects")
    }
}

func authorize(_ client: Client, _ request: AuthorizationRequest) throws -> (String, CodeGrant) {
    let auth = try client.authorizationUrl(request: request)
    let stored = auth.pending().toJson()   // survives process death as JSON
    let callback = try Browser().authorize(auth.url())
    return (callback, try client.callback(pending: try PendingAuthorization.fromJson(json: stored), urlOrQuery: callback))
}

let oidcRequest = AuthorizationRequest(scopes: ["openid", "offline_access", "api:read"],
                                       params: [Param(name: "resource", value: apiResource), Param(name: "prompt", value: "consent")])
let authlibRequest = AuthorizationRequest(scopes: ["read", "profile"])

func assertOAuth(_ code: String, _ status: Int32?, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
    do {
        try body()
        XCTFail("expected GrantlineError.OAuth(\(code))", file: file, line: line)
    } catch let GrantlineError.OAuth(c, _, _, s) {
        XCTAssertEqual(c, code, file: file, line: line)
        if let status = status { XCTAssertEqual(s, status, file: file, line: line) }
    } catch {
        XCTFail("expected GrantlineError.OAuth(\(code)), got \(error)", file: file, line: line)
    }
}

final class VectorTests: XCTestCase {
    func testEveryVector() throws {
        let dir = repositoryRoot.appendingPathComponent("tests/vectors")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        for required in seedFiles + extraFiles { XCTAssertTrue(files.contains(required), "\(required) missing") }
        var names = Set<String>()
        var seedCount = 0, extraCount = 0, passed = 0
        var failures: [String] = []
        for file in files {
            let doc = try JSONText.parse(try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8))
            let f = try Fields(doc, file, ["format", "description", "vectors"])
            XCTAssertEqual(try f.u64("format"), 1, file)
            XCTAssertFalse(try f.str("description").isEmpty, file)
            guard case let .array(vectors) = try f.value("vectors"), !vectors.isEmpty else { XCTFail("\(file): no vectors"); continue }
            if seedFiles.contains(file) { seedCount += vectors.count } else { extraCount += vectors.count }
            for (i, v) in vectors.enumerated() {
                var name = "#\(i)"
                if case let .string(n)? = v["name"] { name = n }
                if !names.insert(name).inserted { failures.append("\(file): \(name): duplicate name"); continue }
                let failure: String?
                failure = vectorFailure(v)
                if let failure = failure { failures.append("\(file): \(name)\n    \(failure)") } else { passed += 1 }
            }
        }
        print("vectors: \(passed) passed, \(failures.count) failed")
        XCTAssertGreaterThanOrEqual(seedCount, 37)
        XCTAssertGreaterThanOrEqual(extraCount, 40)
        XCTAssertTrue(failures.isEmpty, failures.joined(separator: "\n"))
    }

    func testTheRunnerFailsWhatItCannotCheck() throws {
        let right = """
        {"name":"self-test","kind":"request","source":"runner self-test","provider":{"preset":"libro"},
         "client":{"client_id":"YOUR_CLIENT_ID","client_secret":"YOUR_CLIENT_SECRET"},
         "call":{"type":"client_credentials","scopes":[]},
         "expect_request":{"method":"POST","url":"https://api.libroreserve.com/oauth/token",
           "headers":{"accept":"application/json","content-type":"application/x-www-form-urlencoded"},
           "body":"grant_type=client_credentials&client_id=YOUR_CLIENT_ID&client_secret=YOUR_CLIENT_SECRET"}}
        """
        XCTAssertNil(vectorFailure(try JSONText.parse(right)))
        let wrongBody = right.replacingOccurrences(of: "client_secret=YOUR_CLIENT_SECRET\"", with: "\"")
        XCTAssertTrue(vectorFailure(try JSONText.parse(wrongBody))?.contains("expect_request.body") ?? false)
        let unknownKind = #"{"name":"x","kind":"no_such_kind","source":"t"}"#
        XCTAssertTrue(vectorFailure(try JSONText.parse(unknownKind))?.contains("unknown kind") ?? false)
        let typo = right.replacingOccurrences(of: "\"expect_request\"", with: "\"expect_requst\"")
        XCTAssertTrue(vectorFailure(try JSONText.parse(typo))?.contains("unknown field") ?? false)
        let wrongType = right.replacingOccurrences(of: "\"client_credentials\",\"scopes\"", with: "\"implicit\",\"scopes\"")
        XCTAssertTrue(vectorFailure(try JSONText.parse(wrongType))?.contains("unknown type") ?? false)
    }
}

final class InteropTests: XCTestCase {
    func testClientCredentialsOnEveryServer() throws {
        let p = try oidc()
        let viaBasic = try confidential(p).clientCredentials(scopes: ["api:read"])
        let viaBody = try confidential(p, method: .body).clientCredentials(scopes: ["api:read"])
        for t in [viaBasic, viaBody] {
            XCTAssertEqual(t.tokenType(), "Bearer")
            XCTAssertEqual(t.scopes(), ["api:read"])
            XCTAssertNil(t.refreshToken())
            XCTAssertTrue((3590...3600).contains(t.lifetime() ?? 0))
        }
        XCTAssertNotEqual(viaBasic.accessToken(), viaBody.accessToken())
        let a = try confidential(try authlib()).clientCredentials(scopes: ["read"])
        XCTAssertEqual(try authlibMe(a.accessToken()).status, 200)
        for m in [ClientAuthMethod.basic, .body] {
            XCTAssertEqual(try confidential(try mock(), method: m).clientCredentials(scopes: ["api"]).expirySource(), .expiresIn)
        }
    }

    func testAuthorizationCodeWithPkce() throws {
        let client = confidential(try oidc())
        let (callback, grant) = try authorize(client, oidcRequest)
        XCTAssertTrue(callback.contains("iss="))
        let tokens = try client.exchangeCode(grant: grant)
        XCTAssertNotNil(tokens.refreshToken())
        XCTAssertNotNil(tokens.idToken())
        XCTAssertEqual(tokens.scopes(), ["api:read"])
        XCTAssertTrue(try client.introspect(token: tokens.accessToken(), hint: .accessToken).active)
        assertOAuth("invalid_grant", 400) { _ = try client.exchangeCode(grant: grant) }

        let a = confidential(try authlib())
        let (_, g) = try authorize(a, authlibRequest)
        XCTAssertEqual(try authlibMe(try a.exchangeCode(grant: g).accessToken()).status, 200)
        let pub = Client(provider: try authlib(), clientId: "public-client", redirectUri: callbackURI, transport: transport)
        XCTAssertEqual(pub.authMethod(), .`public`)
        let (_, pg) = try authorize(pub, authlibRequest)
        XCTAssertNil(try pub.authorizationCodeRequest(grant: pg).header(name: "authorization"))
        XCTAssertEqual(try authlibMe(try pub.exchangeCode(grant: pg).accessToken()).status, 200)
    }

    func testAForeignStateIsStateMismatch() throws {
        let client = confidential(try authlib())
        let auth = try client.authorizationUrl(request: authlibRequest)
        let callback = try Browser().authorize(auth.url())
        let other = try client.authorizationUrl(request: authlibRequest)
        XCTAssertThrowsError(try client.callback(pending: other.pending(), urlOrQuery: callback)) {
            guard case let .StateMismatch(kind, _)? = $0 as? GrantlineError else {
                return XCTFail("expected StateMismatch, got \($0)")
            }
            XCTAssertEqual(kind, "state_mismatch")
        }
        _ = try client.callback(pending: auth.pending(), urlOrQuery: callback)
    }

    func testRefreshRotationThroughTokenSessionAndListener() throws {
        for (provider, request, replayKills) in [(try oidc(), oidcRequest, true), (try authlib(), authlibRequest, false)] {
            let client = confidential(provider)
            let first = try client.exchangeCode(grant: try authorize(client, request).1)
            let listener = RecordingListener()
            let session = try TokenSession.fromTokens(client: client, tokens: first, listener: listener)
            XCTAssertEqual(try session.accessToken(), first.accessToken())
            XCTAssertTrue(session.reject(accessToken: first.accessToken()))
            let second = try session.accessToken()
            XCTAssertNotEqual(second, first.accessToken())
            XCTAssertEqual(listener.renewals.count, 1)
            let renewed = listener.renewals[0]
            XCTAssertTrue(renewed.refreshTokenRotated)
            XCTAssertNotEqual(renewed.tokens.refreshToken(), first.refreshToken())
            XCTAssertEqual(session.tokens()?.refreshToken(), renewed.tokens.refreshToken())
            assertOAuth("invalid_grant", 400) { _ = try client.refresh(tokens: first) }
            if replayKills {
                assertOAuth("invalid_grant", 400) { _ = try client.refresh(tokens: renewed.tokens) }
            } else {
                XCTAssertTrue(try client.refresh(tokens: renewed.tokens).refreshTokenRotated)
            }
        }
    }

    func testIntrospectionAndRevocation() throws {
        for (provider, scope) in [(try oidc(), "api:read"), (try authlib(), "read")] {
            let client = confidential(provider)
            let token = try client.clientCredentials(scopes: [scope]).accessToken()
            let info = try client.introspect(token: token, hint: .accessToken)
            XCTAssertTrue(info.active)
            XCTAssertEqual(info.clientId, "test-client")
            XCTAssertEqual(info.scopes, [scope])
            try client.revoke(token: token, hint: .accessToken)
            XCTAssertFalse(try client.introspect(token: token).active)
            try client.revoke(token: token)
        }
    }

    func testPasswordGrantAndSession() throws {
        let client = confidential(try authlib())
        let tokens = try client.password(username: "alice", password: "wonderland", scopes: ["read"])
        XCTAssertNotNil(tokens.refreshToken())
        assertOAuth("invalid_request", 400) { _ = try client.password(username: "alice", password: "looking-glass", scopes: ["read"]) }
        let counting = CountingTransport(transport)
        let listener = RecordingListener()
        let session = try TokenSession.password(client: confidential(try authlib(), counting), username: "alice",
                                                password: "wonderland", scopes: ["read"], listener: listener)
        let first = try session.accessToken()
        XCTAssertTrue(session.reject(accessToken: first))
        XCTAssertEqual(try authlibMe(try session.accessToken()).status, 200)
        XCTAssertEqual(counting.tokenRequests, 2)
        XCTAssertTrue(listener.renewals[1].refreshTokenRotated)
    }

    func testJsonBodiesOnAuthlib() throws {
        let base = try server("GRANTLINE_AUTHLIB_URL")
        let provider = try ProviderBuilder(name: "json-authlib")
            .tokenEndpoint(url: "\(base)/token").introspectionEndpoint(url: "\(base)/introspect")
            .bodyEncoding(encoding: .json).authMethod(method: .body)
            .extraTokenParam(name: "audience", value: "https://api.example.com")
            .grant(grant: .clientCredentials).grant(grant: .password).grant(grant: .refreshToken)
            .build()
        let client = confidential(provider)
        let request = try client.clientCredentialsRequest(scopes: ["read"])
        XCTAssertEqual(request.header(name: "content-type"), "application/json")
        let body = try JSONText.parse(String(decoding: request.body(), as: UTF8.self))
        XCTAssertEqual(body["audience"], .string("https://api.example.com"))
        let tokens = try client.clientCredentials(scopes: ["read"])
        XCTAssertEqual(try authlibMe(tokens.accessToken()).status, 200)
        XCTAssertTrue(try client.introspect(token: tokens.accessToken()).active)
        XCTAssertTrue(try client.refresh(tokens: try client.password(username: "alice", password: "wonderland", scopes: ["read"])).refreshTokenRotated)
    }

    func testHundredThreadsOneTokenRequest() throws {
        let counting = CountingTransport(transport, delay: 0.1)
        let listener = RecordingListener()
        let session = try TokenSession.clientCredentials(client: confidential(try authlib(), counting), scopes: ["read"], listener: listener)
        func hammer(_ action: @escaping () throws -> String) -> Set<String> {
            let lock = NSLock()
            var results: [String] = []
            var errors: [Error] = []
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for _ in 0..<100 {
                group.enter()
                Thread {
                    start.wait()
                    do { let r = try action(); lock.lock(); results.append(r); lock.unlock() } catch {
                        lock.lock(); errors.append(error); lock.unlock()
                    }
                    group.leave()
                }.start()
            }
            for _ in 0..<100 { start.signal() }
            group.wait()
            XCTAssertTrue(errors.isEmpty, "\(errors)")
            XCTAssertEqual(results.count, 100)
            return Set(results)
        }
        let first = hammer { try session.accessToken() }
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(counting.tokenRequests, 1)
        let token = first.first!
        let second = hammer { _ = session.reject(accessToken: token); return try session.accessToken() }
        XCTAssertEqual(second.count, 1)
        XCTAssertNotEqual(second.first, token)
        XCTAssertEqual(counting.tokenRequests, 2)
        XCTAssertEqual(listener.renewals.count, 2)
    }

    func testSendRenewsOnceAfterARealUnauthorized() throws {
        let counting = CountingTransport(transport)
        let client = confidential(try authlib(), counting)
        let session = try TokenSession.clientCredentials(client: client, scopes: ["read"])
        let api = try HttpRequest(method: "GET", url: "\(try server("GRANTLINE_AUTHLIB_URL"))/api/me", headers: [], body: Data())
        XCTAssertEqual(try session.send(request: api).status, 200)
        try client.revoke(token: try session.accessToken(), hint: .accessToken)
        let before = counting.all
        XCTAssertEqual(try session.send(request: api).status, 200)
        XCTAssertEqual(counting.tokenRequests, 2)
        XCTAssertEqual(counting.all, before + 3)
    }

    func testErrorsByType() throws {
        for p in [try oidc(), try authlib(), try mock()] {
            for m in [ClientAuthMethod.basic, .body] {
                let c = Client(provider: p, clientId: "test-client", clientSecret: "not-the-secret", authMethod: m, transport: transport)
                assertOAuth("invalid_client", nil) { _ = try c.clientCredentials() }
            }
        }
        XCTAssertThrowsError(try ProviderBuilder(name: "x").tokenEndpoint(url: "http://example.com/token").build()) {
            guard case let GrantlineError.Configuration(kind, _, _, _)? = $0 as? GrantlineError else { return XCTFail("\($0)") }
            XCTAssertEqual(kind, "insecure_endpoint")
        }
        let closed = try ProviderBuilder(name: "closed").tokenEndpoint(url: "http://127.0.0.1:1/token").grant(grant: .clientCredentials).build()
        XCTAssertThrowsError(try Client(provider: closed, clientId: "id", clientSecret: "s", transport: transport).clientCredentials()) {
            guard case GrantlineError.Transport? = $0 as? GrantlineError else { return XCTFail("\($0)") }
        }
        let broken = try TokenSession.clientCredentials(client: Client(provider: closed, clientId: "id", clientSecret: "s", transport: BrokenTransport()))
        XCTAssertThrowsError(try broken.accessToken()) {
            guard case GrantlineError.Transport? = $0 as? GrantlineError else { return XCTFail("\($0)") }
        }
        let html = HttpResponse(status: 502, headers: [Header(name: "content-type", value: "text/html")], body: Data("<html><h1>502 Bad Gateway</h1></html>".utf8))
        XCTAssertThrowsError(try TokenSet.fromResponse(response: html, now: 0)) {
            guard case let GrantlineError.MalformedResponse(kind, _, _, excerpt)? = $0 as? GrantlineError else { return XCTFail("\($0)") }
            XCTAssertEqual(kind, "unexpected_status")
            XCTAssertTrue(excerpt?.contains("502 Bad Gateway") ?? false)
        }
        let client = confidential(try authlib())
        let tokens = try client.exchangeCode(grant: try authorize(client, authlibRequest).1)
        try client.revoke(token: tokens.refreshToken()!, hint: .refreshToken)
        let session = try TokenSession.fromTokens(client: client, tokens: tokens)
        _ = session.reject(accessToken: tokens.accessToken())
        assertOAuth("invalid_grant", 400) { _ = try session.accessToken() }
        XCTAssertThrowsError(try session.accessToken()) { XCTAssertEqual($0 as? GrantlineError, .ReauthorizationRequired) }
        let failing = try TokenSession.clientCredentials(client: confidential(try authlib()), scopes: ["read"], listener: FailingListener())
        XCTAssertThrowsError(try failing.accessToken()) { XCTAssertEqual($0 as? GrantlineError, .Transport(reason: "disk full")) }
        XCTAssertNotNil(failing.tokens())
    }

    func testRedirectsAreNeverFollowed() throws {
        let client = confidential(try authlib())
        let r = try get(try client.authorizationUrl(request: authlibRequest).url())
        XCTAssertTrue((300..<400).contains(Int(r.status)))
        XCTAssertTrue(r.headers.first { $0.name == "location" }?.value.hasPrefix(callbackURI) ?? false)
    }

    func testNoSecretInAnyDescription() throws {
        let recording = CountingTransport(transport)
        let client = confidential(try authlib(), recording)
        let auth = try client.authorizationUrl(request: authlibRequest)
        let grant = try client.callback(pending: auth.pending(), urlOrQuery: try Browser().authorize(auth.url()))
        let tokens = try client.exchangeCode(grant: grant)
        let passwordRequest = try client.passwordRequest(username: "alice", password: "wonderland", scopes: ["read"])
        let listener = RecordingListener()
        let session = try TokenSession.fromTokens(client: client, tokens: tokens, listener: listener)
        _ = session.reject(accessToken: tokens.accessToken())
        _ = try session.accessToken()
        let renewed = listener.renewals[0]
        var oauthError: Error?
        do { _ = try client.password(username: "alice", password: "wonderland-wrong") } catch { oauthError = error }
        let state = try JSONText.parse(auth.pending().toJson())["state"]
        guard case let .string(stateValue)? = state else { return XCTFail("no state") }
        let secrets = ["test-secret", "wonderland", tokens.accessToken(), tokens.refreshToken()!, renewed.tokens.accessToken(),
                       renewed.tokens.refreshToken()!, grant.code(), grant.codeVerifier()!, stateValue,
                       Data("test-client:test-secret".utf8).base64EncodedString()]
        let shown = [client.description, tokens.description, renewed.tokens.description, passwordRequest.description,
                     try client.refreshRequest(refreshToken: tokens.refreshToken()!).description, auth.description,
                     auth.pending().description, grant.description, String(describing: oauthError),
                     try authorizationHeader(accessToken: tokens.accessToken()).description,
                     passwordRequest.headers().map(\.description).joined(), recording.responses.map(\.description).joined()]
        XCTAssertTrue(recording.responses.contains { String(decoding: $0.body, as: UTF8.self).contains(tokens.accessToken()) })
        for text in shown {
            for secret in secrets { XCTAssertFalse(text.contains(secret), "a secret shows in: \(text)") }
        }
    }
}

// MARK: the hostile server (tests/hostile), through URLSessionTransport

let hostileSecrets = ["S3cr3t!x", "Xy7#longsecretvalue", "hostile-leaked-access-token-0123456789"]

final class HostileTests: XCTestCase {
    let short: TimeInterval = 2

    func base() throws -> String { try server("GRANTLINE_HOSTILE_URL") }

    func request(_ path: String, method: String = "POST", timeout: TimeInterval? = 2) throws -> HttpRequest {
        try HttpRequest(method: method, url: "\(try base())\(path)", headers: [Header(name: "accept", value: "application/json")],
                        body: method == "POST" ? Data("grant_type=client_credentials".utf8) : Data(),
                        timeout: timeout, maxResponseBody: maxResponseBody())
    }

    func tokenClient(_ path: String, timeout: TimeInterval? = 2, via: HttpTransport = transport) throws -> Client {
        let p = try ProviderBuilder(name: "hostile").tokenEndpoint(url: "\(try base())\(path)").grant(grant: .clientCredentials).build()
        return Client(provider: p, clientId: "hostile-client", clientSecret: "hostile-secret", transport: via, timeout: timeout)
    }

    /// `body` must throw GrantlineError.Transport by the 2 s deadline, and not much later.
    func endsAtDeadline(_ what: String, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        let start = Date()
        do {
            try body()
            XCTFail("\(what): no error", file: file, line: line)
        } catch let GrantlineError.Transport(reason) {
            let elapsed = Date().timeIntervalSince(start)
            XCTAssertTrue((1.7...4.5).contains(elapsed), "\(what) ended after \(elapsed) s: \(reason)", file: file, line: line)
            XCTAssertTrue(reason.contains("deadline"), reason, file: file, line: line)
            XCTAssertFalse(reason.contains("?"), reason, file: file, line: line)
        } catch {
            XCTFail("\(what): expected Transport, got \(error)", file: file, line: line)
        }
    }

    func testDeadlinesPerRequestPerClientPerTransport() throws {
        endsAtDeadline("/drip") { _ = try transport.send(request: try request("/drip?interval=0.5")) }
        endsAtDeadline("/drip-headers") { _ = try transport.send(request: try request("/drip-headers?interval=0.5")) }
        endsAtDeadline("/hang") { _ = try transport.send(request: try request("/hang")) }
        endsAtDeadline("/drip via Client") { _ = try tokenClient("/drip").clientCredentials() }
        endsAtDeadline("/drip via Client.withTimeout") { _ = try tokenClient("/drip", timeout: nil).withTimeout(timeout: short).clientCredentials() }
        let session = try TokenSession.clientCredentials(client: try tokenClient("/drip", timeout: nil, via: URLSessionTransport(timeout: short)))
        endsAtDeadline("/drip via TokenSession") { _ = try session.accessToken() }
    }

    func testResetsAndTruncatedBodiesAreTransportErrors() throws {
        for path in ["/reset", "/close-mid-body"] {
            XCTAssertThrowsError(try transport.send(request: try request(path))) {
                guard case GrantlineError.Transport? = $0 as? GrantlineError else { return XCTFail("\(path): \($0)") }
            }
            XCTAssertThrowsError(try tokenClient(path).clientCredentials()) {
                guard case GrantlineError.Transport? = $0 as? GrantlineError else { return XCTFail("\(path): \($0)") }
            }
        }
    }

    func testHugeBodiesAndGzipBombsStopAtTheCap() throws {
        let cap = Int(maxResponseBody())
        for path in ["/huge", "/huge-chunked", "/gzip-bomb"] {
            let r = try transport.send(request: try request(path, timeout: 20))
            XCTAssertEqual(r.body.count, cap + 1, path)
            XCTAssertTrue(String(decoding: r.body.prefix(17), as: UTF8.self) == "{\"access_token\":\"", path)
            XCTAssertThrowsError(try tokenClient(path, timeout: 20).clientCredentials()) {
                guard case GrantlineError.MalformedResponse? = $0 as? GrantlineError else { return XCTFail("\(path): \($0)") }
            }
        }
    }

    func testRedirectsAreNeverFollowed() throws {
        let tag = "swift-\(UUID().uuidString)"
        _ = try transport.send(request: try request("/captured/reset?tag=\(tag)"))
        for code in [301, 302, 303, 307, 308] {
            XCTAssertEqual(Int(try transport.send(request: try request("/redirect-\(code)?tag=\(tag)")).status), code)
            XCTAssertThrowsError(try tokenClient("/redirect-\(code)?tag=\(tag)").clientCredentials()) {
                guard case let GrantlineError.MalformedResponse(kind, status, _, _)? = $0 as? GrantlineError else { return XCTFail("\($0)") }
                XCTAssertEqual(kind, "unexpected_status")
                XCTAssertEqual(Int(status), code)
            }
        }
        let captured = try JSONText.parse(String(decoding: try transport.send(request: try request("/captured?tag=\(tag)", method: "GET")).body, as: UTF8.self))
        XCTAssertEqual(captured["count"], .int("0"))
    }

    func testGzipAndDeflateAreDecoded() throws {
        XCTAssertEqual(try tokenClient("/gzip").clientCredentials().accessToken(), "gzip-token")
        XCTAssertEqual(try tokenClient("/deflate").clientCredentials().accessToken(), "deflate-token")
    }

    func testErrorPagesAreTypedAndShowNoSecret() throws {
        for (path, check) in [("/html-error", 502), ("/empty-403", 403)] {
            XCTAssertThrowsError(try tokenClient(path).clientCredentials()) {
                guard case let GrantlineError.MalformedResponse(kind, status, _, _)? = $0 as? GrantlineError else { return XCTFail("\($0)") }
                XCTAssertEqual(kind, "unexpected_status")
                XCTAssertEqual(Int(status), check)
                for secret in hostileSecrets { XCTAssertFalse("\($0)".contains(secret)) }
            }
        }
        assertOAuth("invalid_grant", 200) { _ = try self.tokenClient("/error-200").clientCredentials() }
        XCTAssertFalse(try transport.send(request: try request("/html-error")).description.contains(hostileSecrets[0]))
    }
}

// MARK: the session's liveness rules, in memory

/// A token endpoint scripted per call (n is 1-based); an API that answers 200 with `apiBody`.
final class ScriptedEndpoint: BlockingHttpTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private let answer: (Int) throws -> HttpResponse
    private let apiBody: Data
    var calls: Int { lock.lock(); defer { lock.unlock() }; return count }

    init(apiBody: Data = Data("{}".utf8), _ answer: @escaping (Int) throws -> HttpResponse) {
        self.answer = answer
        self.apiBody = apiBody
    }

    func send(request: HttpRequest) throws -> HttpResponse {
        guard request.url().hasSuffix("/token") else { return HttpResponse(status: 200, headers: [], body: apiBody) }
        lock.lock()
        count += 1
        let n = count
        lock.unlock()
        return try answer(n)
    }
}

func jsonAnswer(_ body: String, status: Int32 = 200) -> HttpResponse {
    HttpResponse(status: status, headers: [Header(name: "content-type", value: "application/json")], body: Data(body.utf8))
}

final class OrderListener: TokenListener, @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(String, Bool)] = []
    var seen: [(String, Bool)] { lock.lock(); defer { lock.unlock() }; return items }
    func onTokens(renewed: Renewed) throws {
        lock.lock()
        items.append((renewed.tokens.accessToken(), renewed.refreshTokenRotated))
        lock.unlock()
    }
}

final class SessionTests: XCTestCase {
    func client(_ endpoint: HttpTransport) throws -> Client {
        let p = try ProviderBuilder(name: "memory").tokenEndpoint(url: "http://127.0.0.1:9/token")
            .grant(grant: .clientCredentials).grant(grant: .refreshToken).build()
        return Client(provider: p, clientId: "id", clientSecret: "secret", transport: endpoint)
    }

    func testAFailedRenewalWhileTheTokenIsValidReachesNobody() throws {
        let endpoint = ScriptedEndpoint { n in
            if n == 1 { return jsonAnswer(#"{"access_token":"tok-1","expires_in":4}"#) }
            throw GrantlineError.Transport(reason: "connection reset")
        }
        let session = try TokenSession.clientCredentials(client: try client(endpoint))
        let issued = Date().timeIntervalSince1970.rounded(.down)
        XCTAssertEqual(try session.accessToken(), "tok-1")
        Thread.sleep(forTimeInterval: max(0, issued + 2.05 - Date().timeIntervalSince1970))
        for _ in 0..<5 { XCTAssertEqual(try session.accessToken(), "tok-1") }
        XCTAssertEqual(endpoint.calls, 2)
        XCTAssertEqual(session.failures(), 1)
    }

    func testTheListenerGetsTheRotationFlagInOrder() throws {
        let endpoint = ScriptedEndpoint { n in
            n < 3 ? jsonAnswer(#"{"access_token":"tok-\#(n)","refresh_token":"rt-\#(n)","expires_in":3600}"#)
                  : jsonAnswer(#"{"access_token":"tok-\#(n)","expires_in":3600}"#)
        }
        let listener = OrderListener()
        let session = try TokenSession.clientCredentials(client: try client(endpoint), listener: listener)
        for expected in ["tok-1", "tok-2", "tok-3"] {
            XCTAssertEqual(try session.accessToken(), expected)
            _ = session.reject(accessToken: expected)
        }
        XCTAssertEqual(listener.seen.map(\.0), ["tok-1", "tok-2", "tok-3"])
        XCTAssertEqual(listener.seen.map(\.1), [true, true, false])
    }

    func testExpiredOnArrivalAndDpopNeverLoop() throws {
        let expired = ScriptedEndpoint { n in jsonAnswer(#"{"access_token":"tok-\#(n)","expires_in":0}"#) }
        let s1 = try TokenSession.clientCredentials(client: try client(expired))
        let token = try s1.accessToken()
        for _ in 0..<10 { XCTAssertEqual(try s1.accessToken(), token) }
        XCTAssertLessThanOrEqual(expired.calls, 2)
        let dpop = ScriptedEndpoint { n in jsonAnswer(#"{"access_token":"tok-\#(n)","token_type":"DPoP","expires_in":3600}"#) }
        let s2 = try TokenSession.clientCredentials(client: try client(dpop))
        for _ in 0..<3 {
            XCTAssertThrowsError(try s2.accessToken()) {
                guard case let GrantlineError.Configuration(kind, _, _, _)? = $0 as? GrantlineError else { return XCTFail("\($0)") }
                XCTAssertEqual(kind, "unsupported_token_type")
            }
        }
        XCTAssertEqual(dpop.calls, 1)
    }

    func testApiBodiesHaveTheirOwnLimit() throws {
        let endpoint = ScriptedEndpoint(apiBody: Data(repeating: 0x61, count: 3 << 20)) { n in
            jsonAnswer(#"{"access_token":"tok-\#(n)","expires_in":3600}"#)
        }
        let session = try TokenSession.clientCredentials(client: try client(endpoint))
        let api = try HttpRequest(method: "GET", url: "http://127.0.0.1:9/api", headers: [], body: Data())
        XCTAssertEqual(try session.send(request: api).body.count, 3 << 20)
        try session.setMaxApiBody(bytes: 1000)
        XCTAssertThrowsError(try session.setMaxApiBody(bytes: -1))
        XCTAssertThrowsError(try session.send(request: api)) {
            guard case GrantlineError.MalformedResponse? = $0 as? GrantlineError else { return XCTFail("\($0)") }
        }
    }

    func testDiscoveryRefusesAForgedIssuer() throws {
        final class Forged: BlockingHttpTransport, @unchecked Sendable {
            func send(request: HttpRequest) throws -> HttpResponse {
                request.url().hasSuffix("/openid-configuration")
                    ? jsonAnswer(#"{"issuer":"https://evil.example","token_endpoint":"https://evil.example/token"}"#)
                    : jsonAnswer("{}", status: 404)
            }
        }
        XCTAssertThrowsError(try discover(issuer: "https://as.example/t1", transport: Forged())) {
            guard case let GrantlineError.StateMismatch(kind, _)? = $0 as? GrantlineError else { return XCTFail("\($0)") }
            XCTAssertEqual(kind, "issuer_mismatch")
        }
        XCTAssertEqual(redactUrl(url: "https://as.example/cb?code=abc"), "https://as.example/cb?code=[redacted]")
    }
}
