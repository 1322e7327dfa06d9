// swift-tools-version: 6.2
import PackageDescription

// A libFuzzer target for Shunter's parsers, in a package of its own so that the broker's
// package and its builds never see the fuzzer's flags. Build and run with Fuzz/run.sh
// (`swift build -Xswiftc -sanitize=fuzzer,address` into .build-fuzz at the repository root).
// Not part of CI (a second build of the dependencies with the sanitizers); docs/reliability.md.
//
// The modules it fuzzes are built here from the broker's own sources (Sources/ holds links to
// them): the broker's package offers one product, its command, and no libraries.
let package = Package(
    name: "ShunterFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
    ],
    targets: [
        .target(name: "ShunterCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ShunterHandlers", dependencies: ["ShunterCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "CShunterSpawn"),
        .target(
            name: "ShunterBackends",
            dependencies: [
                "ShunterCore", "ShunterHandlers", "CShunterSpawn",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "ShunterParserFuzzer",
            dependencies: ["ShunterCore", "ShunterHandlers", "ShunterBackends"],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
