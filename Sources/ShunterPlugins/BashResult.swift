import Foundation
import ShunterCore

/// Reads what a bash job left in `RESULT` into a buffer of the output celltype.
enum BashResult {
    /// Reads a file `ContainedPath` resolved, through a descriptor that refuses symbolic links.
    /// Refuses a file larger than `limit` before reading any of it, and one that grows past it.
    static func bytes(of file: ContainedPath.Resolved, shownAs: String, limit: Int) throws -> [UInt8] {
        let (fd, size) = try ContainedPath.openRegularFile(file, shownAs: shownAs)
        defer { close(fd) }
        guard size <= limit else { throw tooLarge(shownAs, size: size, limit: limit) }
        var out = [UInt8](repeating: 0, count: size)
        var count = 0
        while true {
            if count == out.count { out.append(contentsOf: repeatElement(0, count: max(4096, out.count))) }
            let got = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw JobFailure(.badResult, "cannot read \(shownAs): \(String(cString: strerror(errno)))")
            }
            if got == 0 { break }
            count += got
            guard count <= limit else { throw tooLarge(shownAs, size: nil, limit: limit) }
        }
        out.removeSubrange(count...)
        return out
    }

    static func buffer(fromFile file: ContainedPath.Resolved, celltype: Celltype, limit: Int) throws -> [UInt8] {
        try CelltypeCodec.resultBuffer(
            fromFileBytes: bytes(of: file, shownAs: "RESULT", limit: limit), celltype: celltype)
    }

    /// The failure of a result larger than the broker's `max_result_size`.
    static func tooLarge(_ shownAs: String, size: Int?, limit: Int) -> JobFailure {
        let actual = size.map { "\($0) bytes" } ?? "grew past the limit while it was read"
        return JobFailure(
            .badResult,
            "\(shownAs) is too large (\(actual)): the broker stores results of at most \(limit) bytes "
                + "(max_result_size in the broker config); nothing was stored. Write a smaller result, or raise max_result_size"
        )
    }

    /// The files of a `RESULT` directory as `os.walk` yields them: every non-directory entry,
    /// recursively, named by its path relative to `RESULT`. Like `os.walk` (followlinks=False)
    /// it does not descend into symlinked directories but does read symlinked files; unlike
    /// it, only links that stay inside the job's work directory are followed (`ContainedPath`).
    static func files(
        inDirectory directory: ContainedPath.Resolved, within contained: ContainedPath
    ) throws -> [(member: String, file: ContainedPath.Resolved)] {
        var out: [(member: String, file: ContainedPath.Resolved)] = []
        func walk(_ relative: String, at path: String) throws {
            guard let entries = WorkDirectory.entries(of: path) else {
                throw JobFailure(.badResult, "cannot list RESULT\(relative.isEmpty ? "" : "/" + relative)")
            }
            for name in entries.map(\.name).sorted() {
                let member = relative.isEmpty ? name : relative + "/" + name
                let entryPath = path + "/" + name
                var status = stat()
                guard lstat(entryPath, &status) == 0 else {
                    throw JobFailure(.badResult, "cannot read RESULT/\(member): \(String(cString: strerror(errno)))")
                }
                switch status.st_mode & S_IFMT {
                case S_IFDIR:
                    try walk(member, at: entryPath)
                case S_IFLNK:
                    guard
                        let target = try contained.resolve(
                            String(entryPath.dropFirst(contained.root.count + 1)), shownAs: "RESULT/" + member)
                    else {
                        // `read_data` of a link to nothing fails in Seamless too.
                        throw JobFailure(.badResult, "cannot read RESULT/\(member): it is a symbolic link to nothing")
                    }
                    if !target.isDirectory { out.append((member, target)) }
                case S_IFREG:
                    out.append((member, ContainedPath.Resolved(path: entryPath, isDirectory: false)))
                default:
                    throw JobFailure(
                        .badResult,
                        "RESULT/\(member) is neither a regular file nor a directory (a FIFO, socket or device node), which is never read"
                    )
                }
            }
        }
        try walk("", at: directory.path)
        return out
    }

    /// `RESULT` as a directory: Seamless makes a dict `{relative path: read_data(file)}` and
    /// serializes it as the output celltype.
    ///
    /// Only `plain` and `mixed` are reproduced, and only when every file reads as plain data:
    /// for those the dict is written with sorted keys, so the result does not depend on the
    /// order the file system lists the files in. Other celltypes get Python's `repr` of the
    /// dict in `os.walk` order, and a file that reads as a Numpy array (binary, or `.npy`)
    /// makes a binary mixed buffer; both are refused with a message that says so.
    static func buffer(
        fromDirectoryFiles files: [(member: String, file: ContainedPath.Resolved)], celltype: Celltype, limit: Int
    ) throws -> [UInt8] {
        guard celltype == .plain || celltype == .mixed else {
            throw JobFailure(
                .badResult,
                "RESULT is a directory, which becomes a result only for the output celltypes "
                    + "plain and mixed (Seamless would write Python's repr of the dict, whose key order depends on the file system), "
                    + "not for '\(celltype.rawValue)'")
        }
        // The whole directory counts against the limit, checked before any file is read.
        var total = 0
        for (_, file) in files {
            var status = stat()
            if stat(file.path, &status) == 0 { total += Int(status.st_size) }
            guard total <= limit else { throw tooLarge("RESULT (a directory)", size: total, limit: limit) }
        }
        var members: [String: JSONValue] = [:]
        var left = limit
        for (member, file) in files {
            let content = try bytes(of: file, shownAs: "RESULT/" + member, limit: left)
            left -= content.count
            members[member] = try value(ofMember: member, bytes: content)
        }
        return try CelltypeCodec.serialize(.object(members), as: celltype)
    }

    /// `read_data(file bytes)` as a plain value: through the codec's own RESULT reading (a
    /// plain buffer of the member), then back to JSON.
    static func value(ofMember member: String, bytes: [UInt8]) throws -> JSONValue {
        let plainBuffer: [UInt8]
        do {
            plainBuffer = try CelltypeCodec.resultBuffer(fromFileBytes: bytes, celltype: .plain)
        } catch {
            // A file holding JSON null is a legal member (only a whole RESULT may not be null).
            if let value = try? CelltypeCodec.deserialize(bytes, as: .plain), value.isNull { return .null }
            throw JobFailure(.badResult, "RESULT/\(member) cannot be part of a plain result: \(error)")
        }
        return try CelltypeCodec.deserialize(plainBuffer, as: .plain)
    }
}
