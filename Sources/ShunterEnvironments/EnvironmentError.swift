import ShunterHandlers

/// Why a job cannot have the environment it asked for, in words the job's owner can act on.
package enum EnvironmentError: Error, Sendable, CustomStringConvertible {
    /// `conda_environment` names no file in the definitions directory.
    case unknownName(String, known: [String], definitions: String)
    /// The spec (a file, or `__env__.conda`) is malformed.
    case badSpec(origin: String, ConfigErrors)
    /// No configured manager can build the spec here; each one's reason.
    case noManager(label: String, reasons: [(manager: String, reason: String)])
    /// The build ran and failed; `message` is the tool's (the solver's, pip's).
    case buildFailed(label: String, manager: String, message: String, log: String)
    /// The broker has no environment support configured.
    case notConfigured(String)
    case internalError(String)

    package var description: String {
        switch self {
        case .unknownName(let name, let known, let definitions):
            let list = known.isEmpty ? "none are defined" : "defined: \(known.joined(separator: ", "))"
            var text = "unknown conda environment '\(name)': there is no \(definitions)/\(name).yml (\(list))"
            if let close = EditDistance.closest(to: name, among: known) { text += "; did you mean '\(close)'?" }
            return text
        case .badSpec(let origin, let errors):
            return "the environment spec \(origin) is invalid:\n"
                + errors.errors.map(\.description).joined(separator: "\n")
        case .noManager(let label, let reasons):
            return "no environment manager can build '\(label)' on this machine:\n"
                + reasons.map { "- \($0.manager): \($0.reason)" }.joined(separator: "\n")
        case .buildFailed(let label, let manager, let message, let log):
            return "building conda environment '\(label)' with \(manager) failed: \(message)\n(full log: \(log))"
        case .notConfigured(let reason): return reason
        case .internalError(let reason): return reason
        }
    }
}
