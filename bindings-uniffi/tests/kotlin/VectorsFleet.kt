// The fleet kinds of the shared vectors (tests/vectors/fleet.json: `store_entry`,
// `fleet_session`), run through the Kotlin binding's public API (StoreEntry, Protection,
// FleetConfig, FleetState) as the Rust reference runner (core/tests/vectors.rs, `mod fleet`)
// runs them: unknown fields are failures, every expectation is compared.
package grantline.test

import grantline.*
import java.math.BigInteger

private fun hex(text: String, what: String): ByteArray {
    if (text.length % 2 != 0) throw VectorError("$what: odd hex")
    return ByteArray(text.length / 2) { i ->
        val hi = Character.digit(text[2 * i], 16)
        val lo = Character.digit(text[2 * i + 1], 16)
        if (hi < 0 || lo < 0) throw VectorError("$what: not a hex digit")
        (hi * 16 + lo).toByte()
    }
}

/** `keys` (`[{"kid", "key_hex"}]`, the first current) or `"plaintext": true`. */
private fun protection(f: Fields): Protection {
    val plaintext = f.boolOr("plaintext", false)
    return when {
        f.has("keys") && !plaintext -> {
            val list = f.get("keys") as? List<*> ?: throw VectorError("`keys` is not a list")
            val keys = list.map {
                val kf = Fields(it, "key", listOf("kid", "key_hex"))
                try {
                    EntryKey(kf.str("kid"), hex(kf.str("key_hex"), "key_hex"))
                } catch (e: GrantlineException) {
                    throw VectorError("key: ${e.message}")
                }
            }
            if (keys.isEmpty()) throw VectorError("`keys` is empty")
            Protection.encrypted(keys.first(), keys.drop(1))
        }
        !f.has("keys") && plaintext -> Protection.plaintext()
        else -> throw VectorError("exactly one of `keys` and `\"plaintext\": true`")
    }
}

private fun entryInput(spec: Any?): StoreEntry {
    val f = Fields(spec, "entry", listOf("version", "written_at", "tokens"))
    val tokens = try {
        TokenSet.fromJson(Json.write(f.value("tokens")))
    } catch (e: GrantlineException) {
        throw VectorError("tokens: ${e.message}")
    }
    return StoreEntry(f.u64("version"), tokens, f.u64("written_at"))
}

private fun entryJson(e: StoreEntry): Map<String, Any?> {
    val t = e.tokens()
    return linkedMapOf(
        "version" to big(e.version()),
        "written_at" to big(e.writtenAt()),
        "expires_at" to big(t.expiresAt()),
        "access_token" to t.accessToken(),
        "refresh_token" to t.refreshToken(),
    )
}

private fun compare(what: String, expected: Any?, actual: Any?): String? {
    val diffs = ArrayList<String>()
    diff(what, expected, actual, diffs)
    return if (diffs.isEmpty()) null else diffs.joinToString("\n    ")
}

internal fun runStoreEntry(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("keys", "plaintext", "sealed", "expect_entry", "expect_error", "entry", "nonce_hex", "expect_sealed"))
    val p = protection(f)
    if (f.has("sealed")) {
        val text = f.get("sealed") as? String ?: return "`sealed` is not a string"
        val opened = try {
            Result.success(StoreEntry.open(text, p))
        } catch (e: GrantlineException) {
            Result.failure(e)
        }
        val error = opened.exceptionOrNull() as GrantlineException?
        return when {
            f.has("expect_entry") && !f.has("expect_error") && error == null -> compare("expect_entry", f.get("expect_entry"), entryJson(opened.getOrThrow()))
            !f.has("expect_entry") && f.has("expect_error") && error != null -> compareError(f.get("expect_error"), error)
            f.has("expect_entry") && !f.has("expect_error") -> "expected an entry, got the error ${error?.message}"
            !f.has("expect_entry") && f.has("expect_error") -> "expected an error, got ${short(entryJson(opened.getOrThrow()))}"
            else -> "exactly one of `expect_entry` and `expect_error`"
        }
    }
    val entry = entryInput(f.value("entry"))
    val nonce = hex(f.str("nonce_hex"), "nonce_hex")
    if (nonce.size != 12) return "`nonce_hex` is not 12 bytes"
    val sealed = entry.sealWithNonce(p, nonce)
    val want = f.str("expect_sealed")
    if (sealed != want) return "sealed:\n      expected $want\n      got      $sealed"
    val back = try {
        StoreEntry.open(sealed, p)
    } catch (e: GrantlineException) {
        return "reopening: ${e.message}"
    }
    return compare("round trip", entryJson(entry), entryJson(back))
}

private class FleetRun(val state: FleetState, val protection: Protection) {
    var lastCommit: String? = null
}

