// swift-tools-version: 6.2
import PackageDescription

// Strict concurrency is the language mode (Swift 6); these keep the module boundaries honest.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Shunter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "shunter", targets: ["shunter"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(
            name: "ShunterCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterStore",
            dependencies: [
                "ShunterCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterHandlers",
            dependencies: [
                "ShunterCore",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),
        // The local jobs' spawn (a clone that does not wait for the exec on Linux, posix_spawn
        // elsewhere) and pidfd/epoll, which Swift's Glibc module does not expose.
        .target(name: "CShunterSpawn"),
        .target(
            name: "ShunterBackends",
            dependencies: [
                "ShunterCore",
                "ShunterHandlers",
                "CShunterSpawn",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterEnvironments",
            dependencies: [
                "ShunterCore",
                "ShunterHandlers",
                "ShunterBackends",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterPlugins",
            dependencies: [
                "ShunterCore",
                "ShunterEnvironments",
                "ShunterStore",
                "ShunterHandlers",
                "ShunterBackends",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterBroker",
            dependencies: [
                "ShunterCore",
                "ShunterEnvironments",
                "ShunterStore",
                "ShunterHandlers",
                "ShunterPlugins",
                "ShunterBackends",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterServer",
            dependencies: [
                "ShunterAuth",
                "ShunterCore",
                "ShunterBackends",
                "ShunterEnvironments",
                "ShunterStore",
                "ShunterBroker",
                "ShunterHandlers",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterAuth",
            dependencies: [
                "ShunterHandlers",
                "ShunterStore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterRuntime",
            dependencies: [
                "ShunterBackends",
                "ShunterBroker",
                "ShunterCore",
                "ShunterEnvironments",
                "ShunterHandlers",
                "ShunterPlugins",
                "ShunterServer",
                "ShunterStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "shunter",
            dependencies: [
                "ShunterRuntime",
                "ShunterAuth",
                "ShunterBackends",
                "ShunterCore",
                "ShunterEnvironments",
                "ShunterStore",
                "ShunterHandlers",
                "ShunterBroker",
                "ShunterServer",
                "ShunterPlugins",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterCoreTests", dependencies: ["ShunterCore"], exclude: ["Vectors"], swiftSettings: strictSettings
        ),
        .target(
            name: "ShunterTestSupport",
            dependencies: [
                "ShunterCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/ShunterTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterStoreTests",
            dependencies: [
                "ShunterCore", "ShunterStore", "ShunterTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Vectors"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterEnvironmentsTests",
            dependencies: [
                "ShunterCore", "ShunterHandlers", "ShunterEnvironments", "ShunterTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fakes"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterAuthTests", dependencies: ["ShunterAuth", "ShunterHandlers"], swiftSettings: strictSettings),
        .testTarget(
            name: "ShunterRuntimeTests",
            dependencies: [
                "ShunterBroker", "ShunterCore", "ShunterHandlers", "ShunterRuntime", "ShunterServer", "ShunterStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterHandlersTests", dependencies: ["ShunterCore", "ShunterHandlers"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "ShunterPluginsTests",
            dependencies: [
                "ShunterCore", "ShunterStore", "ShunterHandlers", "ShunterPlugins", "ShunterBackends",
                "ShunterEnvironments", "ShunterTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Vectors"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterContainerTests",
            dependencies: [
                "ShunterCore", "ShunterStore", "ShunterHandlers", "ShunterPlugins", "ShunterBackends",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterSlurmTests",
            dependencies: [
                "ShunterStore", "ShunterCore", "ShunterHandlers", "ShunterBackends", "ShunterPlugins",
                "ShunterTestSupport",
                "ShunterEnvironments",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterBrokerTests",
            dependencies: [
                "ShunterBroker", "ShunterCore", "ShunterHandlers", "ShunterPlugins", "ShunterStore", "ShunterBackends",
                "ShunterTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShunterServerTests",
            dependencies: [
                "ShunterCore", "ShunterStore", "ShunterHandlers", "ShunterPlugins", "ShunterServer",
                "ShunterTestSupport",
                "ShunterBroker", "ShunterBackends", "ShunterRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
