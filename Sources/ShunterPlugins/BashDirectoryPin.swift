import Foundation
import ShunterCore
import ShunterStore

/// A bash pin that Seamless writes as a directory: `__format__` says
/// `{"filesystem": {"mode": "directory"}, ...}` (a `deepfolder` or `folder` argument of a
/// transformer, a directory argument of `seamless-run`).
///
/// The pin's buffer is a deep structure, `{"relative/path": "<checksum>", ...}`; Seamless's
/// `write_to_directory` writes each file's buffer under the directory named like the pin and
/// sets the pin's variable to that name (`execute_bash.write_bash_job`). Seamless first looks
/// for the directory in its hashserver's folder and symlinks it; Shunter always writes the
/// files, which gives the job the same content.
enum BashDirectoryPin {
    /// The `__format__` entry of `name` when it asks for a directory; `file` mode needs nothing
    /// special (Seamless writes the buffer as it does any `bytes` pin when the file is not found
    /// in its read folders).
    static func isDirectory(_ name: String, formats: [String: JSONValue]) -> Bool {
        formats[name]?.objectValue?["filesystem"]?.objectValue?["mode"]?.stringValue == "directory"
    }

    /// Writes the directory; returns the value of its environment variable (the pin's name).
    static func materialize(
        _ pin: Transformation.Pin, as name: String, in directory: WorkDirectory, buffers: any BufferStore
    ) async throws -> String {
        try BashPlugin.checkPathName(name, pin: name)
        if name.hasSuffix(".gz") || name.hasSuffix(".zst") {
            throw JobFailure(
                .badInput, "pin '\(name)': compressed directory pins (.gz, .zst) are not supported by the bash plugin")
        }
        guard let buffer = try await buffers.get(pin.checksum) else {
            throw JobFailure(.badInput, "pin '\(name)': buffer \(pin.checksum) is not in the buffer store")
        }
        let structure: JSONValue
        do {
            structure = try CelltypeCodec.deserialize(buffer, as: .plain)
        } catch {
            throw JobFailure(
                .badInput,
                "pin '\(name)': a directory pin must hold a deep structure (a JSON dict of checksums): \(error)")
        }
        guard let files = structure.objectValue else {
            throw JobFailure(.badInput, "pin '\(name)': Data must be a dict of files, got \(structure.kindName)")
        }
        let root = directory.workPath + "/" + name
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for member in files.keys.sorted() {
            if let problem = WorkPathName.problem(with: member) {
                throw JobFailure(
                    .badInput, "pin '\(name)': file '\(member)' cannot be written in the pin's directory: \(problem)")
            }
            let parts = member.split(separator: "/", omittingEmptySubsequences: false)
            guard let text = files[member]?.stringValue, let checksum = try? Checksum(hex: text) else {
                throw JobFailure(
                    .badInput,
                    "pin '\(name)': file '\(member)' must map to a checksum (64 hex characters), got \(files[member]!.kindName)"
                )
            }
            let path = root + "/" + member
            if parts.count > 1 {
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            }
            do {
                try await buffers.materialize(checksum, to: path)
            } catch BufferStoreError.notFound {
                throw JobFailure(
                    .badInput, "pin '\(name)': file '\(member)': buffer \(checksum) is not in the buffer store")
            }
        }
        return name
    }
}
