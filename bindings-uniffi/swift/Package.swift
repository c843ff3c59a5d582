// swift-tools-version:5.10
// The Grantline Swift package: the generated bindings (Sources/Grantline/Grantline.swift), the C
// module they call (Sources/GrantlineFFI/include: GrantlineFFI.h + module.modulemap), the
// hand-written URLSessionTransport, and the XCTest suite. The generated files come from
// `bindings-uniffi/generate.sh release`, which also builds target/release/libgrantline_uniffi.dylib,
// the library linked here. For iOS, build-xcframework.sh (macOS) makes GrantlineFFI.xcframework.
// Swift 5.10 at least (Xcode 15.3): uniffi 0.32's generated callback vtables use
// `nonisolated(unsafe)` (SE-0412), which Swift 5.9 does not parse.
import Foundation
import PackageDescription

let packageDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
let libraryDirectory = packageDirectory
    .appendingPathComponent("../../target/release")
    .standardizedFileURL.path

let package = Package(
    name: "Grantline",
    platforms: [.macOS(.v12), .iOS(.v15)],
    products: [
        .library(name: "Grantline", targets: ["Grantline"]),
    ],
    targets: [
        .systemLibrary(
            name: "GrantlineFFI",
            path: "Sources/GrantlineFFI/include"
        ),
        .target(
            name: "Grantline",
            dependencies: ["GrantlineFFI"],
            path: "Sources/Grantline",
            linkerSettings: [
                .linkedLibrary("grantline_uniffi"),
                .unsafeFlags(["-L", libraryDirectory]),
            ]
        ),
        .testTarget(
            name: "GrantlineTests",
            dependencies: ["Grantline"],
            path: "Tests/GrantlineTests",
            linkerSettings: [
                .unsafeFlags(["-L", libraryDirectory, "-Xlinker", "-rpath", "-Xlinker", libraryDirectory]),
            ]
        ),
    ]
)
