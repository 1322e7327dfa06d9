import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The audit log: one JSON line per authenticated write, submission, cancel and token change
/// (time, principal, method, path — which names the checksum or job id — and the answer's
/// status), appended to an owner-only file. Each line is one `write` on a descriptor opened
/// with O_APPEND, so lines of concurrent requests never mix and nothing is rewritten.
package final class AuditLog: Sendable {
    package let path: String
    private let descriptor: Mutex<Int32>

    package init(path: String) throws(TokenFileError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw TokenFileError(path: path, "cannot open the audit log: \(String(cString: strerror(errno)))")
        }
        descriptor = Mutex(fd)
    }

    deinit {
        descriptor.withLock { _ = close($0) }
    }

    package func record(principal: String, method: String, path: String, status: Int, now: Date = Date()) {
        let fields: [String: Any] = [
            "time": now.timeIntervalSince1970, "principal": principal, "method": method, "path": path, "status": status,
        ]
        guard
            var line = try? JSONSerialization.data(
                withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        line.append(0x0A)
        descriptor.withLock { fd in
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }
}