internal fun runFleetSession(v: Any?): String? {
    val f = Fields(v, "vector", withCommon("provider", "client", "grant", "tokens", "skew", "fleet", "steps"))
    val c = try {
        providerAndClient(f)
    } catch (e: GrantlineException) {
        return "building the client failed: ${e.message}"
    }
    val s = sessionState(c, f.value("grant"))
    if (f.has("tokens")) {
        val set = try {
            TokenSet.fromJson(Json.write(f.get("tokens")))
        } catch (e: GrantlineException) {
            return "tokens: ${e.message}"
        }
        s.restore(set)
    }
    if (f.has("skew")) s.setSkew(f.u64("skew"))
    val ff = Fields(f.value("fleet"), "fleet", listOf("name", "owner", "lease_ttl_ms", "renew_alone", "keys", "plaintext"))
    val p = protection(ff)
    val config = try {
        FleetConfig(
            ff.str("name"),
            p,
            leaseTtlMs = if (ff.has("lease_ttl_ms")) ff.u64("lease_ttl_ms") else null,
            owner = ff.str("owner"),
            renewAloneWhenStoreDown = ff.boolOr("renew_alone", false),
        )
    } catch (e: GrantlineException) {
        return "fleet: ${e.message}"
    }
    val run = FleetRun(FleetState(s, config), p)
    val steps = f.value("steps") as? List<*> ?: return "`steps` is not a list"
    if (steps.isEmpty()) return "no steps"
    for ((i, step) in steps.withIndex()) {
        val failure = try {
            fleetStep(run, step)
        } catch (e: VectorError) {
            e.message
        }
        if (failure != null) return "step $i (${short(step)}): $failure"
    }
    return null
}

/** An entry in a reply: `null`, a raw text, `{"seal": entry}` or `{"last_commit": true}`. */
private fun replyEntry(run: FleetRun, spec: Any?): String? = when (spec) {
    null -> null
    is String -> spec
    is Map<*, *> -> if (spec.containsKey("seal")) {
        val f = Fields(spec, "entry", listOf("seal"))
        entryInput(f.value("seal")).seal(run.protection)
    } else {
        val f = Fields(spec, "entry", listOf("last_commit"))
        if (!f.boolOr("last_commit", false)) throw VectorError("`last_commit` must be true")
        run.lastCommit ?: throw VectorError("no commit was asked yet")
    }
    else -> throw VectorError("entry: unexpected ${short(spec)}")
}

/** A non-negative integer that fits a `u64`, else null (as serde's `as_u64`). */
private fun u64OrNull(v: Any?): Long? =
    (v as? BigInteger)?.takeIf { it.signum() >= 0 && it.bitLength() <= 63 }?.toLong()

private fun reply(run: FleetRun, spec: Any?): StoreReply {
    val o = spec as? Map<*, *> ?: throw VectorError("`reply` is not an object")
    return when {
        o.containsKey("acquired") -> Fields(spec, "reply", listOf("acquired", "lease_ttl_ms", "entry")).let {
            StoreReply.Acquired(it.boolOr("acquired", false), u64OrNull(it.value("lease_ttl_ms")), replyEntry(run, it.value("entry")))
        }
        o.containsKey("entry") -> Fields(spec, "reply", listOf("entry")).let { StoreReply.Entry(replyEntry(run, it.value("entry"))) }
        o.containsKey("committed") -> Fields(spec, "reply", listOf("committed")).let { StoreReply.Committed(it.boolOr("committed", false)) }
        o.containsKey("released") -> { Fields(spec, "reply", listOf("released")); StoreReply.Released }
        o.containsKey("watched") -> { Fields(spec, "reply", listOf("watched")); StoreReply.Watched }
        else -> throw VectorError("unknown reply ${short(spec)}")
    }
}

private fun actionJson(run: FleetRun, a: FleetAction): Map<String, Any?> = when (a) {
    is FleetAction.Store -> when (val op = a.op) {
        is StoreOp.Read -> linkedMapOf("action" to "store", "op" to "read", "key" to op.key)
        is StoreOp.Acquire -> linkedMapOf("action" to "store", "op" to "acquire", "key" to op.key, "lease" to op.lease, "owner" to op.owner, "ttl_ms" to big(op.ttlMs))
        is StoreOp.Commit -> {
            run.lastCommit = op.entry
            val opened = try {
                StoreEntry.open(op.entry, run.protection)
            } catch (e: GrantlineException) {
                throw VectorError("the committed entry does not open: ${e.message}")
            }
            linkedMapOf(
                "action" to "store", "op" to "commit", "key" to op.key, "lease" to op.lease, "owner" to op.owner,
                "channel" to op.channel, "expected_version" to big(op.expectedVersion), "version" to big(op.version),
                "entry" to entryJson(opened),
            )
        }
        is StoreOp.Release -> linkedMapOf("action" to "store", "op" to "release", "lease" to op.lease, "owner" to op.owner)
        is StoreOp.Watch -> linkedMapOf("action" to "store", "op" to "watch", "channel" to op.channel, "version" to big(op.version), "timeout_ms" to big(op.timeoutMs))
    }
    is FleetAction.Send -> linkedMapOf("action" to "send", "request" to requestJson(a.request))
    is FleetAction.Done -> linkedMapOf("action" to "done", "completion" to completionJson(a.completion))
}

