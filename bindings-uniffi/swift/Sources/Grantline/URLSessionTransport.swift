// grantline's ready-made transport for Apple platforms: URLSession, shipped next to the
// generated bindings (module Grantline).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An `HttpTransport` over `URLSession`, in both colours: `sendAsync` (Swift concurrency, what the
/// `*Async` calls and `AsyncTokenSession` use) and `send` (blocking, for `TokenSession` and code
/// off the main thread without tasks).
///
/// - **Redirects are never followed**: a delegate refuses them, so a 3xx comes back as it is (a
///   redirected token request would turn into a GET and could leak its body).
/// - **A whole-request deadline**: connect, send, the response head and the whole body end together
///   by the request's `timeout` (`HttpRequest.withTimeout(timeout:)`, or the client's `timeout`),
///   else by the `timeout` given here (30 s by default); then the task is cancelled and the call
///   throws `GrantlineError.Transport`. (URLSession's own `timeoutIntervalForRequest` is an idle
///   timeout between packets, and `timeoutIntervalForResource` is per session, not per call: the
///   deadline is kept here, per exchange.)
/// - **Bodies are decoded and capped**: URLSession decodes `Content-Encoding` (gzip, deflate, br)
///   itself and hands over decoded bytes; at most the request's `maxResponseBody` + 1 of them are
///   kept (none: no limit), then the exchange is cancelled, so a gzip bomb stays bounded. A decoded
///   response then carries no `content-encoding` / `content-length` (they described the encoded
///   body).
/// - No cookies, no cache (an ephemeral configuration by default).
/// - Failures without a whole response throw `GrantlineError.Transport`, whose reason names the URL
///   without its query and never the request's body or credentials.
///
/// `sendAsync` awaits `URLSession.data(for:delegate:)` (no body limit) or
/// `URLSession.bytes(for:delegate:)` (a body limit: `data(for:)` would buffer a whole gzip bomb
/// before handing it over), with a redirect-refusing task delegate, and races the exchange against
/// the deadline in a task group: no semaphore, no blocked thread; cancelling the calling task
/// cancels the exchange. (On Linux, whose Foundation has neither `bytes(for:)` nor task delegates,
/// `sendAsync` runs the blocking exchange on a dispatch queue instead.) `send` blocks the calling
/// thread on a semaphore until the task ends: call it off the main thread. Reuse one instance.
public final class URLSessionTransport: HttpTransport, @unchecked Sendable {
    /// The blocking `send`'s session: its delegate refuses redirects and caps bodies per task.
    private let session: URLSession
    private let delegate: NoRedirectDelegate
    /// `sendAsync`'s session: no session delegate, so nothing but the task's own
    /// (`RedirectRefuser`) and URLSession's async machinery sees its tasks.
    private let asyncSession: URLSession
    private let timeout: TimeInterval

    /// `timeout`: the whole-request deadline of requests that carry none, in seconds.
    public init(timeout: TimeInterval = 30, configuration: URLSessionConfiguration = .ephemeral) {
        self.timeout = timeout
        let configuration = (configuration.copy() as? URLSessionConfiguration) ?? configuration
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        delegate = NoRedirectDelegate()
        session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        asyncSession = URLSession(configuration: configuration)
    }

    deinit {
        session.finishTasksAndInvalidate()
        asyncSession.finishTasksAndInvalidate()
    }

    /// One exchange as prepared from the request's parts.
    private struct Prepared {
        let request: URLRequest
        let shown: String
        let budget: TimeInterval
        let maxBody: Int64?

        func late() -> GrantlineError {
            .Transport(reason: "no whole answer from \(shown) within the \(budget) s deadline")
        }

        func failed(_ error: Error) -> GrantlineError {
            let code = (error as NSError).code
            if code == NSURLErrorTimedOut { return late() }
            if code == NSURLErrorCancelled { return .Transport(reason: "the exchange with \(shown) was cancelled") }
            return .Transport(reason: "URLSession error \(code) with \(shown)")
        }
    }

