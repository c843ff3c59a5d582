// A FleetStore over any Redis client, shipped next to the generated bindings (package grantline).
// grantline ships no Redis client for the JVM: the app brings its own (Lettuce, Jedis, ...) and
// implements two methods; the Lua scripts are the Rust core's own (never copied here).
package grantline

/**
 * A [FleetStore] on Redis through any client: implement [get] (`GET key`) and [eval]
 * (`EVAL script numkeys key... arg...`) with your client, and the shared session runs exactly
 * the Rust core's scripts ([redisAcquireScript], [redisCommitScript], [redisReleaseScript]), so
 * a Kotlin process shares one entry with Rust, Python and Node processes.
 *
 * ```kotlin
 * // Jedis (a JedisPooled with a socket timeout below the fleet's store deadline, 2 s):
 * val store = object : RedisFleetStore() {
 *     override fun get(key: String): String? = jedis.get(key)
 *     override fun eval(script: String, keys: List<String>, args: List<String>): Any? = jedis.eval(script, keys, args)
 * }
 * // Lettuce (sync commands with a command timeout):
 * val store = object : RedisFleetStore() {
 *     override fun get(key: String): String? = redis.get(key)
 *     override fun eval(script: String, keys: List<String>, args: List<String>): Any? =
 *         redis.eval<Any?>(script, ScriptOutputType.MULTI, keys.toTypedArray(), *args.toTypedArray())
 * }
 * ```
 *
 * [watch] sleeps its timeout by default (the core's backoff: 25 ms, doubling to 500 ms): right,
 * and simple. To wake the moment another process commits, override it with a `SUBSCRIBE` to the
 * channel on a dedicated connection that returns at the first message or after `timeoutMs`.
 *
 * Failures: whatever [get] or [eval] throw becomes a store failure named after the
 * exception's class (its message is not kept: it may hold a connection URL); so does a reply of
 * an unexpected shape. Give your client a timeout (the session also stops waiting for a store
 * call after the config's `storeTimeoutMs`, 2 s by default). Use a durable Redis (AOF or RDB)
 * for rotating refresh tokens: an entry lost in a restart is written back only by a process
 * that still holds the newest tokens.
 */
abstract class RedisFleetStore : FleetStore {
    /**
     * `GET key`: the value, or null when there is none.
     *
     * @throws Exception when Redis cannot answer.
     */
    abstract fun get(key: String): String?

    /**
     * `EVAL script keys.size keys... args...`: the reply as your client gives it. Integers as
     * any [Number], bulk strings as [String] or [ByteArray], nil as null, arrays as [List].
     * (A client that caches scripts and sends `EVALSHA` with a fallback is welcome.)
     *
     * @throws Exception when Redis cannot answer, or answers an error.
     */
    abstract fun eval(script: String, keys: List<String>, args: List<String>): Any?

    override fun read(key: String): String? = guarded("read") { get(key) }

    override fun acquire(key: String, lease: String, owner: String, ttlMs: Long): AcquireReply = guarded("acquire") {
        val reply = list(eval(ACQUIRE, listOf(key, lease), listOf(owner, ttlMs.toString())))
        redisAcquireReply(integer(reply, 0), integer(reply, 1), text(reply.getOrNull(2)))
    }

    override fun commit(
        key: String,
        lease: String,
        owner: String,
        channel: String,
        expectedVersion: Long,
        version: Long,
        entry: String,
    ): Boolean = guarded("commit") {
        val args = listOf(owner, expectedVersion.toString(), entry, channel, version.toString())
        redisCommitReply(integer(list(eval(COMMIT, listOf(key, lease), args)), 0))
    }

    override fun release(lease: String, owner: String) = guarded("release") {
        eval(RELEASE, listOf(lease), listOf(owner))
        Unit
    }

    /** Sleeps [timeoutMs] (polling); override with a `SUBSCRIBE` to [channel] to wake at once. */
    override fun watch(channel: String, version: Long, timeoutMs: Long) = guarded("watch") {
        Thread.sleep(timeoutMs.coerceAtLeast(0))
    }

    /** Runs one operation; anything but a [GrantlineException] becomes a [GrantlineException.Store]. */
    private inline fun <T> guarded(op: String, body: () -> T): T = try {
        body()
    } catch (e: GrantlineException) {
        throw e
    } catch (e: InterruptedException) {
        Thread.currentThread().interrupt()
        throw GrantlineException.Store("the Redis $op was interrupted")
    } catch (e: Exception) {
        throw GrantlineException.Store("the Redis $op failed: ${e.javaClass.name}")
    }

    private companion object {
        val ACQUIRE: String = redisAcquireScript()
        val COMMIT: String = redisCommitScript()
        val RELEASE: String = redisReleaseScript()

        fun list(reply: Any?): List<Any?> = when (reply) {
            is List<*> -> reply
            is Array<*> -> reply.toList()
            else -> throw GrantlineException.Store("Redis answered a script with a ${reply?.javaClass?.name ?: "nil"}, not an array")
        }

        fun integer(reply: List<Any?>, i: Int): Long = when (val v = reply.getOrNull(i)) {
            is Number -> v.toLong()
            is String -> v.toLongOrNull()
            is ByteArray -> String(v, Charsets.UTF_8).toLongOrNull()
            else -> null
        } ?: throw GrantlineException.Store("Redis answered a script without an integer at position $i")

        fun text(v: Any?): String? = when (v) {
            null, false -> null
            is String -> v
            is ByteArray -> String(v, Charsets.UTF_8)
            else -> throw GrantlineException.Store("Redis answered a script with a ${v.javaClass.name} where an entry belongs")
        }
    }
}
