// The Kotlin test program: `java ... grantline.test.MainKt <tests/vectors dir>` under
// tests/interop/servers.sh, `... grantline.test.MainKt bench` for the benchmark, or
// `... grantline.test.MainKt load` for the load run (under servers.sh, GRANTLINE_LOAD_URL).
// Prints `kotlin: N passed, N failed` and exits non-zero on any failure.
package grantline.test

import java.io.File
import kotlin.concurrent.thread
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
    // The hostile-server group is mostly waiting for deadlines (about 45 s of 2 s deadlines): it
    // runs on its own thread beside the others, which never use that server.
    val hostileGroup = thread(name = "hostile") {
        try {
            hostile(t)
        } catch (e: Throwable) {
            t.fail("hostile", "the group stopped: ${e.javaClass.name}: ${e.message}")
        }
    }
    sessionTests(t)
    coroutineTests(t)
    fleetTests(t)
    fleetRedisTests(t)
    oidcUnitTests(t)
    interop(t)
    oidcInterop(t, File(args[0]).absoluteFile.parentFile.parentFile)
    coroutineInterop(t)
    readmeTests(t, File(args[0]).absoluteFile.parentFile.parentFile)
    hostileGroup.join()
    t.finish("kotlin")
}
