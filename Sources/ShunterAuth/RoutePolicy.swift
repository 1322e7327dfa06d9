/// The scope each route needs, in one table. A route missing here needs `read`: an unknown
/// path says nothing to someone without a token.
package enum RoutePolicy {
    package enum Requirement: Sendable, Equatable {
        /// No token needed: `/healthcheck`, which launchers and load balancers poll.
        case open
        case scope(AccessScope)
    }

    /// What counts as a write for the audit log: everything that needs more than `read`.
    package static func isWrite(method: String, path: String) -> Bool {
        switch requirement(method: method, path: path) {
        case .open, .scope(.read): return false
        case .scope: return true
        }
    }

    package static func requirement(method: String, path: String) -> Requirement {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        let first = components.first.map(String.init) ?? ""
        switch (method, first) {
        case ("GET", "healthcheck") where components.count == 1: return .open
        case ("HEAD", "healthcheck") where components.count == 1: return .open
        // The jobserver API: running is submitting, whatever the method says.
        case (_, "run-transformation"): return .scope(.submit)
        case ("POST", "cancel-transformation"): return .scope(.submit)
        case (_, "tokens"): return .scope(.admin)
        case ("POST", "jobs"), ("DELETE", "jobs"): return .scope(.submit)
        case ("GET", _), ("HEAD", _): return .scope(.read)
        // Buffer uploads, promises, database writes (`PUT /`), and whatever else changes state.
        default: return .scope(.submit)
        }
    }
}
