// The load run (`bindings-uniffi/test.sh load`, under tests/interop/servers.sh run), in two
// phases of ~20 s each against tests/load/server.py (password grant, rotating refresh tokens,
// family revocation on reuse, injected resets and 503s): many threads share ONE TokenSession over
// JdkHttpTransport, then many coroutines share ONE AsyncTokenSession over UrlConnectionTransport,
// each caller looping get-token -> GET /api. Prints figures; exits non-zero only on correctness
// failures (invalid_grant, a lost refresh token, an error while a valid token existed), never on
// timings.
//
// Knobs: GRANTLINE_LOAD_SECONDS (20, per phase), GRANTLINE_LOAD_THREADS (64),
// GRANTLINE_LOAD_COROUTINES (256), GRANTLINE_LOAD_FAIL_RATE (0.1).
package grantline.test

import grantline.*
import java.net.URI
import java.net.URLEncoder
import java.time.Duration
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicLong
import java.net.http.HttpClient as JdkClient
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking

/** The admin side of the load server, on its own plain JDK client (not grantline's transport). */
private class LoadAdmin(private val base: String) {
    private val http = JdkClient.newBuilder().version(JdkClient.Version.HTTP_1_1).build()

    fun call(method: String, path: String, json: String? = null): Map<*, *> {
        val b = JdkRequest.newBuilder(URI("$base$path")).timeout(Duration.ofSeconds(10))
        if (json != null) b.header("content-type", "application/json").method(method, JdkRequest.BodyPublishers.ofString(json))
        else b.method(method, JdkRequest.BodyPublishers.noBody())
        val r = http.send(b.build(), JdkResponse.BodyHandlers.ofString())
        if (r.statusCode() != 200) throw IllegalStateException("$method $path: HTTP ${r.statusCode()}")
        return Json.parse(r.body()) as Map<*, *>
    }

    fun tokenValid(token: String): Pair<Boolean, Double?> {
        val m = call("GET", "/admin/token-valid?token=" + URLEncoder.encode(token, "UTF-8"))
        return Pair(m["valid"] == true, (m["expires_at"] as? Number)?.toDouble())
    }
}

private fun num(m: Map<*, *>, key: String): Long = (m[key] as? Number)?.toLong() ?: 0L

/** Persists every token set it is given (here: in memory), in the order given. */
private class Store : TokenListener {
    @Volatile var lastRefresh: String? = null
    val sets = AtomicLong()
    val rotations = AtomicLong()
    override fun onTokens(renewed: Renewed) {
        synchronized(this) {
            lastRefresh = renewed.tokens.refreshToken()
            sets.incrementAndGet()
            if (renewed.refreshTokenRotated) rotations.incrementAndGet()
        }
    }
}

/** How one phase reaches the server: the caller's one API call, and the session's token set. */
private class Driven(val send: suspend () -> HttpResponse, val tokens: () -> TokenSet?, val close: () -> Unit)

/** The load run; returns the exit status. */
fun load(): Int {
    val base = System.getenv("GRANTLINE_LOAD_URL")?.trimEnd('/')
    if (base.isNullOrEmpty()) {
        System.err.println("load: GRANTLINE_LOAD_URL is not set: run under tests/interop/servers.sh run -- bindings-uniffi/test.sh load")
        return 2
    }
    val seconds = System.getenv("GRANTLINE_LOAD_SECONDS")?.toLongOrNull() ?: 20L
    val threads = System.getenv("GRANTLINE_LOAD_THREADS")?.toIntOrNull() ?: 64
    val coroutines = System.getenv("GRANTLINE_LOAD_COROUTINES")?.toIntOrNull() ?: 256
    val admin = LoadAdmin(base)
    val blocking = phase(admin, base, seconds, "JdkHttpTransport, $threads threads sharing one TokenSession", { client, store ->
        val session = TokenSession.password(client, "load-user", "load-password", listener = store)
        val api = HttpRequest("GET", "$base/api", listOf(), ByteArray(0))
        Driven({ session.send(api) }, { session.tokens() }, { session.close() })
    }, JdkHttpTransport(Duration.ofSeconds(10))) { body ->
        val start = CountDownLatch(1)
        val workers = (1..threads).map {
            Thread {
                start.await()
                runBlocking { body() }
            }.also { it.start() }
        }
        start.countDown()
        workers.forEach { it.join() }
    }
    val suspending = phase(admin, base, seconds, "UrlConnectionTransport, $coroutines coroutines sharing one AsyncTokenSession", { client, store ->
        val session = AsyncTokenSession.password(client, "load-user", "load-password", listener = store)
        val api = HttpRequest("GET", "$base/api", listOf(), ByteArray(0))
        Driven({ session.send(api) }, { session.tokens() }, { session.close() })
    }, UrlConnectionTransport(Duration.ofSeconds(10))) { body ->
        runBlocking(Dispatchers.Default) {
            repeat(coroutines) { launch { body() } }
        }
    }
    return if (blocking && suspending) 0 else 1
}

/**
 * One phase: a fresh server family, [drive] running callers that each loop get-token -> GET /api
 * until the time is up; figures printed; returns whether it was correct.
 */
