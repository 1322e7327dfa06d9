import Foundation
import ShunterCore
import Testing

@testable import ShunterPlugins

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
        #expect(throws: JobFailure.self) {
            try WorkDirectory.create(root: root.path + "/jobs", transformation: checksum, jobID: "j/1")
        }
        #expect(directory.keptSince == nil)
        try directory.remove()
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        try directory.remove()
    }

    @Test("a job id's characters outside letters, digits, '-', '_' and '.' become '_' in the directory name")
    func nameKeepsOnlySafeCharacters() {
        #expect(WorkDirectory.name(transformation: checksum, jobID: "42") == "abababababab-42")
        #expect(WorkDirectory.name(transformation: checksum, jobID: "a-Z_9.x") == "abababababab-a-Z_9.x")
        #expect(WorkDirectory.name(transformation: checksum, jobID: "../x y") == "abababababab-.._x_y")
        #expect(WorkDirectory.name(transformation: checksum, jobID: "é") == "abababababab-__")
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

    @Test("a recycled directory is kept as a spare, and taken by the next job with nothing of the last")
    func recycling() throws {
        /// Files in the pool, whichever shard they are in.
        func spareFiles(_ root: String) -> Int {
            let pool = root + "/.spare/files"
            return (FileManager.default.subpaths(atPath: pool) ?? []).filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: pool + "/" + path, isDirectory: &isDirectory)
                    && !isDirectory.boolValue
            }.count
        }
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let manager = FileManager.default
        func inode(_ path: String) throws -> UInt64 {
            try #require((try manager.attributesOfItem(atPath: path))[.systemFileNumber] as? UInt64)
        }
        func mode(_ path: String) throws -> Int {
            try #require((try manager.attributesOfItem(atPath: path))[.posixPermissions] as? Int)
        }
        let first = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-1")
        for file in ["a", "transform.sh", "RESULT"] {
            try Data("a longer text than the next job writes".utf8).write(
                to: URL(fileURLWithPath: first.workPath + "/" + file))
        }
        let leftInodes = try Set(["a", "transform.sh", "RESULT"].map { try inode(first.workPath + "/" + $0) })
        try manager.createDirectory(atPath: first.workPath + "/out/deep", withIntermediateDirectories: true)
        try Data("printed".utf8).write(to: URL(fileURLWithPath: first.stdoutPath))
        try manager.createDirectory(atPath: first.path + "/python/buffers", withIntermediateDirectories: true)
        let directoryInode = try inode(first.path)

        first.recycle()
        #expect(!manager.fileExists(atPath: first.path))
        let kept = try manager.contentsOfDirectory(atPath: root.path + "/.spare/dirs")
        #expect(kept.count == 1)
        // The job's files stay in place, but RESULT, which bash would truncate, and what is no
        // regular file.
        #expect(
            try manager.contentsOfDirectory(atPath: root.path + "/.spare/dirs/" + kept[0] + "/work").sorted() == [
                "a", "transform.sh",
            ])
        #expect(spareFiles(root.path) == 1)

        // Taken without `reusingFiles`: the files left in place go to the pool.
        let second = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-2")
        #expect(spareFiles(root.path) == 3)
        #expect(try inode(second.path) == directoryInode, "the spare was taken, not a new directory made")
        #expect(try manager.contentsOfDirectory(atPath: second.workPath).isEmpty)
        #expect(try manager.contentsOfDirectory(atPath: second.path).sorted() == ["stdout", "work"])
        #expect(manager.contents(atPath: second.stdoutPath)?.isEmpty == true)
        #expect(try manager.contentsOfDirectory(atPath: root.path + "/.spare/dirs").isEmpty)

        // The next job's files are the files the last one left, holding exactly what is written.
        try second.write(Array("42\n".utf8), to: second.workPath + "/a")
        try second.write(Array("#!/bin/bash\n".utf8), to: second.workPath + "/transform.sh", mode: 0o755)
        #expect(leftInodes.contains(try inode(second.workPath + "/a")))
        #expect(leftInodes.contains(try inode(second.workPath + "/transform.sh")))
        #expect(manager.contents(atPath: second.workPath + "/a") == Data("42\n".utf8))
        #expect(manager.contents(atPath: second.workPath + "/transform.sh") == Data("#!/bin/bash\n".utf8))
        #expect(try mode(second.workPath + "/a") == 0o644)
        #expect(try mode(second.workPath + "/transform.sh") == 0o755)
        #expect(spareFiles(root.path) == 1)

        // A hard link the job made to a file elsewhere is removed, never reused.
        let outside = root.path + "/precious"
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: outside))
        try manager.linkItem(atPath: outside, toPath: second.workPath + "/link")
        second.recycle()
        #expect(manager.contents(atPath: outside) == Data("keep me".utf8))
        let spare =
            root.path + "/.spare/dirs/"
            + (try #require(try manager.contentsOfDirectory(atPath: root.path + "/.spare/dirs").first))
        #expect(try manager.contentsOfDirectory(atPath: spare + "/work").sorted() == ["a", "transform.sh"])
        #expect(spareFiles(root.path) == 1)

        // A spare that something made a directory in after it was kept is never handed out:
        // taken with its files evicted, it would still hold `late`.
        try manager.createDirectory(atPath: spare + "/work/late", withIntermediateDirectories: false)
        let third = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-3")
        #expect(try manager.contentsOfDirectory(atPath: third.workPath).isEmpty)
        #expect(!manager.fileExists(atPath: spare))

        // The housekeeping trims the spare files.
        #expect(WorkRootSpares.of(root: root.path).trimFiles(keeping: 0) == 1)
        #expect(spareFiles(root.path) == 0)
    }

    @Test(
        "with reusingFiles the next job overwrites the files of the same names in place, and what it does not write goes before it runs"
    )
    func reusingFiles() throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let manager = FileManager.default
        func inode(_ path: String) throws -> UInt64 {
            try #require((try manager.attributesOfItem(atPath: path))[.systemFileNumber] as? UInt64)
        }
        let first = try WorkDirectory.create(
            root: root.path, transformation: checksum, jobID: "job-1", reusingFiles: true)
        let long = "a longer text than the next job writes"
        for name in ["a", "b", "c", "d", "transform.sh", "RESULT"] {
            try first.write(
                Array(long.utf8), to: first.workPath + "/" + name, mode: name == "transform.sh" ? 0o755 : 0o644)
        }
        let aInode = try inode(first.workPath + "/a")
        let scriptInode = try inode(first.workPath + "/transform.sh")
        first.recycle()

        let second = try WorkDirectory.create(
            root: root.path, transformation: checksum, jobID: "job-2", reusingFiles: true)
        // Leftovers until the job's own writes, bytes pins and directories are done.
        #expect(
            try manager.contentsOfDirectory(atPath: second.workPath).sorted() == ["a", "b", "c", "d", "transform.sh"])
        try second.write(Array("42\n".utf8), to: second.workPath + "/a", mode: 0o755)
        try second.write(Array("#!/bin/bash\n".utf8), to: second.workPath + "/transform.sh")
        // A name the job fills otherwise (a hard link, a directory, a file in one) is cleared.
        try second.evictLeftover(at: "b")
        try manager.linkItem(atPath: second.workPath + "/a", toPath: second.workPath + "/b")
        try second.evictLeftover(at: "c/inner")
        try manager.createDirectory(atPath: second.workPath + "/c", withIntermediateDirectories: false)
        try second.evictLeftovers()

        #expect(try manager.contentsOfDirectory(atPath: second.workPath).sorted() == ["a", "b", "c", "transform.sh"])
        #expect(try inode(second.workPath + "/a") == aInode, "overwritten in place")
        #expect(try inode(second.workPath + "/transform.sh") == scriptInode)
        #expect(manager.contents(atPath: second.workPath + "/a") == Data("42\n".utf8))
        #expect(manager.contents(atPath: second.workPath + "/transform.sh") == Data("#!/bin/bash\n".utf8))
        let modes = try ["a", "transform.sh"].map { name in
            try #require(
                (try manager.attributesOfItem(atPath: second.workPath + "/" + name))[.posixPermissions] as? Int)
        }
        #expect(modes == [0o755, 0o644], "the mode asked for, not the leftover's")
        // b and c (in the way) and d (not written) went to the pool, with RESULT.
        #expect(WorkRootSpares.of(root: root.path).counts.files == 4)

        // Longer than the leftover, and its mode already: written over it, nothing left of it.
        try manager.removeItem(atPath: second.workPath + "/b")
        try manager.removeItem(atPath: second.workPath + "/c")
        second.recycle()
        let third = try WorkDirectory.create(
            root: root.path, transformation: checksum, jobID: "job-3", reusingFiles: true)
        try third.write(Array(long.utf8), to: third.workPath + "/a", mode: 0o755)
        #expect(try inode(third.workPath + "/a") == aInode)
        #expect(manager.contents(atPath: third.workPath + "/a") == Data(long.utf8))
        #expect((try manager.attributesOfItem(atPath: third.workPath + "/a"))[.posixPermissions] as? Int == 0o755)
    }

    @Test(
        "a broker adopts the spares an earlier one left (files in shards or directly in the pool), and removes those of the older layout"
    )
    func adoption() throws {
        let root = try TemporaryDirectory()
        defer { root.cleanUp() }
        let manager = FileManager.default
        try manager.createDirectory(atPath: root.path + "/.spare/dirs/earlier/work", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: root.path + "/.spare/files", withIntermediateDirectories: true)
        try Data("old".utf8).write(to: URL(fileURLWithPath: root.path + "/.spare/files/earlier"))
        try manager.createDirectory(atPath: root.path + "/.spare/files/3", withIntermediateDirectories: true)
        try Data("older".utf8).write(to: URL(fileURLWithPath: root.path + "/.spare/files/3/earlier-sharded"))
        try manager.createDirectory(atPath: root.path + "/.spare/0F1E-UUID/.files", withIntermediateDirectories: true)

        let job = try WorkDirectory.create(root: root.path, transformation: checksum, jobID: "job-1")
        #expect(!manager.fileExists(atPath: root.path + "/.spare/dirs/earlier"), "the earlier broker's spare was taken")
        #expect(!manager.fileExists(atPath: root.path + "/.spare/0F1E-UUID"))
        try job.write(Array("new".utf8), to: job.workPath + "/a")
        try job.write(Array("newer".utf8), to: job.workPath + "/b")
        #expect(!manager.fileExists(atPath: root.path + "/.spare/files/earlier"))
        #expect(!manager.fileExists(atPath: root.path + "/.spare/files/3/earlier-sharded"))
        #expect(manager.contents(atPath: job.workPath + "/a") == Data("new".utf8))
        #expect(manager.contents(atPath: job.workPath + "/b") == Data("newer".utf8))
    }
}
