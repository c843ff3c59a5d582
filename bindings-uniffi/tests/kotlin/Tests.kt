// A minimal test harness: named checks, failures collected, `N passed, N failed` at the end.
// Checks may run on several threads at once (Main.kt runs the hostile-server group beside the
// others): what they record is synchronized.
package grantline.test

import kotlin.system.exitProcess

class Tests(private val verbose: Boolean) {
    private var passed = 0
    private val failures = ArrayList<String>()

    @Synchronized
    fun pass(name: String) {
        passed++
        if (verbose) println("ok   $name")
    }

    @Synchronized
    fun fail(name: String, why: String) {
        failures.add("$name\n    $why")
        println("FAIL $name\n    $why")
    }

    fun check(name: String, body: () -> Unit) {
        try {
            body()
            pass(name)
        } catch (e: Throwable) {
            val trace = e.stackTrace.firstOrNull { it.className.startsWith("grantline.test") }
            fail(name, "${e.javaClass.name}: ${e.message}${trace?.let { " (at ${it.fileName}:${it.lineNumber})" } ?: ""}")
        }
    }

    /** Prints the summary and exits non-zero on any failure. */
    @Synchronized
    fun finish(what: String): Nothing {
        if (failures.isNotEmpty()) {
            println("\n${failures.size} failure(s):")
            failures.forEach { println("- $it") }
        }
        println("$what: $passed passed, ${failures.size} failed")
        exitProcess(if (failures.isEmpty() && passed > 0) 0 else 1)
    }
}

fun assertTrue(condition: Boolean, message: () -> String = { "expected true" }) {
    if (!condition) throw AssertionError(message())
}

fun assertEq(expected: Any?, actual: Any?, what: String = "") {
    if (expected != actual) throw AssertionError("${if (what.isEmpty()) "" else "$what: "}expected <$expected>, got <$actual>")
}

fun assertContains(haystack: String?, needle: String) {
    if (haystack == null || !haystack.contains(needle)) throw AssertionError("expected a text containing \"$needle\", got <$haystack>")
}

inline fun <reified T : Throwable> assertThrows(body: () -> Unit): T {
    try {
        body()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.java.name}, got ${e.javaClass.name}: ${e.message}", e)
    }
    throw AssertionError("expected ${T::class.java.name}, nothing was thrown")
}
