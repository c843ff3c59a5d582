// Swift concurrency: the `*Async` calls, `discoverAsync`, `AsyncTokenSession` and
// `URLSessionTransport.sendAsync`, in memory and against the servers of tests/interop and
// tests/hostile (as GrantlineTests.swift; same command). What Kotlin's Coroutines.kt,
// InteropCoroutines.kt and Hostile.kt check, except the cancellation of a caller: uniffi 0.32's
// Swift bindings do not hand a Task's cancellation to Rust (mozilla/uniffi-rs#2771), and the last
// test here pins down what happens instead.
import Foundation
import Grantline
import XCTest
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A token endpoint whose `sendAsync` waits (suspended, cancellably) until the gate opens, and
/// counts the exchanges started, cancelled and answered.
final class GatedEndpoint: HttpTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var open: Bool
    private var counts = (started: 0, cancelled: 0, answered: 0)
    private let lifetime: Int

    init(open: Bool = false, lifetime: Int = 3600) {
        self.open = open
        self.lifetime = lifetime
    }

    var started: Int { lock.lock(); defer { lock.unlock() }; return counts.started }
    var cancelled: Int { lock.lock(); defer { lock.unlock() }; return counts.cancelled }
    var answered: Int { lock.lock(); defer { lock.unlock() }; return counts.answered }
    private var isOpen: Bool { lock.lock(); defer { lock.unlock() }; return open }
    func openGate() { lock.lock(); open = true; lock.unlock() }

    func send(request: HttpRequest) throws -> HttpResponse {
        throw GrantlineError.Transport(reason: "GatedEndpoint answers sendAsync only")
    }

    func sendAsync(request: HttpRequest) async throws -> HttpResponse {
        lock.lock(); counts.started += 1; lock.unlock()
        do {
            while !isOpen { try await Task.sleep(nanoseconds: 5_000_000) }
        } catch {
            lock.lock(); counts.cancelled += 1; lock.unlock()
            throw error
        }
        lock.lock(); counts.answered += 1; let n = counts.answered; lock.unlock()
        return jsonAnswer(#"{"access_token":"tok-\#(n)","expires_in":\#(lifetime)}"#)
    }
}

/// Polls `condition` every 10 ms, 10 s at most (a guard against a hang, not a timing check).
func eventually(_ what: String, _ condition: () -> Bool) async throws {
    for _ in 0..<1000 {
        if condition() { return }
        try await Task.sleep(nanoseconds: 10_000_000)
    }
    XCTFail("never: \(what)")
}

func memoryClient(_ endpoint: HttpTransport) throws -> Client {
    let p = try ProviderBuilder(name: "memory").tokenEndpoint(url: "http://127.0.0.1:9/token")
        .deviceAuthorizationEndpoint(url: "http://127.0.0.1:9/device")
        .grant(grant: .clientCredentials).grant(grant: .refreshToken).grant(grant: .deviceCode).build()
    return Client(provider: p, clientId: "id", clientSecret: "secret", transport: endpoint)
}

