import Foundation

/// An advisory `flock(2)` lock on a file, shared between processes (two brokers on one
/// environment root) and between open descriptions inside one process. The kernel drops it
/// when the holder dies, so a crashed broker never leaves an environment locked.
package final class FileLock: Sendable {
    package enum Mode: Sendable {
        /// Many holders at once (jobs using an environment).
        case shared
        /// One holder, no shared ones (a build; the janitor removing an environment).
        case exclusive
    }

    package let path: String
    private let descriptor: Int32
    private let touchOnRelease: Bool

    private init(path: String, descriptor: Int32, touchOnRelease: Bool) {
        self.path = path
        self.descriptor = descriptor
        self.touchOnRelease = touchOnRelease
    }

    deinit {
        if touchOnRelease { _ = futimens(descriptor, nil) }
        close(descriptor)
    }

    /// Takes the lock, or returns nil at once when another holder prevents it.
    package static func attempt(_ path: String, _ mode: Mode, touchOnRelease: Bool = false) throws -> FileLock? {
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw EnvironmentError.internalError("cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(descriptor, (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 {
            return FileLock(path: path, descriptor: descriptor, touchOnRelease: touchOnRelease)
        }
        let reason = errno
        close(descriptor)
        guard reason == EWOULDBLOCK else {
            throw EnvironmentError.internalError("cannot lock \(path): \(String(cString: strerror(reason)))")
        }
        return nil
    }

    /// Takes the lock, waiting (without holding a thread) as long as it takes; `onWait` is
    /// called once if it has to wait. Throws `CancellationError` when the task is cancelled.
    /// With `touchOnRelease`, releasing sets the file's time to now (see `touch`).
    package static func acquire(
        _ path: String, _ mode: Mode, touchOnRelease: Bool = false, onWait: @Sendable () -> Void = {}
    ) async throws -> FileLock {
        var waited = false
        while true {
            if let lock = try attempt(path, mode, touchOnRelease: touchOnRelease) { return lock }
            if !waited {
                waited = true
                onWait()
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Sets the file's modification time to now: the lock files of an environment record when
    /// it was last used.
    package func touch() {
        _ = futimens(descriptor, nil)
    }
}
