import Foundation

/// Names a local process so that a later broker process can find it again, and be sure it is
/// the same one: a pid alone can be reused, so the identity also holds the kernel's boot id
/// and the process's start time (in clock ticks since boot, `/proc/PID/stat` field 22).
struct ProcessIdentity: Hashable, Sendable {
    var bootID: String
    var pid: pid_t
    var startTicks: UInt64

    /// The identity of a live process; nil if it is already gone.
    init?(pid: pid_t) {
        guard let bootID = Self.currentBootID, let ticks = Self.startTicks(of: pid) else { return nil }
        self.bootID = bootID
        self.pid = pid
        self.startTicks = ticks
    }

    /// Parses `local:BOOT:PID:TICKS`, the form journaled as an external id.
    init?(externalID: String) {
        let parts = externalID.split(separator: ":")
        guard parts.count == 4, parts[0] == "local", let pid = pid_t(parts[2]), let ticks = UInt64(parts[3]) else {
            return nil
        }
        self.bootID = String(parts[1])
        self.pid = pid
        self.startTicks = ticks
    }

    var externalID: String { "local:\(bootID):\(pid):\(startTicks)" }

    /// Whether the very process this identity names still runs.
    var isAlive: Bool {
        bootID == Self.currentBootID && Self.startTicks(of: pid) == startTicks
    }

    /// Read once: it changes only with a reboot, which ends this process too.
    private static let currentBootID: String? =
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines)

    /// Read with one `read` into a stack buffer: this runs once per local job, where
    /// Foundation's `String(contentsOfFile:)` cost a measurable share of the broker's CPU.
    private static func startTicks(of pid: pid_t) -> UInt64? {
        let descriptor = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> UInt64? in
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            guard count > 0 else { return nil }
            let stat = UnsafeBufferPointer(rebasing: buffer[..<count])
            // Fields after the command name (which may hold spaces and parentheses) start at
            // field 3, after the last ')'.
            guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
            let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
            guard fields.count > 19 else { return nil }
            return UInt64(String(decoding: fields[19], as: UTF8.self))
        }
    }
}
