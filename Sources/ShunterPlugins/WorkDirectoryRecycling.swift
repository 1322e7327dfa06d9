import Foundation
import ShunterCore

/// Successful jobs' directories, emptied and kept for the next jobs instead of removed.
///
/// Why: a job directory holds a handful of inodes (the directory, `work/`, `stdout`, `stderr`,
/// then a file per pin, `transform.sh`, `RESULT`). On ext4 without a journal (this project's
/// VM disks), allocating an inode walks every inode freed in the last 30 s, and at a few
/// hundred jobs a second that walk was 60% of the broker's CPU (docs/performance.md). Reusing
/// the directory, `work/` and the two output files halves the inodes created and freed per job
/// on any file system.
///
/// The files a job left in `work/` are kept too, emptied, in `.files/`: the next job's pin
/// files and `transform.sh` are those inodes renamed into place (`write(_:to:)`), so that a
/// trivial job allocates one inode (the `RESULT` bash creates) instead of three.
///
/// ```
/// <root>/.spare/<random>/    work/ (empty), stdout and stderr (empty), .files/ (empty files)
/// ```
/// A spare is taken by renaming it to the new job's name, so two jobs never get the same one.
/// One whose `work/` is not empty (a process of the earlier job wrote late) is removed instead.
extension WorkDirectory {
    /// Spares kept at most; more are removed as before.
    static let spareLimit = 32
    /// Empty files kept per directory for reuse.
    static let pooledFileLimit = 16

    var filePoolPath: String { path + "/.files" }

    /// Writes one of the job's files (a pin, `transform.sh`): into an emptied file of an earlier
    /// job when the directory has one (renamed to `target`, mode reset to what a new file gets),
    /// else into a new file.
    func write(_ bytes: [UInt8], to target: String) throws {
        if let pooled = try? FileManager.default.contentsOfDirectory(atPath: filePoolPath) {
            for name in pooled where rename(filePoolPath + "/" + name, target) == 0 {
                _ = chmod(target, 0o644)
                break
            }
        }
        try Self.writeFile(bytes, to: target)
    }

    static func spareRoot(_ root: String) -> String { root + "/.spare" }

    /// Takes a spare as `target` (which must not exist); false when there is none to take.
    static func takeSpare(root: String, as target: WorkDirectory) -> Bool {
        let spares = spareRoot(root)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: spares) else { return false }
        for name in names {
            let spare = spares + "/" + name
            // Another job may take the same one at the same moment: the rename decides.
            guard rename(spare, target.path) == 0 else { continue }
            if (try? FileManager.default.contentsOfDirectory(atPath: target.workPath))?.isEmpty == true {
                return true
            }
            try? FileManager.default.removeItem(atPath: target.path)
        }
        return false
    }

    /// Empties a successful job's directory and keeps it as a spare for a later job, or removes
    /// it when enough spares are kept (or emptying fails).
    public func recycle() {
        let root = (path as NSString).deletingLastPathComponent
        let spares = Self.spareRoot(root)
        let manager = FileManager.default
        let spareCount = (try? manager.contentsOfDirectory(atPath: spares).count) ?? 0
        do {
            guard spareCount < Self.spareLimit else { throw CocoaError(.fileWriteUnknown) }
            try manager.createDirectory(atPath: filePoolPath, withIntermediateDirectories: true)
            var pooled = try manager.contentsOfDirectory(atPath: filePoolPath).count
            for name in try manager.contentsOfDirectory(atPath: workPath) {
                let file = workPath + "/" + name
                let attributes = try? manager.attributesOfItem(atPath: file)
                // Only a file with no other name: emptying a hard link the job made to a file
                // elsewhere (a store buffer) would empty that file too.
                if attributes?[.type] as? FileAttributeType == .typeRegular,
                    (attributes?[.referenceCount] as? NSNumber)?.intValue == 1,
                    pooled < Self.pooledFileLimit, truncate(file, 0) == 0,
                    rename(file, filePoolPath + "/" + UUID().uuidString) == 0
                {
                    pooled += 1
                } else {
                    try manager.removeItem(atPath: file)
                }
            }
            for name in try manager.contentsOfDirectory(atPath: path) where name != "work" && name != ".files" {
                if name == "stdout" || name == "stderr" {
                    guard truncate(path + "/" + name, 0) == 0 else { throw CocoaError(.fileWriteUnknown) }
                } else {
                    try manager.removeItem(atPath: path + "/" + name)
                }
            }
            try manager.createDirectory(atPath: spares, withIntermediateDirectories: true)
            guard rename(path, spares + "/" + UUID().uuidString) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            try? remove()
        }
    }
}