final class AsyncSessionTests: XCTestCase {
    func testManyTasksOneRenewal() async throws {
        let endpoint = GatedEndpoint()
        let listener = OrderListener()
        let session = try AsyncTokenSession.clientCredentials(client: try memoryClient(endpoint), listener: listener)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group -> Set<String> in
            for _ in 0..<500 { group.addTask { try await session.accessToken() } }
            try await eventually("the renewal started") { endpoint.started == 1 }
            endpoint.openGate()
            var seen = Set<String>()
            for try await token in group { seen.insert(token) }
            return seen
        }
        XCTAssertEqual(tokens, ["tok-1"])
        XCTAssertEqual(endpoint.started, 1)
        XCTAssertTrue(session.reject(accessToken: "tok-1"))
        let again = try await withThrowingTaskGroup(of: String.self) { group -> Set<String> in
            for _ in 0..<100 { group.addTask { try await session.accessToken() } }
            var seen = Set<String>()
            for try await token in group { seen.insert(token) }
            return seen
        }
        XCTAssertEqual(again, ["tok-2"])
        XCTAssertEqual(endpoint.started, 2)
        XCTAssertEqual(listener.seen.map(\.0), ["tok-1", "tok-2"])
        XCTAssertFalse(session.description.contains("tok-"))
    }

    func testAFailedRenewalReachesEveryWaiterAsOneTypedError() async throws {
        let endpoint = ScriptedEndpoint { _ in throw GrantlineError.Transport(reason: "connection reset") }
        let session = try AsyncTokenSession.clientCredentials(client: try memoryClient(endpoint))
        let errors = await withTaskGroup(of: Error?.self) { group -> [Error?] in
            for _ in 0..<50 { group.addTask { do { _ = try await session.accessToken(); return nil } catch { return error } } }
            var all: [Error?] = []
            for await e in group { all.append(e) }
            return all
        }
        for e in errors { XCTAssertEqual(e as? GrantlineError, .Transport(reason: "connection reset")) }
        XCTAssertEqual(endpoint.calls, 1)
        XCTAssertEqual(session.failures(), 1)
        XCTAssertNotNil(session.retryAt())
    }

    func testSendRenewsOnceAfterAnUnauthorizedAndKeepsItsLimit() async throws {
        final class Api: BlockingHttpTransport, @unchecked Sendable {
            private let lock = NSLock()
            private var tokens = 0
            func send(request: HttpRequest) throws -> HttpResponse {
                if request.url().hasSuffix("/token") {
                    lock.lock(); tokens += 1; let n = tokens; lock.unlock()
                    return jsonAnswer(#"{"access_token":"tok-\#(n)","expires_in":3600}"#)
                }
                if request.header(name: "authorization") == "Bearer tok-1" {
                    return HttpResponse(status: 401, headers: [Header(name: "www-authenticate", value: #"Bearer error="invalid_token""#)], body: Data())
                }
                return HttpResponse(status: 200, headers: [], body: Data(repeating: 0x61, count: 2000))
            }
        }
        let session = try AsyncTokenSession.clientCredentials(client: try memoryClient(Api()))
        let call = try HttpRequest(method: "GET", url: "http://127.0.0.1:9/api", headers: [], body: Data())
        let answer = try await session.send(request: call)
        XCTAssertEqual(answer.status, 200)
        let renewed = try await session.accessToken()
        XCTAssertEqual(renewed, "tok-2")
        try session.setMaxApiBody(bytes: 1000)
        do {
            _ = try await session.send(request: call)
            XCTFail("a body over the limit")
        } catch let GrantlineError.MalformedResponse(kind, _, reason, _) {
            XCTAssertEqual(kind, "malformed")
            XCTAssertTrue(reason.contains("limit of 1000 bytes"), reason)
        }
    }

    func testTheDeviceWaitFollowsTheCoresIntervals() async throws {
        let endpoint = ScriptedEndpoint { n in
            n == 1 ? jsonAnswer(#"{"error":"authorization_pending"}"#, status: 400)
                   : jsonAnswer(#"{"access_token":"device-token","expires_in":60}"#)
        }
        let client = try memoryClient(endpoint)
        let device = try DeviceAuthorization.fromResponse(response: jsonAnswer(
            #"{"device_code":"dc-secret","user_code":"ABCD","verification_uri":"https://as.example/verify","expires_in":600,"interval":1}"#),
            now: Int64(Date().timeIntervalSince1970))
        let tokens = try await client.waitForDeviceAsync(device: device)
        XCTAssertEqual(tokens.accessToken(), "device-token")
        XCTAssertEqual(endpoint.calls, 2)
        XCTAssertFalse(device.description.contains("dc-secret"))
    }

    /// uniffi 0.32's Swift bindings await a Rust future without a cancellation handler: a
    /// cancelled Task's call runs to its end (the renewal completes and is delivered; nothing is
    /// left half-done) and returns its result. If uniffi starts propagating cancellation, this
    /// test fails and the README's note on Swift cancellation must change.
    func testACancelledTaskStillGetsItsCallCompleted() async throws {
        let endpoint = GatedEndpoint()
        let session = try AsyncTokenSession.clientCredentials(client: try memoryClient(endpoint))
        let caller = Task { try await session.accessToken() }
        try await eventually("the renewal started") { endpoint.started == 1 }
        caller.cancel()
        endpoint.openGate()
        let token = try await caller.value
        XCTAssertEqual(token, "tok-1")
        XCTAssertEqual(endpoint.cancelled, 0)
        XCTAssertEqual(endpoint.started, 1)
    }
}

final class AsyncInteropTests: XCTestCase {
    func testEveryGrantSuspending() async throws {
        let oidcProvider = try await discoverAsync(issuer: try server("GRANTLINE_OIDC_URL"), transport: transport)
        let cc = try await confidential(oidcProvider).clientCredentialsAsync(scopes: ["api:read"])
        XCTAssertEqual(cc.scopes(), ["api:read"])
        let client = confidential(oidcProvider)
        let (_, grant) = try authorize(client, oidcRequest)
        let tokens = try await client.exchangeCodeAsync(grant: grant)
        XCTAssertNotNil(tokens.refreshToken())
        let renewed = try await client.refreshAsync(tokens: tokens)
        XCTAssertTrue(renewed.refreshTokenRotated)
        let access = renewed.tokens.accessToken()
        let active = try await client.introspectAsync(token: access, hint: .accessToken)
        XCTAssertTrue(active.active)
        try await client.revokeAsync(token: access, hint: .accessToken)
        let revoked = try await client.introspectAsync(token: access)
        XCTAssertFalse(revoked.active)
        let authlibClient = confidential(try authlib())
        let password = try await authlibClient.passwordAsync(username: "alice", password: "wonderland", scopes: ["read"])
        XCTAssertNotNil(password.refreshToken())
        do {
            _ = try await authlibClient.passwordAsync(username: "alice", password: "looking-glass", scopes: ["read"])
            XCTFail("a wrong password")
        } catch let GrantlineError.OAuth(code, _, _, status) {
            XCTAssertEqual(code, "invalid_request")
            XCTAssertEqual(status, 400)
        }
    }

    func testAsyncSessionOneRenewalAndARealUnauthorized() async throws {
        let counting = CountingTransport(transport, delay: 0.1)
        let listener = RecordingListener()
        let client = confidential(try authlib(), counting)
        let session = try AsyncTokenSession.clientCredentials(client: client, scopes: ["read"], listener: listener)
        let first = try await withThrowingTaskGroup(of: String.self) { group -> Set<String> in
            for _ in 0..<200 { group.addTask { try await session.accessToken() } }
            var seen = Set<String>()
            for try await t in group { seen.insert(t) }
            return seen
        }
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(counting.tokenRequests, 1)
        try await client.revokeAsync(token: first.first!, hint: .accessToken)
        let api = try HttpRequest(method: "GET", url: "\(try server("GRANTLINE_AUTHLIB_URL"))/api/me", headers: [], body: Data())
        let before = counting.all
        let me = try await session.send(request: api)
        XCTAssertEqual(me.status, 200)
        XCTAssertEqual(counting.tokenRequests, 2)
        XCTAssertEqual(counting.all, before + 3)
        XCTAssertEqual(listener.renewals.count, 2)
    }
}

final class AsyncHostileTests: XCTestCase {
    func base() throws -> String { try server("GRANTLINE_HOSTILE_URL") }

    func request(_ path: String, timeout: TimeInterval = 2) throws -> HttpRequest {
        try HttpRequest(method: "POST", url: "\(try base())\(path)", headers: [], body: Data("grant_type=client_credentials".utf8),
                        timeout: timeout, maxResponseBody: maxResponseBody())
    }

    func testSendAsyncKeepsTheWholeRequestDeadline() async throws {
        for path in ["/drip?interval=0.5", "/drip-headers?interval=0.5", "/hang"] {
            let start = Date()
            do {
                _ = try await transport.sendAsync(request: try request(path))
                XCTFail("\(path): no error")
            } catch let GrantlineError.Transport(reason) {
                let elapsed = Date().timeIntervalSince(start)
                XCTAssertTrue((1.7...4.5).contains(elapsed), "\(path) ended after \(elapsed) s: \(reason)")
                XCTAssertTrue(reason.contains("deadline"), reason)
                XCTAssertFalse(reason.contains("?"), reason)
            }
        }
    }

    func testSendAsyncCapsBodiesRefusesRedirectsAndDecodes() async throws {
        let cap = Int(maxResponseBody())
        for path in ["/huge", "/huge-chunked", "/gzip-bomb"] {
            let r = try await transport.sendAsync(request: try request(path, timeout: 20))
            XCTAssertEqual(r.body.count, cap + 1, path)
        }
        let tag = "swift-async-\(UUID().uuidString)"
        for code in [301, 302, 303, 307, 308] {
            let r = try await transport.sendAsync(request: try request("/redirect-\(code)?tag=\(tag)"))
            XCTAssertEqual(Int(r.status), code)
        }
        let captured = try transport.send(request: try HttpRequest(method: "GET", url: "\(try base())/captured?tag=\(tag)", headers: [], body: Data()))
        XCTAssertEqual(try JSONText.parse(String(decoding: captured.body, as: UTF8.self))["count"], .int("0"))
        for (path, token) in [("/gzip", "gzip-token"), ("/deflate", "deflate-token")] {
            let r = try await transport.sendAsync(request: try request(path))
            XCTAssertTrue(String(decoding: r.body, as: UTF8.self).contains(token), path)
        }
        for path in ["/reset", "/close-mid-body"] {
            do {
                _ = try await transport.sendAsync(request: try request(path))
                XCTFail("\(path): no error")
            } catch GrantlineError.Transport {
            }
        }
    }
}