    private func prepare(_ parts: RequestParts) throws -> Prepared {
        let budget = max(parts.timeout ?? timeout, 0)
        guard let url = URL(string: parts.url) else {
            throw GrantlineError.Transport(reason: "invalid URL")
        }
        let shown = "\(url.scheme ?? "?")://\(url.host ?? "?")\(url.port.map { ":\($0)" } ?? "")\(url.path)"
        // The per-task idle timeout: never longer than the whole deadline.
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: max(budget, 0.001))
        request.httpMethod = parts.method
        for header in parts.headers {
            request.addValue(header.value, forHTTPHeaderField: header.name)
        }
        if !parts.body.isEmpty {
            request.httpBody = parts.body
        }
        return Prepared(request: request, shown: shown, budget: budget, maxBody: parts.maxResponseBody)
    }

    /// At most this many bytes are kept: the limit plus one (nil: all of them).
    private static func cap(_ maxBody: Int64?) -> Int? {
        guard let maxBody = maxBody, maxBody < Int64(Int.max) else { return nil }
        return Int(maxBody) + 1
    }

    /// The response grantline reads: status, headers (the encoding ones dropped when URLSession
    /// decoded the body), the body.
    private static func answer(_ response: URLResponse?, _ data: Data, _ prepared: Prepared) throws -> HttpResponse {
        guard let http = response as? HTTPURLResponse else {
            throw GrantlineError.Transport(reason: "no HTTP response from \(prepared.shown)")
        }
        // URLSession joins repeated headers with ", " (as HTTP allows): they arrive as one entry.
        let fields = http.allHeaderFields.map { ("\($0.key)".lowercased(), "\($0.value)") }
        let coding = fields.first { $0.0 == "content-encoding" }?.1.lowercased()
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        let decoded = !coding.isEmpty && coding.allSatisfy { ["gzip", "x-gzip", "deflate", "br", "identity"].contains($0) }
        var headers: [Header] = []
        for (name, value) in fields {
            // The body arrives decoded: these described the encoded one.
            if decoded && (name == "content-encoding" || name == "content-length") { continue }
            headers.append(Header(name: name, value: value))
        }
        return HttpResponse(status: Int32(clamping: http.statusCode), headers: headers, body: data)
    }

    // MARK: async

    /// What the exchange task hands back across the task group (a `Sendable` value).
    private struct Fetched: @unchecked Sendable {
        let response: URLResponse
        let data: Data
    }

    public func sendAsync(request: HttpRequest) async throws -> HttpResponse {
        let prepared = try prepare(request.parts()) // one call across the FFI
        let fetched: Fetched
        do {
            fetched = try await withThrowingTaskGroup(of: Fetched?.self) { group in
                group.addTask { try await self.fetch(prepared) }
                if prepared.budget <= 365 * 86_400 {
                    group.addTask {
                        try await Task.sleep(nanoseconds: UInt64(prepared.budget * 1_000_000_000))
                        return nil // the deadline: the exchange is cancelled below
                    }
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let done = first else { throw prepared.late() }
                return done
            }
        } catch let error as GrantlineError {
            throw error
        } catch is CancellationError {
            throw CancellationError() // the caller's task was cancelled: so was the exchange
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw prepared.failed(error)
        }
        return try Self.answer(fetched.response, fetched.data, prepared)
    }

    /// The exchange itself: `data(for:)` without a body limit, `bytes(for:)` read up to the cap
    /// with one.
    private func fetch(_ prepared: Prepared) async throws -> Fetched {
        #if canImport(FoundationNetworking)
        // swift-corelibs-foundation (Linux) has no `bytes(for:)` nor task delegates: the blocking
        // exchange on a dispatch queue (its semaphore waits there, never on a task's thread).
        let deadline: DispatchTime = prepared.budget > 365 * 86_400 ? .distantFuture : .now() + prepared.budget
        let blocking = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Fetched, Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.blockingFetch(prepared, deadline: deadline) })
            }
        }
        return blocking
        #else
        let refuser = RedirectRefuser()
        guard let cap = Self.cap(prepared.maxBody) else {
            let (data, response) = try await asyncSession.data(for: prepared.request, delegate: refuser)
            return Fetched(response: response, data: data)
        }
        let (bytes, response) = try await asyncSession.bytes(for: prepared.request, delegate: refuser)
        var data = Data()
        for try await byte in bytes {
            data.append(byte)
            if data.count >= cap {
                bytes.task.cancel() // enough: "too big" is visible, the rest is never read
                break
            }
        }
        return Fetched(response: response, data: data)
        #endif
    }

    // MARK: blocking

    public func send(request: HttpRequest) throws -> HttpResponse {
        let prepared = try prepare(request.parts()) // one call across the FFI
        // Past a year: no deadline (DispatchTime arithmetic would overflow).
        let deadline: DispatchTime = prepared.budget > 365 * 86_400 ? .distantFuture : .now() + prepared.budget
        let fetched = try blockingFetch(prepared, deadline: deadline)
        return try Self.answer(fetched.response, fetched.data, prepared)
    }

    /// A data task on the delegate's session, this thread waiting for it until `deadline`.
    private func blockingFetch(_ prepared: Prepared, deadline: DispatchTime) throws -> Fetched {
        let task = session.dataTask(with: prepared.request)
        let exchange = delegate.register(task, cap: Self.cap(prepared.maxBody))
        task.resume()
        if exchange.done.wait(timeout: deadline) == .timedOut {
            task.cancel()
            throw prepared.late()
        }
        if let error = exchange.error {
            throw prepared.failed(error)
        }
        guard let response = exchange.response else {
            throw GrantlineError.Transport(reason: "no HTTP response from \(prepared.shown)")
        }
        return Fetched(response: response, data: exchange.data)
    }
}

