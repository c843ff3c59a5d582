// Kotlin sessions sharing one token through a real Redis (GRANTLINE_REDIS_URL, from
// tests/interop/servers.sh run; skipped with a message when unset). There is no Java Redis client
// on this machine, so the test brings a minimal RESP2 client (~60 lines): what it takes to plug a
// client into RedisFleetStore (get + eval, and a SUBSCRIBE for watch). Token endpoint: the load
// server (GRANTLINE_LOAD_URL: rotating refresh tokens with reuse detection) when set, else the
// in-memory FleetTokenEndpoint.
package grantline.test

import grantline.*
import java.io.BufferedInputStream
import java.io.BufferedOutputStream
import java.io.ByteArrayOutputStream
import java.io.Closeable
import java.io.IOException
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.net.SocketTimeoutException
import java.net.URI
import java.time.Duration
import java.util.UUID
import java.util.concurrent.CountDownLatch
import java.net.http.HttpClient as JdkClient
import java.net.http.HttpRequest as JdkRequest
import java.net.http.HttpResponse as JdkResponse

/** An error reply (`-ERR ...`). */
class RedisError(message: String) : IOException(message)

/** One RESP2 connection: commands in, replies out (String, Long, null, List, or a thrown [RedisError]). */
class Resp(private val url: URI, timeoutMs: Int = 2000) : Closeable {
    private val socket = Socket().apply {
        connect(InetSocketAddress(url.host, if (url.port > 0) url.port else 6379), timeoutMs)
        soTimeout = timeoutMs
    }
    private val input = BufferedInputStream(socket.getInputStream())
    private val output = BufferedOutputStream(socket.getOutputStream())

    init {
        val db = url.path.trim('/').ifEmpty { "0" }
        if (db != "0") call("SELECT", db)
    }

    fun timeout(ms: Int) { socket.soTimeout = ms }

    @Synchronized
    fun call(vararg args: String): Any? {
        send(*args)
        return read()
    }

    fun send(vararg args: String) {
        output.write("*${args.size}\r\n".toByteArray())
        for (a in args) {
            val b = a.toByteArray(Charsets.UTF_8)
            output.write("$${b.size}\r\n".toByteArray())
            output.write(b)
            output.write("\r\n".toByteArray())
        }
        output.flush()
    }

    private fun line(): String {
        val out = ByteArrayOutputStream()
        while (true) {
            val c = input.read()
            if (c < 0) throw IOException("Redis closed the connection")
            if (c == '\r'.code) { input.read(); return out.toString("UTF-8") }
            out.write(c)
        }
    }

    fun read(): Any? {
        val kind = input.read()
        val rest = line()
        return when (kind) {
            '+'.code -> rest
            '-'.code -> throw RedisError(rest)
            ':'.code -> rest.toLong()
            '$'.code -> rest.toInt().let { n ->
                if (n < 0) null else ByteArray(n).also { b ->
                    var off = 0
                    while (off < n) { val k = input.read(b, off, n - off); if (k < 0) throw IOException("short bulk"); off += k }
                    input.read(); input.read()
                }.toString(Charsets.UTF_8)
            }
            '*'.code -> rest.toInt().let { n -> if (n < 0) null else (1..n).map { read() } }
            else -> throw IOException("not a RESP reply")
        }
    }

    override fun close() = socket.close()
}

/** [RedisFleetStore] over [Resp]: one command connection (reopened after a failure), a SUBSCRIBE per watch. */
class RespFleetStore(private val url: URI) : RedisFleetStore() {
    private var conn: Resp? = null

    @Synchronized
    private fun <T> withConn(body: (Resp) -> T): T {
        val c = conn ?: Resp(url).also { conn = it }
        try {
            return body(c)
        } catch (e: IOException) {
            if (e !is RedisError) { c.close(); conn = null }
            throw e
        }
    }

    override fun get(key: String): String? = withConn { it.call("GET", key) as String? }

    override fun eval(script: String, keys: List<String>, args: List<String>): Any? =
        withConn { it.call("EVAL", script, keys.size.toString(), *keys.toTypedArray(), *args.toTypedArray()) }

