import ShunterCore

package enum BrokerError: Error, Sendable, CustomStringConvertible {
    case unknownComponent(kind: String, name: String, handler: String)
    case unknownJob(JobID)
    case environmentUnavailable(Checksum, reason: String)
    case shuttingDown
    /// A journaled job whose parts disagree (a corrupt or hand-edited journal).
    case journalMismatch(String)

    package var description: String {
        switch self {
        case .unknownComponent(let kind, let name, let handler):
            "handler '\(handler)' names \(kind) '\(name)', which this broker does not have"
        case .unknownJob(let id):
            "no job \(id)"
        case .environmentUnavailable(let checksum, let reason):
            "the transformation's environment (__env__ \(checksum)) cannot be read: \(reason)"
        case .shuttingDown:
            "the broker is shutting down and takes no new jobs"
        case .journalMismatch(let detail):
            "its journal entry is inconsistent: \(detail)"
        }
    }
}
