// The Rust session object is exported as `NativeTokenSession` so that Kotlin can put a
// hand-written `TokenSession` in front of it (kept token leases: JNA calls are costly). Swift
// calls C directly and needs no such layer: its `TokenSession` is the generated class. It is the
// blocking session (threads, off the main thread); with Swift concurrency, use the generated
// `AsyncTokenSession` (the same rules, `async`, one renewal however many tasks ask).
public typealias TokenSession = NativeTokenSession
