// What the FFI boundary costs from Kotlin: a cached TokenSession access token, and one
// client-credentials build + parse round, against the cheapest possible call, in one run.
// No network: an in-memory transport answers the one token request. JIT warmed first.
package grantline.test

import grantline.*
import kotlinx.coroutines.runBlocking

private class FixedTransport : BlockingHttpTransport() {
    private val body = """{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9.c2lnbmF0dXJl","token_type":"Bearer","expires_in":3600}""".toByteArray()
    override fun send(request: HttpRequest): HttpResponse =
        HttpResponse(200, listOf(Header("content-type", "application/json")), body)
}

private inline fun measure(name: String, iterations: Int, rounds: Int, op: () -> Unit): Double {
    repeat(iterations) { op() } // warm-up (JIT)
    val perOp = DoubleArray(rounds)
    for (r in 0 until rounds) {
        val start = System.nanoTime()
        repeat(iterations) { op() }
        perOp[r] = (System.nanoTime() - start).toDouble() / iterations
    }
    perOp.sort()
    val median = perOp[rounds / 2]
    println(String.format("%-58s median %9.3f us/op   best %9.3f us/op   (%d x %d)", name, median / 1000, perOp[0] / 1000, rounds, iterations))
    System.out.flush()
    return median
}

/** Iterations per round: `-Dgrantline.bench.scale=0.1` for a quick look. */
private val scale = System.getProperty("grantline.bench.scale")?.toDoubleOrNull() ?: 1.0
private fun n(count: Int) = maxOf(1, (count * scale).toInt())

fun bench() {
    val transport = FixedTransport()
    val client = Client(Provider.bookable(), "bench-client", "bench-secret", transport = transport)
    val session = TokenSession.clientCredentials(client)
    session.accessToken()
    var sink = 0L

    measure("FFI floor: maxResponseBody()", n(100_000), 7) { sink += maxResponseBody().toLong() }
    val cached = measure("TokenSession.accessToken(), cached token (kept lease)", n(10_000_000), 7) { sink += session.accessToken().length }
    val native = NativeTokenSession.clientCredentials(client)
    native.accessToken()
    measure("NativeTokenSession.accessToken(), cached, into Rust", n(100_000), 7) { sink += native.accessToken().length }
    val suspending = AsyncTokenSession.clientCredentials(client)
    runBlocking {
        suspending.accessToken()
        measure("AsyncTokenSession.accessToken(), cached (a Rust future)", n(50_000), 7) { sink += suspending.accessToken().length }
    }
    val request = client.clientCredentialsRequest()
    val response = transport.send(request)
    measure("clientCredentialsRequest() only", n(20_000), 7) { client.clientCredentialsRequest().close() }
    measure("TokenSet.fromResponse() only", n(20_000), 7) { TokenSet.fromResponse(response, 1_700_000_000L).close() }
    val round = measure("round: build + read request + parse response", n(20_000), 7) {
        val r = client.clientCredentialsRequest()
        val parts = r.parts() // as JdkHttpTransport reads it
        sink += parts.method.length + parts.url.length + parts.headers.size + parts.body.size
        val tokens = TokenSet.fromResponse(transport.send(r), 1_700_000_000L)
        sink += tokens.accessToken().length
        tokens.close()
        r.close()
    }
    println(String.format("cached token: %.3f us (target <= 5 us: %s); round: %.3f us", cached / 1000, if (cached <= 5000) "met" else "MISSED", round / 1000))
    if (sink == 42L) println(sink)
}
