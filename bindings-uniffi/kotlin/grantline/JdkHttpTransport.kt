// grantline's ready-made transport for the JVM: java.net.http.HttpClient (JDK 11+), shipped
// next to the generated bindings (package grantline). On Android, implement HttpTransport over
// OkHttp the same way (followRedirects(false), a body cap).
package grantline

import java.io.IOException
import java.io.InputStream
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse
import java.time.Duration

/**
 * An [HttpTransport] over the JDK's [HttpClient].
 *
 * - Redirects are never followed (a 3xx comes back as it is): a redirected token request would
 *   turn into a GET and could leak its body.
 * - [timeout] bounds each exchange (connect, send, the response headers); the body is read up
 *   to [maxBody] + 1 bytes, so grantline can refuse an oversized answer without reading it all.
 * - Failures without a response throw [GrantlineException.Transport], whose reason names the
 *   failure and never the request's body or credentials.
 *
 * Thread-safe; reuse one instance (it keeps the connection pool of [client]).
 */
class JdkHttpTransport @JvmOverloads constructor(
    private val timeout: Duration = Duration.ofSeconds(30),
    private val client: HttpClient = HttpClient.newBuilder()
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(timeout)
        // HTTP/1.1: no h2c upgrade attempt on plain-http loopback servers.
        .version(HttpClient.Version.HTTP_1_1)
        .build(),
    private val maxBody: Long = maxResponseBody().toLong(),
) : HttpTransport {

    init {
        require(client.followRedirects() == HttpClient.Redirect.NEVER) {
            "JdkHttpTransport needs an HttpClient with followRedirects(HttpClient.Redirect.NEVER)"
        }
    }

    override fun send(request: HttpRequest): HttpResponse {
        val parts = request.parts() // one call across the FFI
        val url = parts.url
        val uri = try {
            URI(url)
        } catch (e: Exception) {
            throw GrantlineException.Transport("invalid URL: ${e.javaClass.simpleName}")
        }
        val body = parts.body
        val builder = JdkRequest.newBuilder(uri)
            .timeout(timeout)
            .method(
                parts.method,
                if (body.isEmpty()) JdkRequest.BodyPublishers.noBody()
                else JdkRequest.BodyPublishers.ofByteArray(body),
            )
        for (header in parts.headers) {
            // The JDK sets these itself and refuses them from callers.
            if (header.name.lowercase() in RESTRICTED) continue
            builder.header(header.name, header.value)
        }
        val response = try {
            client.send(builder.build(), JdkResponse.BodyHandlers.ofInputStream())
        } catch (e: InterruptedException) {
            Thread.currentThread().interrupt()
            throw GrantlineException.Transport("interrupted while sending to ${origin(uri)}")
        } catch (e: IOException) {
            throw GrantlineException.Transport("${e.javaClass.simpleName} sending to ${origin(uri)}")
        } catch (e: IllegalArgumentException) {
            throw GrantlineException.Transport("the request cannot be sent: ${e.javaClass.simpleName}")
        }
        val bytes = try {
            response.body().use { readCapped(it, maxBody + 1) }
        } catch (e: IOException) {
            throw GrantlineException.Transport("${e.javaClass.simpleName} reading from ${origin(uri)}")
        }
        val headers = ArrayList<Header>()
        for ((name, values) in response.headers().map()) {
            if (name.startsWith(":")) continue // HTTP/2 pseudo-headers
            for (value in values) headers.add(Header(name, value))
        }
        return HttpResponse(response.statusCode().toUShort(), headers, bytes)
    }

    private fun readCapped(input: InputStream, limit: Long): ByteArray {
        val out = java.io.ByteArrayOutputStream()
        val buffer = ByteArray(16 * 1024)
        var total = 0L
        while (total < limit) {
            val n = input.read(buffer, 0, minOf(buffer.size.toLong(), limit - total).toInt())
            if (n < 0) break
            out.write(buffer, 0, n)
            total += n
        }
        return out.toByteArray()
    }

    private fun origin(uri: URI): String = "${uri.scheme}://${uri.authority}"

    private companion object {
        val RESTRICTED = setOf("connection", "content-length", "expect", "host", "upgrade")
    }
}
