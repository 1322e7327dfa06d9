import Foundation

/// Processes an interrupted attempt of a job left behind, found by where they work.
///
/// A job's processes run in its work directory. When the broker is killed between starting a
/// job and journaling the job's process identity, nothing in the journal names those
/// processes; their working directory still does, and the next attempt of the job knows that
/// directory's name.
package enum LeftoverProcesses {
    /// Kills (SIGKILL, with their process group) the processes whose working directory is
    /// `directory` or below it, and returns their pids.
    @discardableResult
    package static func kill(workingUnder directory: String) -> [pid_t] {
        let resolved = URL(fileURLWithPath: directory).resolvingSymlinksInPath().path
        let prefix = resolved.hasSuffix("/") ? resolved : resolved + "/"
        var killed: [pid_t] = []
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), pid != getpid(),
                var cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd")
            else { continue }
            // The kernel marks a working directory that was removed meanwhile.
            if cwd.hasSuffix(" (deleted)") { cwd.removeLast(" (deleted)".count) }
            guard cwd == resolved || cwd.hasPrefix(prefix) else { continue }
            let group = getpgid(pid)
            if group > 1, group != getpgrp() {
                Glibc.kill(-group, SIGKILL)
            } else {
                Glibc.kill(pid, SIGKILL)
            }
            killed.append(pid)
        }
        return killed
    }
}
