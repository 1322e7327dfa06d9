import Foundation
import ShunterCore
import ShunterPlugins
import Testing

@Suite("WorkDirectory and its janitor")
struct WorkDirectoryTests {
    let checksum = try! Checksum(hex: String(repeating: "ab", count: 32))

    @Test("create names the directory after the transformation and job, refuses to reuse one, remove deletes it")
    func createAndRemove() throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let directory = try WorkDirectory.create(root: root.path + "/jobs", transformation: checksum, jobID: "j/1")
        #expect(directory.path == root.path + "/jobs/abababababab-j_1")
        #expect(FileManager.default.fileExists(atPath: directory.workPath))
        #expect(throws: JobFailure.self) { try WorkDirectory.create(root: root.path + "/jobs", transformation: checksum, jobID: "j/1") }
        #expect(directory.keptSince == nil)
        try directory.remove()
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        try directory.remove()
    }

    @Test("the janitor removes kept directories older than the age, and nothing else")
    func janitor() async throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let running = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "running")
        let kept = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "failed")
        try kept.markKept(reason: "Error: Return code 1")
        #expect(kept.keptSince != nil)
        let janitor = WorkDirectoryJanitor(root: root.path, keepFailedFor: .seconds(3600))
        #expect(await janitor.sweep().isEmpty)
        #expect(await janitor.sweep(now: Date().addingTimeInterval(7200)) == [kept.path])
        #expect(!FileManager.default.fileExists(atPath: kept.path))
        #expect(FileManager.default.fileExists(atPath: running.workPath))
    }
}
