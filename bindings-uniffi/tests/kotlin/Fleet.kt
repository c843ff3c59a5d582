// One token for a fleet (issue 12), in Kotlin: several TokenSessions (each as a process would
// have it: its own session, its own store client) sharing an in-memory FleetStore (atomic under
// one lock) and a stub token endpoint with rotating refresh tokens and reuse detection. One token
// request for many sessions, cached tokens with no store call, rotation across sessions, a
// holder that never commits, a store that throws, hangs or holds garbage; the sans-IO FleetState;
// RedisFleetStore's reply handling. No servers (the real Redis: FleetRedis.kt).
package grantline.test

import grantline.*
import java.math.BigInteger
import java.net.URLDecoder
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout

/**
 * A [FleetStore] in memory, every operation atomic under one lock: the entry, the lease (owner
 * and expiry, real time) and the last version announced (for [watch]). [mode] makes every call
 * throw, hang or throw a foreign exception. Counts its calls.
 */
class MemoryStore : FleetStore {
    enum class Mode { UP, DOWN, HANG, FOREIGN }

    private val lock = Object()
    var entry: String? = null
        get() = synchronized(lock) { field }
        set(v) = synchronized(lock) { field = v }
    private var lease: Pair<String, Long>? = null
    private var announced = 0L
    @Volatile var mode = Mode.UP
    val calls = AtomicInteger()
    val ops: MutableList<String> = Collections.synchronizedList(ArrayList())

    private fun enter(op: String) {
        calls.incrementAndGet()
        ops.add(op)
        when (mode) {
            Mode.UP -> {}
            Mode.DOWN -> throw GrantlineException.Store("connection refused")
            Mode.HANG -> Thread.sleep(5_000)
            Mode.FOREIGN -> throw IllegalStateException("cannot reach redis://:hunter2@10.0.0.1")
        }
    }

    private fun version(text: String?): Long = if (text == null) 0 else
        ((Json.parse(text) as Map<*, *>)["version"] as BigInteger).toLong()

    override fun read(key: String): String? {
        enter("read")
        return synchronized(lock) { entry }
    }

    override fun acquire(key: String, lease: String, owner: String, ttlMs: Long): AcquireReply {
        enter("acquire")
        synchronized(lock) {
            val now = System.currentTimeMillis()
            val held = this.lease
            val free = held == null || held.second <= now || held.first == owner
            if (free) this.lease = Pair(owner, now + ttlMs)
            return AcquireReply(free, this.lease?.let { it.second - now }, entry)
        }
    }

    override fun commit(
        key: String,
        lease: String,
        owner: String,
        channel: String,
        expectedVersion: Long,
        version: Long,
        entry: String,
    ): Boolean {
        enter("commit")
        synchronized(lock) {
            val current = try {
                version(this.entry)
            } catch (e: Exception) {
                -1L // unreadable: never overwritten (as the Redis script's -1)
            }
            if (this.lease?.first == owner) this.lease = null
            if (current != expectedVersion) return false
            this.entry = entry
            announced = version
            lock.notifyAll()
            return true
        }
    }

    override fun release(lease: String, owner: String) {
        enter("release")
        synchronized(lock) { if (this.lease?.first == owner) this.lease = null }
    }

    override fun watch(channel: String, version: Long, timeoutMs: Long) {
        enter("watch")
        val until = System.currentTimeMillis() + timeoutMs
        synchronized(lock) {
            while (announced <= version) {
                val left = until - System.currentTimeMillis()
                if (left <= 0) break
                lock.wait(left)
            }
        }
    }
}

/**
 * A token endpoint for fleets: client credentials and password grants issue `tok-N`/`rt-N`;
 * a refresh must present the current refresh token (it rotates; an old one is reuse: 400
 * `invalid_grant`, counted). [holdFirst]: the first token request waits for [release].
 */
class FleetTokenEndpoint(private val expiresIn: Int = 3600, private val holdFirst: Boolean = false) : BlockingHttpTransport() {
    val calls = AtomicInteger()
    val refreshes = AtomicInteger()
    val reused = AtomicInteger()
    val started = CountDownLatch(1)
    val release = CountDownLatch(1)
    private var current: String? = null

