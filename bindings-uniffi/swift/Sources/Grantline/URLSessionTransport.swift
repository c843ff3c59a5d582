// grantline's ready-made transport for Apple platforms: URLSession, shipped next to the
// generated bindings (module Grantline).
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An `HttpTransport` over `URLSession`.
///
/// - Redirects are never followed: the delegate refuses them, so a 3xx comes back as it is (a
///   redirected token request would turn into a GET and could leak its body).
/// - `timeout` bounds each exchange; the body is read up to `maxBody` + 1 bytes, then the task is
///   cancelled, so grantline can refuse an oversized answer without reading it all.
/// - No cookies, no cache (an ephemeral configuration by default).
/// - Failures without a response throw `GrantlineError.Transport`, whose reason never contains the
///   request's body or credentials.
///
/// Thread-safe; `send` blocks the calling thread (grantline's calls are synchronous: make them off
/// the main thread). Reuse one instance.
public final class URLSessionTransport: HttpTransport, @unchecked Sendable {
    private let session: URLSession
    private let delegate: NoRedirectDelegate
    private let timeout: TimeInterval

    public init(
        timeout: TimeInterval = 30,
        configuration: URLSessionConfiguration = .ephemeral,
        maxBody: Int = Int(maxResponseBody())
    ) {
        self.timeout = timeout
        let configuration = (configuration.copy() as? URLSessionConfiguration) ?? configuration
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        delegate = NoRedirectDelegate(maxBody: maxBody)
        session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func send(request: HttpRequest) throws -> HttpResponse {
        let parts = request.parts() // one call across the FFI
        guard let url = URL(string: parts.url) else {
            throw GrantlineError.Transport(reason: "invalid URL")
        }
        let origin = "\(url.scheme ?? "?")://\(url.host ?? "?")\(url.port.map { ":\($0)" } ?? "")"
        var urlRequest = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        urlRequest.httpMethod = parts.method
        for header in parts.headers {
            urlRequest.addValue(header.value, forHTTPHeaderField: header.name)
        }
        if !parts.body.isEmpty {
            urlRequest.httpBody = parts.body
        }
        let task = session.dataTask(with: urlRequest)
        let exchange = delegate.register(task)
        task.resume()
        exchange.done.wait()
        if let error = exchange.error {
            let code = (error as NSError).code
            throw GrantlineError.Transport(reason: "URLSession error \(code) sending to \(origin)")
        }
        guard let http = exchange.response as? HTTPURLResponse else {
            throw GrantlineError.Transport(reason: "no HTTP response from \(origin)")
        }
        // URLSession joins repeated headers with ", " (as HTTP allows): they arrive as one entry.
        var headers: [Header] = []
        for (name, value) in http.allHeaderFields {
            headers.append(Header(name: "\(name)".lowercased(), value: "\(value)"))
        }
        return HttpResponse(status: UInt16(clamping: http.statusCode), headers: headers, body: exchange.data)
    }
}

/// Per-task state, filled on the delegate queue and read after `done` is signalled.
final class Exchange: @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    var data = Data()
    var response: URLResponse?
    var error: Error?
    var truncated = false
}

/// Refuses every redirect and caps every body.
final class NoRedirectDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let maxBody: Int
    private let lock = NSLock()
    private var exchanges: [Int: Exchange] = [:]

    init(maxBody: Int) {
        self.maxBody = maxBody
    }

    func register(_ task: URLSessionTask) -> Exchange {
        let exchange = Exchange()
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
        guard let exchange = exchange(for: dataTask) else { return }
        let room = maxBody + 1 - exchange.data.count
        if room > 0 {
            exchange.data.append(data.prefix(room))
        }
        if exchange.data.count > maxBody {
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
