// grantline's ready-made transport for the JVM: java.net.http.HttpClient (JDK 11+), shipped
// next to the generated bindings (package grantline). On Android, implement HttpTransport over
// OkHttp the same way (followRedirects(false), callTimeout, a decoded-body cap).
package grantline

import java.io.ByteArrayOutputStream
import java.io.IOException
import java.io.InputStream
import java.io.PushbackInputStream
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpTimeoutException
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse
import java.time.Duration
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutionException
import java.util.concurrent.ScheduledThreadPoolExecutor
import java.util.concurrent.TimeUnit
import java.util.concurrent.TimeoutException
import java.util.concurrent.atomic.AtomicBoolean
import java.util.zip.GZIPInputStream
import java.util.zip.Inflater
import java.util.zip.InflaterInputStream

/**
 * An [HttpTransport] over the JDK's [HttpClient].
 *
 * - **Redirects are never followed** (a 3xx comes back as it is): a redirected token request
 *   would turn into a GET and could leak its body.
 * - **A whole-request deadline**: connect, send, the response head and every read of the body
 *   end together by the request's `timeout` (`HttpRequest.withTimeout`, or the client's
 *   `timeout`), else by [timeout] (30 s by default). The JDK's own `HttpRequest.timeout` stops
 *   at the response head, so the body is read under a watchdog that closes it at the deadline:
 *   a server dripping one byte at a time cannot hold a caller longer.
 * - **`Content-Encoding: gzip` and `deflate` (zlib, or raw deflate) are decoded** (the JDK client
 *   does not), and at most the request's `maxResponseBody` + 1 **decoded** bytes are read (none:
 *   no limit), so a gzip bomb stays bounded; the response then carries the decoded body, without
 *   `content-encoding` and `content-length`. It asks for them with `accept-encoding: gzip,
 *   deflate` unless the request names its own. Other codings come back as they are.
 * - Failures without a whole response throw [GrantlineException.Transport], whose reason names
 *   the failure and the URL without its query, never the request's body or credentials.
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

    override fun send(request: HttpRequest): HttpResponse {
        val parts = request.parts() // one call across the FFI
        val budget = parts.timeout ?: timeout
        // A year at most: Duration.toNanos overflows past ~292 years.
        val deadline = System.nanoTime() + budget.coerceAtMost(MAX_BUDGET).toNanos().coerceAtLeast(1)
        val uri = try {
            URI(parts.url)
        } catch (e: Exception) {
            throw GrantlineException.Transport("invalid URL: ${e.javaClass.simpleName}")
        }
        val shown = shown(uri)
        fun late(): Nothing =
            throw GrantlineException.Transport("no whole answer from $shown within the ${describe(budget)} deadline")

        val body = parts.body
        val builder = JdkRequest.newBuilder(uri)
            .timeout(remaining(deadline) ?: late())
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
        val response = try {
            pending.get(remainingNanos(deadline), TimeUnit.NANOSECONDS)
        } catch (e: TimeoutException) {
            pending.cancel(true)
            late()
        } catch (e: InterruptedException) {
            pending.cancel(true)
            Thread.currentThread().interrupt()
            throw GrantlineException.Transport("interrupted while sending to $shown")
        } catch (e: CancellationException) {
            throw GrantlineException.Transport("the exchange with $shown was cancelled")
        } catch (e: ExecutionException) {
            val cause = e.cause
            if (cause is HttpTimeoutException || System.nanoTime() - deadline >= 0) late()
            throw GrantlineException.Transport("${(cause ?: e).javaClass.simpleName} sending to $shown")
        }

        // The body: read under a watchdog that closes the stream at the deadline.
        val limit = parts.maxResponseBody?.let { if (it >= (Long.MAX_VALUE - 1).toULong()) null else it.toLong() }
        val raw = response.body()
        val expired = AtomicBoolean(false)
        val watchdog = WATCHDOG.schedule({
            expired.set(true)
            try { raw.close() } catch (_: IOException) { }
        }, remainingNanos(deadline), TimeUnit.NANOSECONDS)
        val coding = response.headers().allValues("content-encoding")
            .flatMap { it.split(',') }.map { it.trim().lowercase() }.filter { it.isNotEmpty() && it != "identity" }
        val decodable = coding.all { it == "gzip" || it == "x-gzip" || it == "deflate" }
        val bytes = try {
            val input = if (decodable) decoded(raw, coding) else raw
            input.use { readCapped(it, limit) }
        } catch (e: IOException) {
            if (expired.get()) late()
            val what = if (decodable && coding.isNotEmpty()) "decoding the $coding body from" else "reading from"
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
            if (decodable && coding.isNotEmpty() && (lower == "content-encoding" || lower == "content-length")) continue
            for (value in values) headers.add(Header(name, value))
        }
        return HttpResponse(response.statusCode().toUShort(), headers, bytes)
    }

    private companion object {
        val RESTRICTED = setOf("connection", "content-length", "expect", "host", "upgrade")
        val MAX_BUDGET: Duration = Duration.ofDays(365)

        /** Closes bodies whose deadline passed: one daemon thread for every transport. */
        val WATCHDOG = ScheduledThreadPoolExecutor(1) { r ->
            Thread(r, "grantline-deadline").apply { isDaemon = true }
        }.apply { removeOnCancelPolicy = true }

        fun remainingNanos(deadline: Long): Long = (deadline - System.nanoTime()).coerceAtLeast(0)

        fun remaining(deadline: Long): Duration? =
            remainingNanos(deadline).takeIf { it > 0 }?.let { Duration.ofNanos(it) }

        fun describe(d: Duration): String =
            if (d.toMillis() % 1000 == 0L) "${d.seconds} s" else "${d.toMillis()} ms"

        /** `scheme://host[:port]/path`: no user information, query or fragment. */
        fun shown(uri: URI): String {
            val port = if (uri.port >= 0) ":${uri.port}" else ""
            return "${uri.scheme}://${uri.host}$port${uri.rawPath ?: ""}"
        }

        /** Undoes the codings, the last one applied first. Empty bodies stay empty. */
        fun decoded(raw: InputStream, coding: List<String>): InputStream {
            var input: InputStream = raw
            for (c in coding.asReversed()) {
                val peek = PushbackInputStream(input, 2)
                val first = peek.read()
                if (first < 0) return peek // no body (HEAD, 204, an empty error)
                val second = peek.read()
                if (second >= 0) peek.unread(second)
                peek.unread(first)
                input = when (c) {
                    "deflate" -> {
                        // RFC 9110's deflate is a zlib stream (RFC 1950); some servers send raw
                        // deflate (RFC 1951): a zlib header is CM 8 and a multiple of 31.
                        val zlib = second >= 0 && (first and 0x0f) == 8 && ((first shl 8) or second) % 31 == 0
                        InflaterInputStream(peek, Inflater(!zlib), 16 * 1024)
                    }
                    else -> GZIPInputStream(peek, 16 * 1024)
                }
            }
            return input
        }

        /** At most [limit] + 1 bytes (all of them when [limit] is null). */
        fun readCapped(input: InputStream, limit: Long?): ByteArray {
            val out = ByteArrayOutputStream()
            val buffer = ByteArray(16 * 1024)
            val cap = if (limit == null) Long.MAX_VALUE else limit + 1
            var total = 0L
            while (total < cap) {
                val n = input.read(buffer, 0, minOf(buffer.size.toLong(), cap - total).toInt())
                if (n < 0) break
                out.write(buffer, 0, n)
                total += n
            }
            return out.toByteArray()
        }
    }
}