    override fun send(request: HttpRequest): HttpResponse {
        val form = String(request.body(), Charsets.UTF_8).split('&').filter { it.isNotEmpty() }.associate {
            val (k, v) = it.split('=', limit = 2) + listOf("")
            URLDecoder.decode(k, "UTF-8") to URLDecoder.decode(v, "UTF-8")
        }
        val n = calls.incrementAndGet()
        if (n == 1 && holdFirst) {
            started.countDown()
            release.await(20, TimeUnit.SECONDS)
        }
        synchronized(this) {
            if (form["grant_type"] == "refresh_token") {
                refreshes.incrementAndGet()
                if (form["refresh_token"] != current) {
                    reused.incrementAndGet()
                    return jsonResponse(400, """{"error":"invalid_grant","error_description":"refresh token reused"}""")
                }
            }
            current = "rt-$n"
        }
        return jsonResponse(200, """{"access_token":"tok-$n","token_type":"Bearer","expires_in":$expiresIn,"refresh_token":"rt-$n"}""")
    }
}

fun fleetClient(endpoint: HttpTransport): Client {
    val provider = ProviderBuilder("fleet").tokenEndpoint("http://127.0.0.1:9/token")
        .grant(GrantType.CLIENT_CREDENTIALS).grant(GrantType.PASSWORD).grant(GrantType.REFRESH_TOKEN).build()
    return Client(provider, "id", "secret", transport = endpoint)
}

val FLEET_KEY: EntryKey = EntryKey("k1", ByteArray(32) { 7 })

fun fleetConfig(leaseTtlMs: Long? = null, storeTimeoutMs: Long? = null, name: String = "kotlin-test") =
    FleetConfig(name, Protection.encrypted(FLEET_KEY), leaseTtlMs = leaseTtlMs, storeTimeoutMs = storeTimeoutMs)

/** Runs [body] on a thread of its own; join it with [Thread.join] and read [result]. */
private class Worker<T>(body: () -> T) {
    @Volatile var result: Result<T>? = null
    val thread = Thread { result = runCatching(body) }.also { it.start() }
    fun await(): T {
        thread.join(30_000)
        return (result ?: throw AssertionError("the worker is still running")).getOrThrow()
    }
}

/** An expired token set with a refresh token: the first call must refresh. */
private fun expiredTokens() = TokenSet("old", "rt-0", 1, 0)

