import Foundation
import ShunterCore

/// Reads what a bash job left in `RESULT` into a buffer of the output celltype.
enum BashResult {
    static func buffer(fromFile path: String, celltype: Celltype) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JobFailure(.badResult, "cannot read \(path)")
        }
        return try CelltypeCodec.resultBuffer(fromFileBytes: [UInt8](data), celltype: celltype)
    }

    /// The files of a `RESULT` directory as `os.walk` yields them: every non-directory entry,
    /// recursively, named by its path relative to `RESULT`. Like `os.walk` (followlinks=False)
    /// it does not descend into symlinked directories but does read symlinked files.
    static func files(inDirectory root: String) throws -> [(member: String, path: String)] {
        var out: [(member: String, path: String)] = []
        func walk(_ relative: String) throws {
            let directory = relative.isEmpty ? root : root + "/" + relative
            for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
                let member = relative.isEmpty ? name : relative + "/" + name
                let path = root + "/" + member
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                if isDirectory.boolValue {
                    let attributes = try FileManager.default.attributesOfItem(atPath: path)
                    if attributes[.type] as? FileAttributeType != .typeSymbolicLink { try walk(member) }
                } else {
                    out.append((member, path))
                }
            }
        }
        try walk("")
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
    static func buffer(fromDirectoryFiles files: [(member: String, path: String)], celltype: Celltype) throws -> [UInt8] {
        guard celltype == .plain || celltype == .mixed else {
            throw JobFailure(.badResult, "RESULT is a directory, which becomes a result only for the output celltypes "
                + "plain and mixed (Seamless would write Python's repr of the dict, whose key order depends on the file system), "
                + "not for '\(celltype.rawValue)'")
        }
        var members: [String: JSONValue] = [:]
        for (member, path) in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw JobFailure(.badResult, "cannot read RESULT/\(member)")
            }
            members[member] = try value(ofMember: member, bytes: [UInt8](data))
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
