import Foundation

/// A real, small file system for tests of a full disk: a tmpfs of `megabytes` mounted at a
/// fresh directory (needs root), unmounted and removed by `remove`.
package struct SmallFileSystem {
    package let path: String

    package struct Unavailable: Error, CustomStringConvertible {
        package let description: String
    }

    package init(megabytes: Int) throws {
        path = NSTemporaryDirectory() + "shunter-small-fs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let (status, output) = Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        guard status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw Unavailable(
                description:
                    "this test needs a small real file system: `mount -t tmpfs -o size=\(megabytes)m tmpfs \(path)` failed "
                    + "(exit \(status)): \(output). Run the tests as root (scripts/test.sh does).")
        }
    }

    /// Fills the file system up with a file of zeros; returns its path.
    @discardableResult
    package func fill(name: String = "filler") -> String {
        let filler = path + "/" + name
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 64 << 10)
        // Smaller writes at the end take the last blocks.
        for size in [64 << 10, 4096, 1] {
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, size) }) == size {}
        }
        return filler
    }

    /// Unmounts lazily: a file still open (a database being closed) does not keep the mount.
    package func remove() {
        _ = Self.run("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func run(_ tool: String, _ arguments: [String]) -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            return (-1, "\(error)")
        }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus,
            String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        )
    }
}
