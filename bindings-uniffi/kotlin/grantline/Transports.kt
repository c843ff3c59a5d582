// Transport adapters and the pieces grantline's Kotlin transports share (package grantline),
// shipped next to the generated bindings: the whole-request deadline, cancellation of a blocking
// exchange, decoding and capping bodies, URLs as errors may show them.
package grantline

import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.io.PushbackInputStream
import java.net.URI
import java.time.Duration
import java.util.concurrent.ScheduledFuture
import java.util.concurrent.ScheduledThreadPoolExecutor
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.zip.GZIPInputStream
import java.util.zip.Inflater
import java.util.zip.InflaterInputStream
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asExecutor
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.runInterruptible
import kotlinx.coroutines.suspendCancellableCoroutine

/**
 * An [HttpTransport] written as a blocking [send] (OkHttp's `execute()`, a Java client, ...):
 * [sendAsync] runs it on [Dispatchers.IO] and interrupts that thread when the calling coroutine
 * is cancelled (OkHttp and most blocking clients end the exchange on an interrupt). Extend it
 * from Java or Kotlin and write [send] only.
 */
abstract class BlockingHttpTransport : HttpTransport {
    /** [send], on [Dispatchers.IO], interrupted when the caller is cancelled. */
    override suspend fun sendAsync(request: HttpRequest): HttpResponse =
        runInterruptible(Dispatchers.IO) { send(request) }
}

/**
 * An [HttpTransport] written as a suspending [sendAsync] (Ktor, OkHttp's `executeAsync()`, ...):
 * the blocking [send] (for Java callers and `TokenSession`) runs it in `runBlocking`. Write
 * [sendAsync] only.
 */
abstract class SuspendingHttpTransport : HttpTransport {
    /** [sendAsync], with the calling thread blocked until it completes. */
    override fun send(request: HttpRequest): HttpResponse = runBlocking { sendAsync(request) }
}

/**
 * How a blocking exchange is stopped from another thread: the transport registers what closes
 * its connection ([onAbort]); the deadline watchdog or a cancelled coroutine calls [abort].
 */
internal class Abort {
    @Volatile private var action: (() -> Unit)? = null
    private val done = AtomicBoolean(false)

    /** Whether [abort] was called. */
    val aborted: Boolean get() = done.get()

    /** What [abort] does; run at once when the exchange was aborted already. */
    fun onAbort(close: () -> Unit) {
        action = close
        if (done.get()) quietly(close)
    }

    fun abort() {
        done.set(true)
        action?.let { quietly(it) }
    }

    private fun quietly(close: () -> Unit) {
        try { close() } catch (_: Exception) { }
    }
}

/**
 * Runs the blocking [exchange] on [Dispatchers.IO]; when the calling coroutine is cancelled, its
 * [Abort] fires (closing the connection, so the blocked thread returns at once) and the caller
 * resumes with the cancellation without waiting for it.
 */
internal suspend fun <T> onIo(exchange: (Abort) -> T): T = suspendCancellableCoroutine { continuation ->
    val abort = Abort()
    continuation.invokeOnCancellation { abort.abort() }
    IO.execute { continuation.resumeWith(runCatching { exchange(abort) }) }
}

private val IO = Dispatchers.IO.asExecutor()

/** A whole-request deadline: [budget] from now (a year at most: `Duration.toNanos` overflows). */
internal class Deadline(val budget: Duration) {
    private val at = System.nanoTime() + budget.coerceAtMost(MAX_BUDGET).toNanos().coerceAtLeast(1)

    /** Nanoseconds left, 0 when passed. */
    fun remainingNanos(): Long = (at - System.nanoTime()).coerceAtLeast(0)

    /** Whole milliseconds left for a per-operation timeout, at least 1 (0 means "none" there). */
    fun remainingMillis(): Int = TimeUnit.NANOSECONDS.toMillis(remainingNanos()).coerceIn(1, Int.MAX_VALUE.toLong()).toInt()

    fun passed(): Boolean = System.nanoTime() - at >= 0

