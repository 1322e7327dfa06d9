// swift-tools-version: 6.2
import Foundation
import PackageDescription

// A libFuzzer target for Shunter's parsers, in a package of its own so that the broker's
// package and its builds never see the fuzzer's flags. Build and run with Fuzz/run.sh
// (`swift build -Xswiftc -sanitize=fuzzer,address` into .build-fuzz at the repository root).
// Not part of CI (a second build of the dependencies with the sanitizers); docs/reliability.md.
//
// A path dependency's identity is the name of its directory, which differs between checkouts,
// so it is computed here.
let shunterDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let shunter = shunterDirectory.lastPathComponent.lowercased()

let package = Package(
    name: "ShunterFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: shunterDirectory.path),
    ],
    targets: [
        .executableTarget(
            name: "ShunterParserFuzzer",
            dependencies: [
                .product(name: "ShunterCore", package: shunter),
                .product(name: "ShunterHandlers", package: shunter),
                .product(name: "ShunterBackends", package: shunter),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        ),
    ]
)