private fun phase(
    admin: LoadAdmin,
    base: String,
    seconds: Long,
    what: String,
    session: (Client, Store) -> Driven,
    transport: HttpTransport,
    drive: (suspend () -> Unit) -> Unit,
): Boolean {
    val failRate = System.getenv("GRANTLINE_LOAD_FAIL_RATE")?.toDoubleOrNull() ?: 0.1
    val lifetime = 2
    val config = admin.call("POST", "/admin/reset", """{"lifetime": $lifetime, "fail_rate": $failRate, "retry_after": 1}""")
    println("load: $base, config $config, $what, $seconds s")

    val provider = ProviderBuilder("load").tokenEndpoint("$base/token")
        .grant(GrantType.PASSWORD).grant(GrantType.REFRESH_TOKEN).build()
    val client = Client(provider, "kotlin-load", "load-secret", transport = transport)
    val store = Store()
    val driven = session(client, store)

    val calls = AtomicLong()
    val ok = AtomicLong()
    val final401 = AtomicLong()
    val errors = AtomicLong()
    val errorsWhileValid = AtomicLong()
    val errorsNoValid = AtomicLong()
    val errorsAtEdge = AtomicLong()
    val kinds = ConcurrentHashMap<String, AtomicLong>()
    val examples = ConcurrentHashMap<String, String>()
    val began = System.nanoTime()
    val end = began + seconds * 1_000_000_000
    drive {
        while (System.nanoTime() < end) {
            calls.incrementAndGet()
            try {
                val r = driven.send() // get-token -> GET /api (a 401 renews once and retries once)
                if (r.status == 200) ok.incrementAndGet() else if (r.status == 401) final401.incrementAndGet()
            } catch (e: GrantlineException) {
                errors.incrementAndGet()
                val kind = "${e.javaClass.simpleName}:" + when (e) {
                    is GrantlineException.OAuth -> e.code
                    is GrantlineException.MalformedResponse -> e.kind
                    is GrantlineException.Configuration -> e.kind
                    else -> ""
                }
                kinds.computeIfAbsent(kind) { AtomicLong() }.incrementAndGet()
                examples.putIfAbsent(kind, e.message ?: "")
                // Was there a valid token while this caller got an error?
                val nowAtError = System.currentTimeMillis() / 1000
                val tokens = driven.tokens()
                val current = tokens?.accessToken()
                val (valid, expiresAt) = if (current == null) Pair(false, null) else admin.tokenValid(current)
                val left = expiresAt?.let { it - System.currentTimeMillis() / 1000.0 }
                // The core counts in whole seconds (`now` is Unix seconds; expiry =
                // floor(receipt) + expires_in): a token it deems expired by its clock may
                // still have up to a second to live by the server's exact one.
                val expiredByCoreClock = tokens?.expiresAt()?.let { it <= nowAtError } ?: false
                when {
                    !valid -> errorsNoValid.incrementAndGet()
                    expiredByCoreClock && left != null && left < 1.0 -> errorsAtEdge.incrementAndGet()
                    else -> errorsWhileValid.incrementAndGet()
                }
            }
        }
    }
    val elapsed = (System.nanoTime() - began) / 1e9

    val stats = admin.call("GET", "/admin/stats")
    val last = store.lastRefresh
    val state = if (last == null) "none persisted" else admin.call("POST", "/admin/check", Json.write(mapOf("refresh_token" to last)))["state"]
    val lost = if (state == "current") 0 else 1
    val invalidGrant = num(stats, "invalid_grant")

    println("load: figures (Kotlin, $what, %.1f s)".format(elapsed))
    println("  token requests:              ${num(stats, "token_requests")} (processed ${num(stats, "processed")}, injected resets ${num(stats, "injected_resets")}, injected 503 ${num(stats, "injected_503")})")
    println("  token lifetimes elapsed:     %.1f (lifetime $lifetime s)".format(elapsed / lifetime))
    println("  rotations:                   ${num(stats, "rotations")}; sets persisted ${store.sets.get()} (${store.rotations.get()} rotated)")
    println("  invalid_grant:               $invalidGrant (reuse detected ${num(stats, "reuse_detected")}, families revoked ${num(stats, "families_revoked")}, live families ${num(stats, "families")})")
    println("  lost refresh tokens:         $lost (last persisted: $state)")
    println("  caller calls:                ${calls.get()} (API 200: ${ok.get()}, 401 after the retry: ${final401.get()}, errors: ${errors.get()})")
    println("  errors while a valid token existed: ${errorsWhileValid.get()}")
    println("  errors with a token expired by the core's whole-second clock, valid < 1 s more at the server: ${errorsAtEdge.get()}")
    println("  errors with no valid token:  ${errorsNoValid.get()}")
    println("  API answers 200 / 401:       ${num(stats, "api_ok")} / ${num(stats, "api_401")} (server side, retries included)")
    for ((kind, n) in kinds.toSortedMap()) println("    $kind x${n.get()}: ${examples[kind]}")
    driven.close()

    val failures = ArrayList<String>()
    if (invalidGrant > 0) failures.add("invalid_grant $invalidGrant")
    if (lost > 0) failures.add("lost refresh tokens $lost")
    if (errorsWhileValid.get() > 0) failures.add("errors while a valid token existed ${errorsWhileValid.get()}")
    if (calls.get() == 0L || ok.get() == 0L) failures.add("no successful API call")
    return if (failures.isEmpty()) {
        println("load: OK")
        true
    } else {
        println("load: FAILED: ${failures.joinToString(", ")}")
        false
    }
}
