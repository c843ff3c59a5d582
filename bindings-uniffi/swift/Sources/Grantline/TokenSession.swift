// The Rust session object is exported as `NativeTokenSession` so that Kotlin can put a
// hand-written `TokenSession` in front of it (kept token leases: JNA calls are costly). Swift
// calls C directly and needs no such layer: its `TokenSession` is the generated class.
public typealias TokenSession = NativeTokenSession
