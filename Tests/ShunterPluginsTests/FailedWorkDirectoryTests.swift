import Foundation
import ShunterPlugins
import ShunterTestSupport
import Testing

/// A failed job's directory is kept for inspection unless it is too large or nothing is kept:
/// then it goes at once, not at the janitor's next sweep.
@Suite struct FailedWorkDirectoryTests {
    func directory(in root: String, bytes: Int) throws -> WorkDirectory {
        let path = root + "/job-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/work", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: path + "/work/big", contents: Data(repeating: 1, count: bytes)))
        return WorkDirectory(path: path)
    }

    @Test func smallIsKeptLargeAndUnkeptAreRemovedAtOnce() throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let small = try directory(in: root.path, bytes: 1000)
        #expect(
            try FailedWorkDirectory.settle(small, reason: "failed", keepFor: .seconds(60), maxBytes: 1 << 20) == .kept)
        #expect(small.keptSince != nil)
        let large = try directory(in: root.path, bytes: 2 << 20)
        guard
            case .removed(let bytes?) = try FailedWorkDirectory.settle(
                large, reason: "failed", keepFor: .seconds(60), maxBytes: 1 << 20)
        else {
            Issue.record("a directory over the limit must be removed")
            return
        }
        #expect(bytes > 1 << 20)
        #expect(!FileManager.default.fileExists(atPath: large.path))
        let unkept = try directory(in: root.path, bytes: 10)
        #expect(
            try FailedWorkDirectory.settle(unkept, reason: "failed", keepFor: .zero, maxBytes: 1 << 20)
                == .removed(bytes: nil))
        #expect(!FileManager.default.fileExists(atPath: unkept.path))
    }

    @Test func onAFullDiskADirectoryThatCannotBeMarkedGoesToo() throws {
        let disk = try SmallFileSystem(megabytes: 1)
        defer { disk.remove() }
        let small = try directory(in: disk.path, bytes: 1000)
        disk.fill()
        #expect(
            try FailedWorkDirectory.settle(
                small, reason: String(repeating: "r", count: 100_000), keepFor: .seconds(60), maxBytes: 1 << 20)
                != .kept)
        #expect(!FileManager.default.fileExists(atPath: small.path))
    }
}
