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

    @Test("a recycled directory is emptied, kept as a spare, and taken by the next job with nothing of the last")
    func recycling() throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let manager = FileManager.default
        func inode(_ path: String) throws -> UInt64 {
            try #require((try manager.attributesOfItem(atPath: path))[.systemFileNumber] as? UInt64)
        }
        let first = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-1")
        for file in ["a", "transform.sh", "RESULT"] {
            try Data("x".utf8).write(to: URL(fileURLWithPath: first.workPath + "/" + file))
        }
        try manager.createDirectory(atPath: first.workPath + "/out/deep", withIntermediateDirectories: true)
        try Data("printed".utf8).write(to: URL(fileURLWithPath: first.stdoutPath))
        try manager.createDirectory(atPath: first.path + "/python/buffers", withIntermediateDirectories: true)
        let directoryInode = try inode(first.path)

        first.recycle()
        #expect(!manager.fileExists(atPath: first.path))
        let spares = try manager.contentsOfDirectory(atPath: root.path + "/.spare")
        #expect(spares.count == 1)

        let second = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-2")
        #expect(try inode(second.path) == directoryInode, "the spare was taken, not a new directory made")
        #expect(try manager.contentsOfDirectory(atPath: second.workPath).isEmpty)
        #expect(try manager.contentsOfDirectory(atPath: second.path).sorted() == [".files", "stdout", "work"])
        // The files the last job left are kept empty, for this job's files to reuse.
        let pool = try manager.contentsOfDirectory(atPath: second.path + "/.files")
        #expect(pool.count == 3)
        for name in pool { #expect(manager.contents(atPath: second.path + "/.files/" + name)?.isEmpty == true) }
        #expect(manager.contents(atPath: second.stdoutPath)?.isEmpty == true)
        #expect(try manager.contentsOfDirectory(atPath: root.path + "/.spare").isEmpty)

        // A hard link the job made to a file elsewhere is removed, never emptied.
        let outside = root.path + "/precious"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: outside))
        try manager.linkItem(atPath: outside, toPath: second.workPath + "/link")
        second.recycle()
        #expect(manager.contents(atPath: outside) == Data("keep me".utf8))
        _ = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-2b").recycle()

        // A spare that something wrote into after it was emptied is never handed out.
        let spare = root.path + "/.spare/" + (try #require(try manager.contentsOfDirectory(atPath: root.path + "/.spare").first))
        try Data("late".utf8).write(to: URL(fileURLWithPath: spare + "/work/straggler"))
        let third = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-3")
        #expect(try manager.contentsOfDirectory(atPath: third.workPath).isEmpty)
        #expect(!manager.fileExists(atPath: spare))
    }
}
