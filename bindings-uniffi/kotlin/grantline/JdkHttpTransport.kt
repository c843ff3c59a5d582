// grantline's ready-made transport for the JVM: java.net.http.HttpClient (JDK 11+), shipped
// next to the generated bindings (package grantline). Android has no java.net.http: use
// UrlConnectionTransport there.
package grantline

import java.io.IOException
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpTimeoutException
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse
import java.time.Duration
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutionException
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import java.util.concurrent.atomic.AtomicBoolean

/**
 * An [HttpTransport] over the JDK's [HttpClient], for the JVM (on Android, use
 * [UrlConnectionTransport]: `java.net.http` does not exist there).
 *
 * - **Redirects are never followed** (a 3xx comes back as it is): a redirected token request
 *   would turn into a GET and could leak its body.
 * - **A whole-request deadline**: connect, send, the response head and every read of the body
 *   end together by the request's `timeout` (`HttpRequest.withTimeout`, or the client's
 *   `timeout`), else by [timeout] (30 s by default). The JDK's own `HttpRequest.timeout` stops
 *   at the response head, so the body is read under a watchdog that closes it at the deadline,
 *   and the deadline is checked after every read: a server dripping one byte at a time cannot
 *   hold a caller longer.
 * - **`Content-Encoding: gzip` and `deflate` (zlib, or raw deflate) are decoded** (the JDK client
 *   does not), and at most the request's `maxResponseBody` + 1 **decoded** bytes are read (none:
 *   no limit), so a gzip bomb stays bounded; the response then carries the decoded body, without
 *   `content-encoding` and `content-length`. It asks for them with `accept-encoding: gzip,
 *   deflate` unless the request names its own. Other codings come back as they are.
 * - Failures without a whole response throw [GrantlineException.Transport], whose reason names
 *   the failure and the URL without its query, never the request's body or credentials.
 * - [sendAsync] runs the exchange on `Dispatchers.IO`; cancelling the calling coroutine cancels
 *   the exchange and closes its body at once.
 *
 * Thread-safe; reuse one instance (it keeps the connection pool of [client]).
 */
class JdkHttpTransport @JvmOverloads constructor(
    /** The whole-request deadline of requests that carry none. */
    private val timeout: Duration = Duration.ofSeconds(30),
    private val client: HttpClient = HttpClient.newBuilder()
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(timeout)
        // HTTP/1.1: no h2c upgrade attempt on plain-http loopback servers.
        .version(HttpClient.Version.HTTP_1_1)
        .build(),
) : HttpTransport {

    init {
        require(client.followRedirects() == HttpClient.Redirect.NEVER) {
            "JdkHttpTransport needs an HttpClient with followRedirects(HttpClient.Redirect.NEVER)"
        }
        require(!timeout.isNegative && !timeout.isZero) { "the timeout must be positive" }
    }

    override fun send(request: HttpRequest): HttpResponse = exchange(request.parts(), Abort())

    /** [send] on `Dispatchers.IO`, cancelled (its body closed) when the calling coroutine is. */
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
        fun cancelled(): Nothing = throw GrantlineException.Transport("the exchange with $shown was cancelled")

        val body = parts.body
        val remaining = deadline.remainingNanos().takeIf { it > 0 } ?: late()
        val builder = JdkRequest.newBuilder(uri)
            .timeout(Duration.ofNanos(remaining))
            .method(
                parts.method,
                if (body.isEmpty()) JdkRequest.BodyPublishers.noBody()
                else JdkRequest.BodyPublishers.ofByteArray(body),
            )
        var acceptEncoding = false
        for (header in parts.headers) {
            val name = header.name.lowercase()
            // The JDK sets these itself and refuses them from callers.
            if (name in RESTRICTED) continue
            if (name == "accept-encoding") acceptEncoding = true
            builder.header(header.name, header.value)
        }
        if (!acceptEncoding) builder.header("accept-encoding", "gzip, deflate")
        val jdkRequest = try {
            builder.build()
        } catch (e: IllegalArgumentException) {
            throw GrantlineException.Transport("the request to $shown cannot be sent: ${e.javaClass.simpleName}")
        }

        // Connect, send, and the response head: bounded by the deadline, whatever the JDK does.
        val pending = try {
            client.sendAsync(jdkRequest, JdkResponse.BodyHandlers.ofInputStream())
        } catch (e: IllegalArgumentException) {
            throw GrantlineException.Transport("the request to $shown cannot be sent: ${e.javaClass.simpleName}")
        }
        abort.onAbort { pending.cancel(true) }
        val response = try {
            pending.get(deadline.remainingNanos(), TimeUnit.NANOSECONDS)
        } catch (e: TimeoutException) {
            pending.cancel(true)
            late()
        } catch (e: InterruptedException) {
            pending.cancel(true)
            Thread.currentThread().interrupt()
            throw GrantlineException.Transport("interrupted while sending to $shown")
        } catch (e: CancellationException) {
            cancelled()
        } catch (e: ExecutionException) {
            val cause = e.cause
            if (cause is HttpTimeoutException || deadline.passed()) late()
            if (abort.aborted) cancelled()
            throw GrantlineException.Transport("${(cause ?: e).javaClass.simpleName} sending to $shown")
        }

        // The body: read under a watchdog that closes the stream at the deadline.
        val raw = response.body()
        abort.onAbort { raw.close() }
        val expired = AtomicBoolean(false)
        val watchdog = deadline.watch(abort, expired)
        val codings = contentCodings(response.headers().allValues("content-encoding"))
        val decode = decodable(codings)
        val bytes = try {
            val input = if (decode) decoded(raw, codings) else raw
            input.use { readCapped(it, parts.maxResponseBody, deadline, ::late) }.bytes
        } catch (e: IOException) {
            if (expired.get() || deadline.passed()) late()
            if (abort.aborted) cancelled()
            val what = if (decode && codings.isNotEmpty()) "decoding the $codings body from" else "reading from"
            throw GrantlineException.Transport("${e.javaClass.simpleName} $what $shown")
        } finally {
            watchdog.cancel(false)
            try { raw.close() } catch (_: IOException) { }
        }
        if (expired.get()) late()

        val headers = ArrayList<Header>()
        for ((name, values) in response.headers().map()) {
            if (name.startsWith(":")) continue // HTTP/2 pseudo-headers
            val lower = name.lowercase()
            // The body is decoded: these described the encoded one.
            if (decode && codings.isNotEmpty() && (lower == "content-encoding" || lower == "content-length")) continue
            for (value in values) headers.add(Header(name, value))
        }
        return HttpResponse(response.statusCode(), headers, bytes)
    }

    private companion object {
        val RESTRICTED = setOf("connection", "content-length", "expect", "host", "upgrade")
    }
}
