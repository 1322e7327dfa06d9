import Foundation

/// A fresh directory for one test, removed afterwards whatever the test did.
package func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("shunter-store-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Deterministic test bytes of any size (not all zeros, so a truncation shows).
package func testBytes(count: Int, seed: UInt8 = 7) -> [UInt8] {
    // A 4099-byte pattern (prime, so chunk boundaries do not line up with it), repeated.
    let pattern = (0..<4099).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    var bytes = [UInt8]()
    bytes.reserveCapacity(count + pattern.count)
    while bytes.count < count { bytes.append(contentsOf: pattern) }
    bytes.removeLast(bytes.count - count)
    return bytes
}