    /** Returns at the first message on [channel] or after [timeoutMs]. */
    override fun watch(channel: String, version: Long, timeoutMs: Long) {
        Resp(url).use { sub ->
            sub.send("SUBSCRIBE", channel)
            sub.read() // the subscription's confirmation
            sub.timeout(timeoutMs.coerceIn(1, Int.MAX_VALUE.toLong()).toInt())
            try {
                sub.read()
            } catch (e: SocketTimeoutException) {
                // the timeout passed without a new version
            }
        }
    }

    fun close() = synchronized(this) { conn?.close(); conn = null }
}

/** The load server's admin side (reset, stats, check), on the JDK's client. */
private class LoadServer(val base: String) {
    private val http = JdkClient.newBuilder().version(JdkClient.Version.HTTP_1_1).build()
    fun call(method: String, path: String, json: String? = null): Map<*, *> {
        val b = JdkRequest.newBuilder(URI("$base$path")).timeout(Duration.ofSeconds(10))
        if (json != null) b.header("content-type", "application/json").method(method, JdkRequest.BodyPublishers.ofString(json))
        else b.method(method, JdkRequest.BodyPublishers.noBody())
        val r = http.send(b.build(), JdkResponse.BodyHandlers.ofString())
        if (r.statusCode() != 200) throw IllegalStateException("$method $path: HTTP ${r.statusCode()}")
        return Json.parse(r.body()) as Map<*, *>
    }
    fun stat(name: String): Long = (call("GET", "/admin/stats")[name] as Number).toLong()
}

private fun loadClient(base: String): Client {
    val provider = ProviderBuilder("load").tokenEndpoint("$base/token").authMethod(ClientAuthMethod.BODY)
        .grant(GrantType.CLIENT_CREDENTIALS).grant(GrantType.PASSWORD).grant(GrantType.REFRESH_TOKEN).build()
    return Client(provider, "kotlin-fleet", "load-secret", transport = JdkHttpTransport())
}

/** A port nothing listens on. */
private fun closedPort(): Int = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }

fun fleetRedisTests(t: Tests) {
    val redisUrl = System.getenv("GRANTLINE_REDIS_URL")
    if (redisUrl.isNullOrEmpty()) {
        println("skip fleet redis: GRANTLINE_REDIS_URL is not set (run under tests/interop/servers.sh run -- ...)")
        return
    }
    val redis = URI(redisUrl)
    val load = System.getenv("GRANTLINE_LOAD_URL")?.trimEnd('/')?.takeIf { it.isNotEmpty() }?.let { LoadServer(it) }
    fun name() = "kotlin-" + UUID.randomUUID().toString().take(8)
    fun config(name: String, leaseTtlMs: Long? = null) = FleetConfig(name, Protection.encrypted(FLEET_KEY), leaseTtlMs = leaseTtlMs)

    t.check("fleet redis: two sessions with their own connections, 8 threads each: one token request") {
        val fleet = config(name())
        val stores = listOf(RespFleetStore(redis), RespFleetStore(redis))
        val (client, requests) = if (load != null) {
            load.call("POST", "/admin/reset", """{"lifetime": 60, "fail_rate": 0, "delay": 0.05}""")
            Pair({ loadClient(load.base) }, { load.stat("token_requests") })
        } else {
            val endpoint = FleetTokenEndpoint()
            Pair({ fleetClient(endpoint) }, { endpoint.calls.get().toLong() })
        }
        val sessions = stores.map { TokenSession.clientCredentials(client(), store = it, fleet = fleet) }
        val start = CountDownLatch(1)
        val results = java.util.Collections.synchronizedList(ArrayList<Result<String>>())
        val threads = sessions.flatMap { s -> (1..8).map { Thread { start.await(); results.add(runCatching { s.accessToken() }) }.also { it.start() } } }
        start.countDown()
        threads.forEach { it.join(30_000) }
        assertEq(16, results.size)
        assertEq(1, results.map { it.getOrThrow() }.toSet().size, "distinct tokens")
        assertEq(1L, requests(), "token requests")
        assertEq(1L, sessions.sumOf { it.fleetStats()!!.httpRenewals })
        val stats = sessions.map { it.fleetStats()!! }
        val calls = stats.sumOf { it.storeOps }
        repeat(1000) { sessions.forEach { it.accessToken() } }
        assertEq(calls, sessions.sumOf { it.fleetStats()!!.storeOps }, "store round trips for 2000 cached tokens")
        println("fleet redis figures (${if (load != null) "load server" else "stub endpoint"}): 2 sessions x 8 threads: " +
            "token requests ${requests()}, store round trips per session ${stats.map { it.storeOps }}, " +
            "adopted ${stats.sumOf { it.adopted }}, per cached access 0")
        stores.forEach { it.close() }
    }

    t.check("fleet redis: a rotating refresh token across two sessions: refreshed in turn, never reused") {
        val fleet = config(name())
        val stores = listOf(RespFleetStore(redis), RespFleetStore(redis))
        val endpoint = FleetTokenEndpoint()
        load?.call("POST", "/admin/reset", """{"lifetime": 60, "fail_rate": 0, "delay": 0.05}""")
        val makeClient: () -> Client = if (load != null) ({ loadClient(load.base) }) else ({ fleetClient(endpoint) })
        val (a, b) = stores.map { TokenSession.password(makeClient(), "fleet", "fleet", store = it, fleet = fleet) }
        var token = a.accessToken()
        assertEq(token, b.accessToken())
        for (round in 1..6) {
            val (renewer, other) = if (round % 2 == 1) Pair(a, b) else Pair(b, a)
            assertTrue(renewer.reject(token))
            val next = renewer.accessToken()
            assertTrue(next != token) { "round $round: no new token" }
            other.reject(token)
            assertEq(next, other.accessToken(), "round $round: the other session takes the new token")
            token = next
        }
        assertEq(7L, a.fleetVersion())
        if (load != null) {
            assertEq(0L, load.stat("reuse_detected"))
            assertEq(6L, load.stat("rotations"))
            assertEq(1L, load.stat("families"))
            val state = load.call("POST", "/admin/check", """{"refresh_token": "${a.tokens()!!.refreshToken()}"}""")["state"]
            assertEq("current", state)
        } else {
            assertEq(0, endpoint.reused.get())
            assertEq(6, endpoint.refreshes.get())
        }
        stores.forEach { it.close() }
    }

    t.check("fleet redis: Redis unreachable (a closed port): client credentials still gets a token; a refresh caller with a valid token never sees the error") {
        val down = RespFleetStore(URI("redis://127.0.0.1:${closedPort()}/0"))
        val endpoint = FleetTokenEndpoint()
        val cc = TokenSession.clientCredentials(fleetClient(endpoint), store = down, fleet = config(name()))
        assertEq("tok-1", cc.accessToken())
        assertEq(1L, cc.fleetStats()!!.fallbackRenewals)
        val now = System.currentTimeMillis() / 1000
        val due = TokenSession.fromTokens(fleetClient(endpoint), TokenSet("valid", "rt-x", now + 30, now - 100), store = down, fleet = config(name()))
        assertEq("valid", due.accessToken())
        val expired = TokenSession.fromTokens(fleetClient(endpoint), TokenSet("old", "rt-x", 1, 0), store = down, fleet = config(name()))
        val e = assertThrows<GrantlineException.Store> { expired.accessToken() }
        assertContains(e.reason, "java.net.ConnectException")
        assertEq(1, endpoint.calls.get(), "no refresh without the store")
    }

    t.check("fleet redis: hostile entries in Redis: typed errors and fallback, never a crash, never overwritten") {
        val n = name()
        val keys = config(n).keys()
        Resp(redis).use { admin ->
            for (garbage in listOf("garbage", "{\"format\":1,\"version\":3}", "{\"format\":1,\"version\":1e400}", "\u0000")) {
                admin.call("SET", keys.entry, garbage)
                val store = RespFleetStore(redis)
                val endpoint = FleetTokenEndpoint()
                val cc = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = config(n))
                assertEq("tok-1", cc.accessToken())
                val refresh = TokenSession.fromTokens(fleetClient(endpoint), TokenSet("old", "rt-x", 1, 0), store = store, fleet = config(n))
                assertThrows<GrantlineException.Store> { refresh.accessToken() }
                assertEq(garbage, admin.call("GET", keys.entry), "the entry")
                store.close()
            }
            admin.call("DEL", keys.entry, keys.lease)
        }
    }
}
