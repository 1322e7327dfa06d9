import Foundation
import Logging

/// Removes the work directories the broker kept after failures once they are older than the
/// configured age. The broker calls `sweep` periodically; an actor so that two sweeps never
/// race on the same directory, and so that deleting large trees stays off the callers' threads
/// of control.
package actor WorkDirectoryJanitor {
    package let root: String
    package let keepFailedFor: Duration
    private let logger: Logger

    package init(root: String, keepFailedFor: Duration, logger: Logger = Logger(label: "shunter.workdir.janitor")) {
        self.root = root
        self.keepFailedFor = keepFailedFor
        self.logger = logger
    }

    /// Removes every kept directory under `root` whose `.kept` marker is older than
    /// `keepFailedFor` (as of `now`). Directories without the marker belong to running jobs
    /// and are never touched. Returns the paths removed. Also trims the spare files
    /// (`WorkRootSpares.trimFiles`).
    @discardableResult
    package func sweep(now: Date = Date()) -> [String] {
        let manager = FileManager.default
        guard let names = try? manager.contentsOfDirectory(atPath: root) else { return [] }
        let cutoff = now.addingTimeInterval(-Self.seconds(keepFailedFor))
        var removed: [String] = []
        for name in names.sorted() {
            let directory = WorkDirectory(path: root + "/" + name)
            guard let keptSince = directory.keptSince, keptSince < cutoff else { continue }
            do {
                try directory.remove()
                removed.append(directory.path)
            } catch {
                logger.warning(
                    "cannot remove kept work directory",
                    metadata: ["path": "\(directory.path)", "error": "\(error.localizedDescription)"])
            }
        }
        if !removed.isEmpty {
            logger.info("removed kept work directories", metadata: ["count": "\(removed.count)"])
        }
        // The deletions the jobs deferred (WorkDirectoryRecycling).
        let trimmed = WorkRootSpares.of(root: root).trimFiles()
        if trimmed > 0 { logger.debug("removed spare files", metadata: ["count": "\(trimmed)"]) }
        return removed
    }

    private static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