fun fleetTests(t: Tests) {
    t.check("fleet: 4 sessions x 8 threads over one store make one token request; cached tokens cost no store call") {
        val endpoint = FleetTokenEndpoint()
        val store = MemoryStore()
        val config = fleetConfig()
        val sessions = (1..4).map { TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = config) }
        val start = CountDownLatch(1)
        val workers = sessions.flatMap { s -> (1..8).map { Worker { start.await(); s.accessToken() } } }
        start.countDown()
        for (w in workers) assertEq("tok-1", w.await())
        assertEq(1, endpoint.calls.get(), "token requests")
        val stats = sessions.map { it.fleetStats()!! }
        assertEq(1L, stats.sumOf { it.httpRenewals }, "http renewals")
        assertEq(3L, stats.sumOf { it.adopted }, "adopted")
        assertEq(1L, stats.sumOf { it.committed }, "committed")
        val calls = store.calls.get()
        repeat(1000) { for (s in sessions) assertEq("tok-1", s.accessToken()) }
        assertEq(calls, store.calls.get(), "store calls for 4000 cached tokens")
        for (s in sessions) assertEq(1L, s.fleetVersion())
    }

    t.check("fleet: store round trips per renewal: 3 for the holder (read, acquire, commit), 1 for a process that comes later (read)") {
        val endpoint = FleetTokenEndpoint()
        val store = MemoryStore()
        val a = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig())
        val b = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig())
        assertEq("tok-1", a.accessToken())
        assertEq("tok-1", b.accessToken())
        assertEq(listOf("read", "acquire", "commit", "read"), store.ops.toList())
        assertEq(3L, a.fleetStats()!!.storeOps)
        assertEq(1L, b.fleetStats()!!.storeOps)
        assertEq(1L, b.fleetStats()!!.adopted)
        assertEq(1, endpoint.calls.get())
    }

    t.check("fleet: a rotating refresh token across sessions: every refresh uses the newest one, none is reused") {
        val endpoint = FleetTokenEndpoint()
        val store = MemoryStore()
        val config = fleetConfig()
        val a = TokenSession.password(fleetClient(endpoint), "u", "p", store = store, fleet = config)
        val b = TokenSession.password(fleetClient(endpoint), "u", "p", store = store, fleet = config)
        assertEq("tok-1", a.accessToken())
        assertEq("tok-1", b.accessToken()) // adopted: no request
        assertEq(1, endpoint.calls.get())
        assertTrue(a.reject("tok-1"))
        assertEq("tok-2", a.accessToken()) // refreshed with rt-1
        assertTrue(b.reject("tok-1"))
        assertEq("tok-2", b.accessToken()) // adopted from the store
        assertTrue(b.reject("tok-2"))
        assertEq("tok-3", b.accessToken()) // refreshed with rt-2, which a obtained
        assertTrue(a.reject("tok-2"))
        assertEq("tok-3", a.accessToken())
        assertEq(3, endpoint.calls.get(), "one password grant and two refreshes")
        assertEq(2, endpoint.refreshes.get())
        assertEq(0, endpoint.reused.get(), "refresh tokens reused")
        assertEq(3L, a.fleetVersion())
        assertEq("rt-3", a.tokens()?.refreshToken())
    }

    t.check("fleet: a lease holder that never commits is taken over after the lease TTL") {
        val endpoint = FleetTokenEndpoint(holdFirst = true)
        val store = MemoryStore()
        val config = fleetConfig(leaseTtlMs = 1000)
        val holder = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = config)
        val other = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = config)
        val stuck = Worker { holder.accessToken() }
        assertTrue(endpoint.started.await(10, TimeUnit.SECONDS)) { "the holder's request never started" }
        val began = System.currentTimeMillis()
        assertEq("tok-2", other.accessToken())
        val waited = System.currentTimeMillis() - began
        assertTrue(waited in 800..5000) { "took over after $waited ms (lease 1000 ms)" }
        assertTrue(store.ops.contains("watch")) { "waited by watching: ${store.ops}" }
        assertEq(1L, other.fleetStats()!!.committed)
        // The old holder's answer arrives at last: its commit loses (the store moved on), and
        // it keeps its own token.
        endpoint.release.countDown()
        assertEq("tok-1", stuck.await())
        assertEq(1L, holder.fleetStats()!!.conflicts)
        assertEq(2, endpoint.calls.get(), "one takeover")
    }

    t.check("fleet: a store that throws: client credentials renews alone; a refresh fails with Store only without a valid token") {
        val endpoint = FleetTokenEndpoint()
        val store = MemoryStore().apply { mode = MemoryStore.Mode.DOWN }
        val cc = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig())
        assertEq("tok-1", cc.accessToken())
        val stats = cc.fleetStats()!!
        assertEq(1L, stats.fallbackRenewals)
        assertTrue(stats.storeFailures >= 1) { "$stats" }
        // A refresh is never sent alone: the caller without a token hears Store.
        val refresh = TokenSession.fromTokens(fleetClient(endpoint), expiredTokens(), store = store, fleet = fleetConfig())
        val e = assertThrows<GrantlineException.Store> { refresh.accessToken() }
        assertContains(e.reason, "connection refused")
        assertEq(1, endpoint.calls.get(), "no refresh without the store")
        // With a valid token due for renewal, the failure reaches nobody.
        val now = System.currentTimeMillis() / 1000
        val valid = TokenSet("still-good", "rt-0", now + 30, now - 100)
        val due = TokenSession.fromTokens(fleetClient(endpoint), valid, store = store, fleet = fleetConfig())
        repeat(3) { assertEq("still-good", due.accessToken()) }
        assertEq(1, endpoint.calls.get())
        // A foreign exception's message (it may hold a URL with a password) is not kept.
        store.mode = MemoryStore.Mode.FOREIGN
        val foreign = TokenSession.fromTokens(fleetClient(endpoint), expiredTokens(), store = store, fleet = fleetConfig())
        val f = assertThrows<GrantlineException.Store> { foreign.accessToken() }
        assertContains(f.reason, "java.lang.IllegalStateException")
        assertTrue(!f.toString().contains("hunter2")) { "a store failure shows a secret: $f" }
    }

    t.check("fleet: a hung store call fails at the store deadline: no caller hangs") {
        val endpoint = FleetTokenEndpoint()
        val store = MemoryStore().apply { mode = MemoryStore.Mode.HANG }
        val session = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig(storeTimeoutMs = 200))
        val began = System.currentTimeMillis()
        assertEq("tok-1", session.accessToken())
        val took = System.currentTimeMillis() - began
        assertTrue(took < 2000) { "took $took ms with a 200 ms store deadline" }
        assertEq(1L, session.fleetStats()!!.fallbackRenewals)
    }

    t.check("fleet: garbage in the entry: client credentials renews alone, a refresh fails with Store, nothing crashes or overwrites it") {
        for (garbage in listOf("not json", "{\"format\":1,\"version\":\"x\"}", "[]", "{\"format\":1,\"version\":9,\"written_at\":1,\"alg\":\"none\",\"tokens\":{}}", "\u0000\uFFFF")) {
            val endpoint = FleetTokenEndpoint()
            val store = MemoryStore().apply { entry = garbage }
            val cc = TokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig())
            assertEq("tok-1", cc.accessToken())
            assertEq(1L, cc.fleetStats()!!.fallbackRenewals)
            val refresh = TokenSession.fromTokens(fleetClient(endpoint), expiredTokens(), store = store, fleet = fleetConfig())
            val e = assertThrows<GrantlineException.Store> { refresh.accessToken() }
            assertContains(e.reason, "unreadable")
            assertEq(garbage, store.entry, "the garbage entry")
        }
    }

    t.check("fleet: coroutines: 3 AsyncTokenSessions x 50 coroutines over one store make one token request") {
        val endpoint = FleetTokenEndpoint()
        val store = MemoryStore()
        val sessions = (1..3).map { AsyncTokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig()) }
        val tokens = runBlocking {
            withTimeout(20_000) { sessions.flatMap { s -> (1..50).map { async { s.accessToken() } } }.awaitAll() }
        }
        assertEq(setOf("tok-1"), tokens.toSet())
        assertEq(1, endpoint.calls.get(), "token requests")
        assertEq(1L, sessions.sumOf { it.fleetStats()!!.httpRenewals })
        assertEq(2L, sessions.sumOf { it.fleetStats()!!.adopted })
        assertEq(3, sessions.map { it.fleetOwner() }.toSet().size, "one owner per session")
        val calls = store.calls.get()
        runBlocking { repeat(100) { for (s in sessions) assertEq("tok-1", s.accessToken()) } }
        assertEq(calls, store.calls.get(), "store calls for cached tokens")
        // A store that throws: client credentials renews alone, as the blocking session does.
        store.mode = MemoryStore.Mode.DOWN
        val alone = AsyncTokenSession.clientCredentials(fleetClient(endpoint), store = store, fleet = fleetConfig())
        assertEq("tok-2", runBlocking { alone.accessToken() })
        assertEq(1L, alone.fleetStats()!!.fallbackRenewals)
        assertThrows<GrantlineException.Configuration> { AsyncTokenSession.clientCredentials(fleetClient(endpoint), store = store) }
    }

    t.check("fleet: memoryFleetStore() shares one token between sessions of one process, and restore keeps the session shared") {
        val endpoint = FleetTokenEndpoint()
        val store = memoryFleetStore()
        val config = fleetConfig(name = "in-process")
        val a = TokenSession.password(fleetClient(endpoint), "u", "p", store = store, fleet = config)
        val b = TokenSession.password(fleetClient(endpoint), "u", "p", store = store, fleet = config)
        assertEq("tok-1", a.accessToken())
        assertEq("tok-1", b.accessToken())
        assertEq(1, endpoint.calls.get())
        assertTrue(a.fleetOwner() != b.fleetOwner()) { "owners: ${a.fleetOwner()} ${b.fleetOwner()}" }
        // Restored tokens are the local copy: the store's newer entry wins at the first renewal.
        val c = TokenSession.password(fleetClient(endpoint), "u", "p", store = store, fleet = config)
        c.restore(TokenSet("restored", "rt-0", 1, 0))
        assertEq("tok-1", c.accessToken())
        assertEq(1, endpoint.calls.get())
        assertTrue(a.reject("tok-1"))
        assertEq("tok-2", a.accessToken())
        assertTrue(b.reject("tok-1"))
        assertEq("tok-2", b.accessToken())
        assertEq(0, endpoint.reused.get())
        assertContains(b.toString(), "shared=grantline:{in-process}")
    }

    t.check("fleet: a store needs a config and a config a store") {
        val endpoint = FleetTokenEndpoint()
        assertThrows<GrantlineException.Configuration> { TokenSession.clientCredentials(fleetClient(endpoint), store = MemoryStore()) }
        assertThrows<GrantlineException.Configuration> { TokenSession.clientCredentials(fleetClient(endpoint), fleet = fleetConfig()) }
        assertEq(null, TokenSession.clientCredentials(fleetClient(endpoint)).fleetStats())
    }

    t.check("fleet: keys, protections, configs, entries, operations and steps print no secret") {
        val key = EntryKey("k-2026", ByteArray(32) { 42 })
        assertEq("EntryKey(kid=k-2026, key=<redacted>)", key.toString().replace(Regex("key=[^)]*\\)$"), "key=<redacted>)"))
        assertTrue(!key.toString().contains("42")) { key.toString() }
        val p = Protection.encrypted(key, listOf(FLEET_KEY))
        assertEq("Protection(encrypted, kid=k-2026, previous=[k1])", p.toString())
        assertTrue(!Protection.plaintext().encrypts())
        val config = FleetConfig("billing", p, owner = "worker-1")
        assertContains(config.toString(), "owner=worker-1")
        assertEq(StoreKeys("grantline:{billing}", "grantline:{billing}:lease", "grantline:{billing}:renewed"), config.keys())
        assertEq(15000L, config.leaseTtlMs())
        assertEq(2000L, config.storeTimeoutMs())
        assertThrows<GrantlineException.Configuration> { FleetConfig("no spaces", p) }
        assertThrows<GrantlineException.InvalidKey> { EntryKey("k", ByteArray(16)) }
        val tokens = TokenSet("SECRET-AT", "SECRET-RT", 1_700_003_600, 1_700_000_000)
        val entry = StoreEntry(4, tokens, 1_700_000_000)
        val sealed = entry.seal(p)
        assertTrue(!sealed.contains("SECRET")) { sealed }
        assertEq("SECRET-RT", StoreEntry.open(sealed, p).tokens().refreshToken())
        val op = StoreOp.Commit("grantline:{billing}", "l", "o", "c", 3, 4, entry.seal(Protection.plaintext()))
        assertTrue(!op.toString().contains("SECRET")) { op.toString() }
        val plain = entry.seal(Protection.plaintext())
        assertTrue(!AcquireReply(true, 10, plain).toString().contains("SECRET")) { AcquireReply(true, 10, plain).toString() }
        assertTrue(!StoreReply.Acquired(true, 10, plain).toString().contains("SECRET"))
        val reply = StoreReply.Entry(sealed)
        assertTrue(!reply.toString().contains(sealed.take(40))) { reply.toString() }
        for (shown in listOf(entry.toString(), FleetNext.Ready("SECRET-AT").toString(), FleetNext.Perform(1, FleetAction.Store(op), "SECRET-AT").toString())) {
            assertTrue(!shown.contains("SECRET")) { shown }
        }
    }

    t.check("fleet: the sans-IO FleetState loop: read, acquire, send, commit, done") {
        val state = FleetState(SessionState.clientCredentials(fleetClient(FleetTokenEndpoint())), fleetConfig())
        val now = 1_700_000_000_000L
        val first = state.next(now) as FleetNext.Perform
        var action = first.action
        val done: Completion
        while (true) {
            action = when (action) {
                is FleetAction.Store -> when (val op = action.op) {
                    is StoreOp.Read -> state.storeDone(first.id, StoreReply.Entry(null), now)
                    is StoreOp.Acquire -> state.storeDone(first.id, StoreReply.Acquired(true, op.ttlMs, null), now)
                    is StoreOp.Commit -> {
                        assertEq(0L, op.expectedVersion)
                        state.storeDone(first.id, StoreReply.Committed(true), now)
                    }
                    else -> throw AssertionError("unexpected $op")
                }
                is FleetAction.Send -> state.receive(first.id, jsonResponse(200, """{"access_token":"tok","expires_in":3600}"""), now)
                is FleetAction.Done -> { done = action.completion; break }
            }
        }
        assertEq("tok", done.renewed?.tokens?.accessToken())
        assertTrue(state.delivered(first.id))
        assertEq(FleetNext.Ready("tok"), state.waited(first.id, now))
        assertEq(1L, state.version())
        assertEq(3L, state.stats().storeOps)
        assertEq((1_700_000_000L + 3600 - 60) * 1000, state.readyUntilMs())
        assertEq(FleetNext.Ready("tok"), state.next(now + 1000))
        assertEq(3L, state.stats().storeOps, "a cached token costs no store operation")
    }

    t.check("fleet: RedisFleetStore runs the core's scripts through any client and converts the replies") {
        val evals = Collections.synchronizedList(ArrayList<Triple<String, List<String>, List<String>>>())
        var answer: Any? = null
        var fail: Exception? = null
        val store = object : RedisFleetStore() {
            override fun get(key: String): String? = fail?.let { throw it } ?: "entry-of-$key"
            override fun eval(script: String, keys: List<String>, args: List<String>): Any? {
                fail?.let { throw it }
                evals.add(Triple(script, keys, args))
                return answer
            }
        }
        assertEq("entry-of-k", store.read("k"))
        answer = listOf(1L, 1500L, "E".toByteArray())
        assertEq(AcquireReply(true, 1500, "E"), store.acquire("k", "l", "o", 2000))
        assertEq(Triple(redisAcquireScript(), listOf("k", "l"), listOf("o", "2000")), evals.last())
        answer = listOf(0L, 900L, null)
        assertEq(AcquireReply(false, 900, null), store.acquire("k", "l", "o", 2000))
        answer = listOf(1L, 5L)
        assertTrue(store.commit("k", "l", "o", "c", 4, 5, "ENTRY"))
        assertEq(Triple(redisCommitScript(), listOf("k", "l"), listOf("o", "4", "ENTRY", "c", "5")), evals.last())
        answer = listOf(0L, 7L)
        assertTrue(!store.commit("k", "l", "o", "c", 4, 5, "ENTRY"))
        answer = listOf(-1L)
        assertTrue(!store.commit("k", "l", "o", "c", 4, 5, "ENTRY"))
        answer = 1L
        store.release("l", "o")
        assertEq(Triple(redisReleaseScript(), listOf("l"), listOf("o")), evals.last())
        answer = "OK"
        assertThrows<GrantlineException.Store> { store.acquire("k", "l", "o", 2000) }
        fail = java.io.IOException("redis://:hunter2@h refused")
        val e = assertThrows<GrantlineException.Store> { store.read("k") }
        assertEq("the Redis read failed: java.io.IOException", e.reason)
    }
}
