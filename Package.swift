// swift-tools-version:6.2
// Layers, bottom to top: C system libraries -> libuv wrapper -> codecs -> pure core -> server -> executables.
import PackageDescription

// The server's state lives in classes owned by one loop thread, where Swift's run-time exclusivity
// checks (a begin/end call per access to a class's stored property) cost about a sixth of the
// user-space instructions per delivery and can never fire: the compile-time checks stay on, and
// debug builds (every test run) keep the run-time ones. BENCHMARKS.md has the figures.
let loopTargetSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))
]

let package = Package(
    name: "concord",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "concord", targets: ["concord"]),
        .executable(name: "concord-bench", targets: ["concord-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // C libraries from Debian.
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // hiredis's asynchronous API with its libuv adapter, linked from Debian's libhiredis-dev.
        .target(name: "CHiredis", linkerSettings: [.linkedLibrary("hiredis")]),

        // The only code that touches raw pointers, Unmanaged and libuv handles.
        .target(name: "ConcordUV", dependencies: ["CLibUV"], swiftSettings: loopTargetSettings),

        // Parsers and encoders over bytes: HTTP/1.1 requests and RFC 6455 frames.
        .target(
            name: "ConcordCodec",
            dependencies: [
                "CHTTPParser",
                .product(name: "Crypto", package: "swift-crypto"),
            ], swiftSettings: loopTargetSettings),

        // The realtime core: channels, filters, subscriptions. Pure Swift, no I/O, injected clock.
        .target(name: "ConcordCore", swiftSettings: loopTargetSettings),

        // Token verification: key loading and signatures from jwt-kit; the claims rules are the core's.
        .target(
            name: "ConcordAuth",
            dependencies: [
                "ConcordCore",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),

        // Redis on Concord's own loop: connections, commands, pub/sub (the only code that touches hiredis).
        // The Redis backends (broker, presence, typing, records) build on it.
        .target(
            name: "ConcordRedis",
            dependencies: [
                "CHiredis", "ConcordUV", "ConcordCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),

        // The durable record store: the only code that touches SQLite and its pointers.
        .target(name: "ConcordSQLite", dependencies: ["CSQLite", "ConcordCore"]),

        // Wires the loop, the codecs and the core into the Concord server.
        .target(
            name: "ConcordServer",
            dependencies: [
                "ConcordUV", "ConcordCodec", "ConcordCore", "ConcordAuth", "ConcordSQLite", "ConcordRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The client script and the demo are built into the binary (EmbedResources), so the
            // binary alone serves them: no resource bundle to ship beside it.
            exclude: ["Resources"], swiftSettings: loopTargetSettings, plugins: ["EmbedResources"]),
        .executableTarget(name: "embed-resources"),
        .plugin(name: "EmbedResources", capability: .buildTool(), dependencies: ["embed-resources"]),

        // The command line: flags, CONCORD_* variables and the configuration file (TOML), read into
        // one ServerConfiguration. A library so that its tests can parse options without a process.
        .target(
            name: "ConcordCommand",
            dependencies: [
                "ConcordServer", "ConcordAuth", "ConcordCore", "ConcordRedis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),
        .executableTarget(
            name: "concord",
            dependencies: [
                "ConcordCommand", "ConcordServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // The load generator: WebSocket subscribers and HTTP publishers on its own libuv loop.
        .executableTarget(
            name: "concord-bench",
            dependencies: [
                "ConcordUV", "ConcordCodec", "ConcordCore", "ConcordSQLite",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // What several test targets share: real redis-server processes, a locked value. Only test
        // targets depend on it.
        .target(name: "ConcordTestSupport", path: "Tests/ConcordTestSupport"),
        .testTarget(
            name: "ConcordCoreTests",
            dependencies: [
                "ConcordCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]),
        .testTarget(name: "ConcordCodecTests", dependencies: ["ConcordCodec", "ConcordCore"]),
        .testTarget(
            name: "ConcordAuthTests",
            dependencies: [
                "ConcordAuth", "ConcordCore",
                .product(name: "JWTKit", package: "jwt-kit"),
            ]),
        .testTarget(
            name: "ConcordCommandTests",
            dependencies: [
                "ConcordCommand", "ConcordServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "ConcordSQLiteTests", dependencies: ["ConcordSQLite", "ConcordCore"]),
        // Every backend against its protocol's shared contract suite (memory, SQLite, Redis), and
        // the Redis connection underneath, with real redis-server processes.
        .testTarget(
            name: "ConcordBackendTests", dependencies: ["ConcordRedis", "ConcordUV", "ConcordCore", "ConcordSQLite", "ConcordTestSupport"]),
        .testTarget(
            name: "ConcordServerTests",
            dependencies: [
                "ConcordServer", "ConcordCodec", "ConcordCore", "ConcordAuth", "ConcordUV", "ConcordRedis", "ConcordTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
    ],
    // One loop thread owns all server state; Swift 6's Sendable checking cannot see that discipline,
    // so the package compiles in Swift 5 mode and keeps cross-thread calls to `LoopAsync`.
    swiftLanguageModes: [.v5]
)
