// The README blocks marked `<!-- test.sh runs this block -->` run as written (test.sh generates
// them into grantline.readme with the documented substitutions only), against the local Authlib
// server: the coroutine quick start first, then the blocking one, then the Java block.
package grantline.test

import java.io.ByteArrayOutputStream
import java.io.File
import java.io.PrintStream

/** What [body] prints to System.out. */
private fun printed(body: () -> Unit): String {
    val buffer = ByteArrayOutputStream()
    val original = System.out
    System.setOut(PrintStream(buffer, true, "UTF-8"))
    try {
        body()
    } finally {
        System.setOut(original)
    }
    return buffer.toString("UTF-8")
}

fun readmeTests(t: Tests, root: File) {
    t.check("readme: the native form comes first (coroutines: AsyncTokenSession, discoverAsync)") {
        val readme = File(root, "bindings-uniffi/README.md").readText()
        val first = Regex("```kotlin\n(.*?)```", RegexOption.DOT_MATCHES_ALL).find(readme)?.groupValues?.get(1) ?: ""
        assertContains(first, "AsyncTokenSession")
        assertContains(first, "discoverAsync")
        assertTrue(readme.indexOf("```kotlin") < readme.indexOf("```java")) { "Kotlin before Java" }
    }
    val runnable = grantline.readme.RUNNABLE
    t.check("readme: the Kotlin quick start runs as written against Authlib (${runnable.size} blocks)") {
        assertTrue(runnable.size >= 3) { "${runnable.size} runnable blocks" }
        val out = runnable.map { (label, block) ->
            try {
                printed(block)
            } catch (e: Throwable) {
                throw AssertionError("$label failed: $e", e)
            }
        }
        assertContains(out[0], "persist: TokenSet")
        assertContains(out[0], "[redacted]")
        assertContains(out[0], "1 token for 10 coroutines")
        assertContains(out[0], "200 {")
        assertContains(out[0], "test-client")
        assertContains(out[1], "TokenSet {")
        assertContains(out[1], "\n200\n")
        assertContains(out[2], "same token: true")
        assertContains(out[2], "token requests: 1, taken from the store: 1")
        assertContains(out[2], "store round trips: 3 + 1")
        for (text in out) assertTrue(!text.contains("test-secret")) { "a secret printed: $text" }
    }
    t.check("readme: the Java block compiles with javac and runs as written") {
        val out = printed { Class.forName("grantline.readme.ReadmeJava").getMethod("run").invoke(null) }
        assertContains(out, "java: a token of")
        assertContains(out, " 0 failures, expires at 1")
        assertTrue(!out.contains("test-secret"))
    }
}
