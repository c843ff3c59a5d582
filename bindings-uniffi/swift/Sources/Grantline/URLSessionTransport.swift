// grantline's ready-made transport for Apple platforms: URLSession, shipped next to the
// generated bindings (module Grantline).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An `HttpTransport` over `URLSession`.
///
/// - **Redirects are never followed**: the delegate refuses them, so a 3xx comes back as it is (a
///   redirected token request would turn into a GET and could leak its body).
/// - **A whole-request deadline**: connect, send, the response head and the whole body end together
///   by the request's `timeout` (`HttpRequest.withTimeout(timeout:)`, or the client's `timeout`),
///   else by the `timeout` given here (30 s by default); then the task is cancelled and `send`
///   throws `GrantlineError.Transport`. (URLSession's own `timeoutIntervalForRequest` is an idle
///   timeout between packets, and `timeoutIntervalForResource` is per session, not per call: the
///   deadline is kept here, per task.)
/// - **Bodies are decoded and capped**: URLSession decodes `Content-Encoding` (gzip, deflate, br)
///   itself and hands over decoded bytes; at most the request's `maxResponseBody` + 1 of them are
///   kept (none: no limit), then the task is cancelled, so a gzip bomb stays bounded. A decoded
///   response then carries no `content-encoding` / `content-length` (they described the encoded
///   body).
/// - No cookies, no cache (an ephemeral configuration by default).
/// - Failures without a whole response throw `GrantlineError.Transport`, whose reason names the URL
///   without its query and never the request's body or credentials.
///
/// Thread-safe; `send` blocks the calling thread (grantline's calls are synchronous: make them off
/// the main thread). Reuse one instance.
public final class URLSessionTransport: HttpTransport, @unchecked Sendable {
    private let session: URLSession
    private let delegate: NoRedirectDelegate
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
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(request: HttpRequest) throws -> HttpResponse {
        let parts = request.parts() // one call across the FFI
        let budget = max(parts.timeout ?? timeout, 0)
        // Past a year: no deadline (DispatchTime arithmetic would overflow).
        let deadline: DispatchTime = budget > 365 * 86_400 ? .distantFuture : .now() + budget
        guard let url = URL(string: parts.url) else {
            throw GrantlineError.Transport(reason: "invalid URL")
        }
        let shown = "\(url.scheme ?? "?")://\(url.host ?? "?")\(url.port.map { ":\($0)" } ?? "")\(url.path)"
        // The per-task idle timeout: never longer than the whole deadline.
        var urlRequest = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: budget)
        urlRequest.httpMethod = parts.method
        for header in parts.headers {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        if !parts.body.isEmpty {
            urlRequest.httpBody = parts.body
        }
        let task = session.dataTask(with: urlRequest)
        let exchange = delegate.register(task, maxBody: parts.maxResponseBody)
        task.resume()
        if exchange.done.wait(timeout: deadline) == .timedOut {
            task.cancel()
            throw GrantlineError.Transport(reason: "no whole answer from \(shown) within the \(budget) s deadline")
        }
        if let error = exchange.error {
            let code = (error as NSError).code
            if code == NSURLErrorTimedOut {
                throw GrantlineError.Transport(reason: "no whole answer from \(shown) within the \(budget) s deadline")
            }
            throw GrantlineError.Transport(reason: "URLSession error \(code) with \(shown)")
        }
        guard let http = exchange.response as? HTTPURLResponse else {
            throw GrantlineError.Transport(reason: "no HTTP response from \(shown)")
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
        return HttpResponse(status: UInt16(clamping: http.statusCode), headers: headers, body: exchange.data)
    }
}

/// Per-task state, filled on the delegate queue and read after `done` is signalled.
final class Exchange: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    /// Keep at most this many bytes plus one (nil: all).
    let maxBody: UInt64?
    var data = Data()
    var response: URLResponse?
    var error: Error?
    var truncated = false

    init(maxBody: UInt64?) {
        self.maxBody = maxBody
    }
}

/// Refuses every redirect and caps every body at its request's limit.
final class NoRedirectDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]

    func register(_ task: URLSessionTask, maxBody: UInt64?) -> Exchange {
        let exchange = Exchange(maxBody: maxBody)
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
        guard let maxBody = exchange.maxBody, maxBody < UInt64(Int.max) else {
            exchange.data.append(data)
            return
        }
        let cap = Int(maxBody) + 1
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