/** A `send`'s `request` is compared only when given; a `done`'s completion as `expect_completion`. */
private fun compareAction(run: FleetRun, expected: Any?, a: FleetAction): String? {
    if (a is FleetAction.Done && (expected as? Map<*, *>)?.get("action") == "done") {
        val f = Fields(expected, "action", listOf("action", "completion"))
        return compareCompletion(f.value("completion"), a.completion)
    }
    val actual = actionJson(run, a).toMutableMap()
    if ((expected as? Map<*, *>)?.containsKey("request") != true) actual.remove("request")
    return compare("action", expected, actual)
}

private fun compareNext(run: FleetRun, expected: Any?, n: FleetNext): String? = when (n) {
    is FleetNext.Ready -> compare("next", expected, linkedMapOf("next" to "ready", "token" to n.token))
    is FleetNext.Wait -> compare("next", expected, linkedMapOf("next" to "wait", "id" to big(n.id)))
    is FleetNext.Perform -> {
        val f = Fields(expected, "next", listOf("next", "id", "current", "action"))
        val want = linkedMapOf("next" to f.value("next"), "id" to f.value("id"), "current" to f.value("current"))
        compare("next", want, linkedMapOf("next" to "perform", "id" to big(n.id), "current" to n.current))
            ?: compareAction(run, f.value("action"), n.action)
    }
}

private fun <T> attempt(body: () -> T): Result<T> = try {
    Result.success(body())
} catch (e: GrantlineException) {
    Result.failure(e)
}

private fun <T> judged(f: Fields, r: Result<T>, what: String, show: (T) -> String, compareOk: (Any?, T) -> String?): String? {
    val e = r.exceptionOrNull() as GrantlineException?
    return when {
        f.has("expect") && !f.has("expect_error") && e == null -> compareOk(f.get("expect"), r.getOrThrow())
        !f.has("expect") && f.has("expect_error") && e != null -> compareError(f.get("expect_error"), e)
        f.has("expect") && !f.has("expect_error") -> "expected $what, got the error ${e?.message}"
        !f.has("expect") && f.has("expect_error") -> "expected an error, got ${show(r.getOrThrow())}"
        else -> "exactly one of `expect` and `expect_error`"
    }
}

private fun fleetStep(run: FleetRun, step: Any?): String? {
    val op = (step as? Map<*, *>)?.get("op") as? String ?: throw VectorError("`op` missing")
    fun fields(vararg extra: String) = Fields(step, "step", listOf("op", "expect", "expect_error") + extra)
    fun next(f: Fields, r: Result<FleetNext>) = judged(f, r, "a next", { it.toString() }) { want, n -> compareNext(run, want, n) }
    fun action(f: Fields, r: Result<FleetAction>) = judged(f, r, "an action", { it.toString() }) { want, a -> compareAction(run, want, a) }
    fun scalar(f: Fields, got: Any?): String? {
        val want = f.value("expect")
        return if (jsonEquals(want, got)) null else "expected ${short(want)}, got ${short(got)}"
    }
    val s = run.state
    return when (op) {
        "next" -> fields("now_ms").let { next(it, attempt { s.next(it.u64("now_ms")) }) }
        "waited" -> fields("id", "now_ms").let { next(it, attempt { s.waited(it.u64("id"), it.u64("now_ms")) }) }
        "store_done" -> fields("id", "now_ms", "reply").let {
            val r = reply(run, it.value("reply"))
            action(it, attempt { s.storeDone(it.u64("id"), r, it.u64("now_ms")) })
        }
        "store_failed" -> fields("id", "now_ms", "reason").let { action(it, attempt { s.storeFailed(it.u64("id"), it.str("reason"), it.u64("now_ms")) }) }
        "receive" -> fields("id", "now_ms", "response").let {
            val resp = response(it.value("response"))
            action(it, attempt { s.receive(it.u64("id"), resp, it.u64("now_ms")) })
        }
        "fail" -> fields("id", "now_ms", "reason").let { action(it, attempt { s.fail(it.u64("id"), it.str("reason"), it.u64("now_ms")) }) }
        "delivered" -> fields("id").let { scalar(it, s.delivered(it.u64("id"))) }
        "abandon" -> fields("id").let { scalar(it, s.abandon(it.u64("id"))) }
        "cancellable" -> fields("id").let { scalar(it, s.cancellable(it.u64("id"))) }
        "reject" -> fields("token").let { scalar(it, s.reject(it.str("token"))) }
        "version" -> fields().let { scalar(it, big(s.version())) }
        "stats" -> fields().let {
            val st = s.stats()
            val all = mapOf(
                "store_ops" to st.storeOps, "store_failures" to st.storeFailures, "http_renewals" to st.httpRenewals,
                "fallback_renewals" to st.fallbackRenewals, "adopted" to st.adopted, "committed" to st.committed,
                "conflicts" to st.conflicts,
            )
            // Only the counters the vector names.
            val want = it.value("expect") as? Map<*, *> ?: throw VectorError("`expect` is not an object")
            val got = LinkedHashMap<String, Any?>()
            for (k in want.keys) got[k as String] = all[k]?.let { n -> big(n) }
            compare("stats", want, got)
        }
        else -> "unknown op \"$op\""
    }
}