/// Refuses every redirect of the one task it is given to (`data(for:delegate:)`,
/// `bytes(for:delegate:)`).
final class RedirectRefuser: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil) // never follow: the 3xx is the answer
    }
}

/// Per-task state of a blocking `send`, filled on the delegate queue and read after `done` is
/// signalled.
final class Exchange: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    /// Keep at most this many bytes (nil: all).
    let cap: Int?
    var data = Data()
    var response: URLResponse?
    var error: Error?
    var truncated = false

    init(cap: Int?) {
        self.cap = cap
    }
}

/// The session's delegate: refuses every redirect (async tasks included), and for the blocking
/// `send`'s tasks collects and caps the body. Tasks it has no exchange for are left alone.
final class NoRedirectDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]

    func register(_ task: URLSessionTask, cap: Int?) -> Exchange {
        let exchange = Exchange(cap: cap)
        lock.lock()
        exchanges[task.taskIdentifier] = exchange
        lock.unlock()
        return exchange
    }

    private func exchange(for task: URLSessionTask, remove: Bool = false) -> Exchange? {
        lock.lock()
        defer { lock.unlock() }
        return remove ? exchanges.removeValue(forKey: task.taskIdentifier) : exchanges[task.taskIdentifier]
    }

    func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil) // never follow: the 3xx is the answer
    }

    func urlSession(
        _ session: URLSession,
        dataTask: URLSessionDataTask,
        didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        exchange(for: dataTask)?.response = response
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let exchange = exchange(for: dataTask), !exchange.truncated else { return }
        guard let cap = exchange.cap else {
            exchange.data.append(data)
            return
        }
        let room = cap - exchange.data.count
        if room > 0 {
            exchange.data.append(data.prefix(room))
        }
        if exchange.data.count >= cap {
            exchange.truncated = true
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let exchange = exchange(for: task, remove: true) else { return }
        if exchange.response == nil {
            exchange.response = task.response
        }
        if let error = error, !exchange.truncated {
            exchange.error = error
        }
        exchange.done.signal()
    }
}

/// An `HttpTransport` written as a blocking `send` (your own client, a synchronous SDK): conform
/// to this instead and `sendAsync` comes with it, running `send` on a global dispatch queue, so
/// awaiting it holds no thread of Swift's cooperative pool. A cancelled task is not delivered to
/// `send`: bound it by the request's `timeout`.
public protocol BlockingHttpTransport: HttpTransport {}

extension BlockingHttpTransport {
    /// `send(request:)`, on a global dispatch queue.
    public func sendAsync(request: HttpRequest) async throws -> HttpResponse {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try self.send(request: request) })
            }
        }
    }
}
