// grantline's ready-made transport for Android and every JVM: java.net.HttpURLConnection,
// shipped next to the generated bindings (package grantline).
package grantline

import java.io.IOException
import java.io.InputStream
import java.net.HttpURLConnection
import java.net.ProtocolException
import java.net.Proxy
import java.net.SocketTimeoutException
import java.net.URI
import java.net.URL
import java.time.Duration
import java.util.concurrent.atomic.AtomicBoolean

/**
 * An [HttpTransport] over [HttpURLConnection]: **the default on Android** (which has no
 * `java.net.http`), and it works on every JVM. On the JVM, [JdkHttpTransport] is the other choice
 * (HTTP/2, `PATCH`).
 *
 * - **Redirects are never followed** (`instanceFollowRedirects = false`): a 3xx comes back as it
 *   is; a redirected token request would turn into a GET and could leak its body.
 * - **A whole-request deadline**: connect, send, the response head and every read of the body end
 *   together by the request's `timeout` (`HttpRequest.withTimeout`, or the client's `timeout`),
 *   else by [timeout] (30 s by default). `HttpURLConnection`'s own timeouts are per operation (a
 *   server dripping one byte every few seconds never trips them), so a watchdog disconnects the
 *   connection at the deadline, and the deadline is checked after every read.
 * - **`Content-Encoding: gzip` and `deflate` are decoded** here (it asks for them with
 *   `accept-encoding: gzip, deflate` unless the request names its own, so Android's transparent
 *   gzip stays off and both platforms behave alike), and at most the request's `maxResponseBody`
 *   + 1 **decoded** bytes are read (none: no limit), so a gzip bomb stays bounded; the response
 *   then carries the decoded body, without `content-encoding` and `content-length`.
 * - **Repeated headers are kept**, in order, one entry each.
 * - Failures without a whole response throw [GrantlineException.Transport], whose reason names the
 *   failure and the URL without its query, never the request's body or credentials. `PATCH`, which
 *   `HttpURLConnection` cannot send, is such a failure.
 * - [sendAsync] runs the exchange on `Dispatchers.IO`; cancelling the calling coroutine
 *   disconnects it at once (the coroutine resumes and the thread returns at once). On the JVM,
 *   `HttpURLConnection` may keep a connection whose body was left half-read to drain what is left
 *   in its keep-alive cleaner thread, when that is under `http.KeepAlive.remainingData` (512 KiB by
 *   default); a larger body is closed. Android's `HttpURLConnection` closes it.
 *
 * Thread-safe and stateless (connections are pooled by the platform): one instance can serve the
 * whole app.
 */
