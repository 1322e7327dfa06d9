import ShunterHandlers

/// The python plugin's warm-interpreter options (`python.warm`, `warm_start`,
/// `warm_idle_timeout`); see docs/python-plugin.md.
package struct WarmPythonSettings: Sendable, Hashable {
    /// Start the handler's own warm interpreter with the broker, not with its first job.
    package var startsWithBroker: Bool
    package var idleTimeout: Duration

    package static let defaultIdleTimeout: Duration = .seconds(600)
    /// An idle timeout longer than any broker runs: beyond it the setting is surely a typo.
    static let longestIdleTimeout: Duration = .seconds(366 * 86_400)

    package init(startsWithBroker: Bool = false, idleTimeout: Duration = defaultIdleTimeout) {
        self.startsWithBroker = startsWithBroker
        self.idleTimeout = idleTimeout
    }

    /// When a handler's warm interpreter starts.
    enum Start: String, CaseIterable {
        case firstJob = "first-job"
        case brokerStart = "broker-start"
    }

    /// Nil when the handler turns warm interpreters off (`warm: false`).
    init?(_ options: OptionReader) throws(ConfigError) {
        if try options.bool("warm") == false { return nil }
        self.init()
        startsWithBroker = try options.choice("warm_start", as: Start.self) == .brokerStart
        idleTimeout =
            try options.duration("warm_idle_timeout", positive: true, atMost: Self.longestIdleTimeout)
            ?? Self.defaultIdleTimeout
    }
}
