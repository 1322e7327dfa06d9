import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The claim of one broker process on a journal, work root or buffer store: two brokers on one
/// of them take each other's running jobs for a crash's leftovers and kill them.
///
/// An exclusive `flock(2)` on `<path>.lock` (beside the guarded path, so that no listing of the
/// directory itself ever meets it), held for the life of the process. The kernel releases it
/// when the holder dies however it dies, so a lock whose holder is gone is simply taken: the
/// file's text (the holder's pid, host, start time and command) is then only history, and is
/// rewritten. The descriptor is close-on-exec: a job or a crash reporter started by the broker
/// must never keep the store locked after the broker is gone.
package final class BrokerLock: Sendable {
    /// Who holds (or held) a lock, as its file says.
    package struct Holder: Sendable, Hashable, CustomStringConvertible {
        package var pid: Int32
        package var host: String
        /// ISO 8601, UTC.
        package var started: String
        package var command: String

        package var description: String { "pid \(pid) on host \(host), started \(started) (\(command))" }

        var fileText: String { "pid \(pid)\nhost \(host)\nstarted \(started)\ncommand \(command)\n" }

        /// nil for a file that is empty (its holder had not written it yet) or not ours.
        init?(fileText: String) {
            var fields: [Substring: Substring] = [:]
            for line in fileText.split(separator: "\n") {
                guard let space = line.firstIndex(of: " ") else { continue }
                fields[line[..<space]] = line[line.index(after: space)...]
            }
            guard let pidText = fields["pid"], let pid = Int32(pidText) else { return nil }
            self.pid = pid
            host = String(fields["host"] ?? "?")
            started = String(fields["started"] ?? "?")
            command = String(fields["command"] ?? "?")
        }

        init(pid: Int32, host: String, started: String, command: String) {
            self.pid = pid
            self.host = host
            self.started = started
            self.command = command
        }

        /// This process.
        static func current(command: String) -> Holder {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            return Holder(
                pid: getpid(), host: ProcessInfo.processInfo.hostName, started: formatter.string(from: Date()),
                command: command)
        }
    }

    /// The lock file.
    package let path: String
    /// The previous holder named in the file when this process took it over (it was gone).
    package let previousHolder: Holder?
    private let descriptor: Int32

    private init(path: String, descriptor: Int32, previousHolder: Holder?) {
        self.path = path
        self.descriptor = descriptor
        self.previousHolder = previousHolder
    }

    deinit { close(descriptor) }

    /// The lock file guarding `path` (a file or a directory).
    package static func lockPath(guarding path: String) -> String {
        var trimmed = path
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        return trimmed + ".lock"
    }

    /// Takes the lock on `guarded` for this process, or throws `BrokerLockError.held` naming
    /// the live holder. `what` says what the path is, for the message ("journal").
    package static func acquire(guarding guarded: String, what: String, command: String) throws(BrokerLockError)
        -> BrokerLock
    {
        let path = lockPath(guarding: guarded)
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw .unusable(path: path, reason: "cannot create its directory: \(error.localizedDescription)")
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .unusable(path: path, reason: String(cString: strerror(errno))) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            let holder = Holder(fileText: readText(descriptor))
            close(descriptor)
            guard reason == EWOULDBLOCK else { throw .unusable(path: path, reason: String(cString: strerror(reason))) }
            throw .held(path: path, what: what, guarded: guarded, holder: holder)
        }
        let previous = Holder(fileText: readText(descriptor))
        let text = Array(Holder.current(command: command).fileText.utf8)
        let written = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == text.count, ftruncate(descriptor, off_t(text.count)) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw .unusable(path: path, reason: "cannot write the holder's name: \(reason)")
        }
        return BrokerLock(path: path, descriptor: descriptor, previousHolder: previous)
    }

    /// Who holds the lock on `guarded` now; nil when nobody does.
    package static func holder(guarding guarded: String) -> Holder? {
        let path = lockPath(guarding: guarded)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        // A shared lock is refused exactly while a holder has its exclusive one.
        if flock(descriptor, LOCK_SH | LOCK_NB) == 0 {
            _ = flock(descriptor, LOCK_UN)
            return nil
        }
        return Holder(fileText: readText(descriptor))
    }

    private static func readText(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }
}

package enum BrokerLockError: Error, Sendable, CustomStringConvertible {
    /// Another live process holds it.
    case held(path: String, what: String, guarded: String, holder: BrokerLock.Holder?)
    /// The lock file cannot be made or locked at all.
    case unusable(path: String, reason: String)

    package var description: String {
        switch self {
        case .held(let path, let what, let guarded, let holder):
            let who =
                holder.map { "another broker, \($0)," }
                ?? "another broker (still starting: it has not named itself yet)"
            return "the \(what) \(guarded) is in use: \(who) holds \(path). Two brokers on one journal, work root "
                + "or buffer store kill each other's jobs. Stop that broker first, or give this one its own "
                + "journal, workdir and store in its config."
        case .unusable(let path, let reason):
            return "cannot lock \(path): \(reason)"
        }
    }
}