class UrlConnectionTransport @JvmOverloads constructor(
    /** The whole-request deadline of requests that carry none. */
    private val timeout: Duration = Duration.ofSeconds(30),
    /** The proxy to connect through; null: the system's `ProxySelector`. */
    private val proxy: Proxy? = null,
) : HttpTransport {

    init {
        require(!timeout.isNegative && !timeout.isZero) { "the timeout must be positive" }
    }

    override fun send(request: HttpRequest): HttpResponse = exchange(request.parts(), Abort())

    /** [send] on `Dispatchers.IO`, disconnected when the calling coroutine is cancelled. */
    override suspend fun sendAsync(request: HttpRequest): HttpResponse {
        val parts = request.parts() // one call across the FFI, on the caller's thread
        return onIo { abort -> exchange(parts, abort) }
    }

    private fun exchange(parts: RequestParts, abort: Abort): HttpResponse {
        val deadline = Deadline(parts.timeout ?: timeout)
        val uri = requestUri(parts.url)
        val shown = shownUrl(uri)
        fun late(): Nothing =
            throw GrantlineException.Transport("no whole answer from $shown within the ${deadline.describe()} deadline")
        val url: URL = try {
            if (uri.scheme != "http" && uri.scheme != "https") throw IllegalArgumentException("not http(s)")
            uri.toURL()
        } catch (e: Exception) {
            throw GrantlineException.Transport("$shown cannot be sent over HttpURLConnection: ${e.javaClass.simpleName}")
        }
        if (parts.body.isNotEmpty() && (parts.method == "GET" || parts.method == "HEAD")) {
            // HttpURLConnection would turn it into a POST.
            throw GrantlineException.Transport("HttpURLConnection cannot send a ${parts.method} request with a body (to $shown)")
        }

        val expired = AtomicBoolean(false)
        val connection = try {
            (if (proxy == null) url.openConnection() else url.openConnection(proxy)) as? HttpURLConnection
        } catch (e: IOException) {
            null
        } ?: throw GrantlineException.Transport("no HTTP connection to $shown")
        abort.onAbort { connection.disconnect() }
        val watchdog = deadline.watch(abort, expired)
        try {
            connection.instanceFollowRedirects = false
            connection.useCaches = false
            connection.connectTimeout = deadline.remainingMillis()
            connection.readTimeout = deadline.remainingMillis()
            try {
                connection.requestMethod = parts.method
            } catch (e: ProtocolException) {
                throw GrantlineException.Transport("HttpURLConnection cannot send ${parts.method} requests (to $shown)")
            }
            var acceptEncoding = false
            for (header in parts.headers) {
                val name = header.name.lowercase()
                // HttpURLConnection sets these itself and drops them from callers.
                if (name in RESTRICTED) continue
                if (name == "accept-encoding") acceptEncoding = true
                connection.addRequestProperty(header.name, header.value)
            }
            if (!acceptEncoding) connection.setRequestProperty("accept-encoding", "gzip, deflate")
            if (parts.body.isNotEmpty()) {
                connection.doOutput = true
                connection.setFixedLengthStreamingMode(parts.body.size)
                connection.outputStream.use { it.write(parts.body) }
            }

            val status = connection.responseCode
            if (status < 0) throw GrantlineException.Transport("no valid HTTP answer from $shown")
            if (deadline.passed()) late()
            // Every header line in order (repeated ones too); key 0 is the status line.
            val received = ArrayList<Header>()
            var i = 0
            while (true) {
                val value = connection.getHeaderField(i)
                val name = connection.getHeaderFieldKey(i)
                if (value == null && name == null) break
                if (name != null && value != null) received.add(Header(name, value))
                i++
            }
            val codings = contentCodings(received.filter { it.name.equals("content-encoding", true) }.map { it.value })
            val decode = decodable(codings)

            val raw: InputStream? = try {
                connection.inputStream
            } catch (e: IOException) {
                if (abort.aborted) throw e
                connection.errorStream // 4xx and 5xx; null when there is no body
            }
            val counted = raw?.let { CountingInputStream(it) }
            val body = if (counted == null) {
                CappedBody(ByteArray(0), complete = true)
            } else try {
                val input = if (decode) decoded(counted, codings) else counted
                input.use { readCapped(it, parts.maxResponseBody, deadline, ::late) }
            } catch (e: IOException) {
                if (expired.get() || deadline.passed()) late()
                if (abort.aborted) throw GrantlineException.Transport("the exchange with $shown was cancelled")
                val what = if (decode && codings.isNotEmpty()) "decoding the $codings body from" else "reading from"
                throw GrantlineException.Transport("${e.javaClass.simpleName} $what $shown")
            }
            // A body left unread must not go back to the keep-alive pool.
            if (!body.complete) connection.disconnect()
            if (expired.get()) late()
            // HttpURLConnection ends a body cut short by the server (fewer bytes than its
            // Content-Length) as if it were whole: that is no whole answer.
            val declared = connection.contentLengthLong
            if (body.complete && counted != null && parts.method != "HEAD" && declared >= 0 && counted.count < declared) {
                throw GrantlineException.Transport("the body from $shown ended after ${counted.count} of its $declared bytes")
            }

            val headers = if (decode && codings.isNotEmpty()) {
                // The body is decoded: these described the encoded one.
                received.filter { !it.name.equals("content-encoding", true) && !it.name.equals("content-length", true) }
            } else received
            return HttpResponse(status, headers, body.bytes)
        } catch (e: GrantlineException) {
            throw e
        } catch (e: Exception) {
            connection.disconnect()
            if (expired.get() || deadline.passed() || e is SocketTimeoutException) late()
            if (abort.aborted) throw GrantlineException.Transport("the exchange with $shown was cancelled")
            throw GrantlineException.Transport("${e.javaClass.simpleName} with $shown")
        } finally {
            watchdog.cancel(false)
        }
    }

    /** Counts the bytes read through it (the body as it came, before decoding). */
    private class CountingInputStream(input: InputStream) : java.io.FilterInputStream(input) {
        var count = 0L
            private set

        override fun read(): Int = super.read().also { if (it >= 0) count++ }

        override fun read(b: ByteArray, off: Int, len: Int): Int = super.read(b, off, len).also { if (it > 0) count += it }

        override fun skip(n: Long): Long = super.skip(n).also { count += it }
    }

    private companion object {
        val RESTRICTED = setOf("connection", "content-length", "expect", "host", "upgrade", "transfer-encoding")
    }
}
