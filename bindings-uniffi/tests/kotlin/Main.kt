// The Kotlin test program: `java ... grantline.test.MainKt <tests/vectors dir>` under
// tests/interop/servers.sh, `... grantline.test.MainKt bench` for the benchmark, or
// `... grantline.test.MainKt load` for the load run (under servers.sh, GRANTLINE_LOAD_URL).
// Prints `kotlin: N passed, N failed` and exits non-zero on any failure.
package grantline.test

import java.io.File
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    when (args.firstOrNull()) {
        "bench" -> {
            bench()
            return
        }
        "load" -> exitProcess(load())
    }
    if (args.size != 1) {
        System.err.println("usage: grantline.test.MainKt <tests/vectors directory> | bench | load")
        exitProcess(2)
    }
    val t = Tests(verbose = System.getenv("GRANTLINE_VERBOSE") != null)
    runnerSelfTests(t)
    runAllVectors(File(args[0]), t)
    sessionTests(t)
    coroutineTests(t)
    fleetTests(t)
    fleetRedisTests(t)
    hostile(t)
    oidcUnitTests(t)
    interop(t)
    oidcInterop(t, File(args[0]).absoluteFile.parentFile.parentFile)
    coroutineInterop(t)
    readmeTests(t, File(args[0]).absoluteFile.parentFile.parentFile)
    t.finish("kotlin")
}