    /** Calls [abort] at the deadline (after setting [expired]); cancel the result when done. */
    fun watch(abort: Abort, expired: AtomicBoolean): ScheduledFuture<*> =
        WATCHDOG.schedule({
            expired.set(true)
            abort.abort()
        }, remainingNanos(), TimeUnit.NANOSECONDS)

    /** The budget in words, for errors. */
    fun describe(): String =
        if (budget.toMillis() % 1000 == 0L) "${budget.seconds} s" else "${budget.toMillis()} ms"

    private companion object {
        val MAX_BUDGET: Duration = Duration.ofDays(365)

        /** Aborts exchanges whose deadline passed: one daemon thread for every transport. */
        val WATCHDOG = ScheduledThreadPoolExecutor(1) { r ->
            Thread(r, "grantline-deadline").apply { isDaemon = true }
        }.apply { removeOnCancelPolicy = true }
    }
}

/** `scheme://host[:port]/path`: a URL as errors may show it (no user information, query or fragment). */
/** The request's URL, or a `Transport` error that names only what kind of failure it was. */
internal fun requestUri(url: String): URI = try {
    URI(url)
} catch (e: Exception) {
    throw GrantlineException.Transport("invalid URL: ${e.javaClass.simpleName}")
}

internal fun shownUrl(uri: URI): String {
    val port = if (uri.port >= 0) ":${uri.port}" else ""
    return "${uri.scheme}://${uri.host}$port${uri.rawPath ?: ""}"
}

/** The content codings of a response, the last one applied last; "identity" left out. */
internal fun contentCodings(values: List<String>): List<String> =
    values.flatMap { it.split(',') }.map { it.trim().lowercase() }.filter { it.isNotEmpty() && it != "identity" }

/** Whether grantline decodes every one of [codings] (gzip, x-gzip, deflate). */
internal fun decodable(codings: List<String>): Boolean = codings.all { it == "gzip" || it == "x-gzip" || it == "deflate" }

/** Undoes [codings], the last one applied first. Empty bodies stay empty. */
internal fun decoded(raw: InputStream, codings: List<String>): InputStream {
    var input: InputStream = raw
    for (c in codings.asReversed()) {
        val peek = PushbackInputStream(input, 2)
        val first = peek.read()
        if (first < 0) return peek // no body (HEAD, 204, an empty error)
        val second = peek.read()
        if (second >= 0) peek.unread(second)
        peek.unread(first)
        input = when (c) {
            "deflate" -> {
                // RFC 9110's deflate is a zlib stream (RFC 1950); some servers send raw deflate
                // (RFC 1951): a zlib header is CM 8 and a multiple of 31.
                val zlib = second >= 0 && (first and 0x0f) == 8 && ((first shl 8) or second) % 31 == 0
                InflaterInputStream(peek, Inflater(!zlib), 16 * 1024)
            }
            else -> GZIPInputStream(peek, 16 * 1024)
        }
    }
    return input
}

/** A body read up to a cap: the bytes, and whether the stream ended (false: stopped at the cap). */
internal class CappedBody(val bytes: ByteArray, val complete: Boolean)

/**
 * At most [limit] + 1 bytes of [input] (all of them when [limit] is null), stopping with
 * [late] once [deadline] has passed (checked after every read; a read blocked past it is ended
 * by the watchdog closing the connection).
 */
internal fun readCapped(input: InputStream, limit: Long?, deadline: Deadline, late: () -> Nothing): CappedBody {
    val out = ByteArrayOutputStream()
    val buffer = ByteArray(16 * 1024)
    val cap = if (limit == null || limit >= Long.MAX_VALUE - 1) Long.MAX_VALUE else limit + 1
    var total = 0L
    while (total < cap) {
        val n = input.read(buffer, 0, minOf(buffer.size.toLong(), cap - total).toInt())
        if (deadline.passed()) late()
        if (n < 0) return CappedBody(out.toByteArray(), complete = true)
        out.write(buffer, 0, n)
        total += n
    }
    return CappedBody(out.toByteArray(), complete = false)
}
