import ShunterHandlers

/// The python plugin's warm-interpreter options (`python.warm`, `warm_start`,
/// `warm_idle_timeout`); see docs/python-plugin.md.
public struct WarmPythonSettings: Sendable, Hashable {
    /// Start the handler's own warm interpreter with the broker, not with its first job.
    public var startsWithBroker: Bool
    public var idleTimeout: Duration

    public static let defaultIdleTimeout: Duration = .seconds(600)

    public init(startsWithBroker: Bool = false, idleTimeout: Duration = defaultIdleTimeout) {
        self.startsWithBroker = startsWithBroker
        self.idleTimeout = idleTimeout
    }

    /// Nil when the handler turns warm interpreters off (`warm: false`).
    init?(_ options: PluginOptions) throws {
        if let entry = options.value?["warm"] {
            guard case .bool(let on, _) = entry else {
                throw PluginOptionError(location: entry.location, message: "python.warm must be true or false")
            }
            if !on { return nil }
        }
        self.init()
        if let entry = options.value?["warm_start"], let text = try options.string("warm_start") {
            switch text {
            case "first-job": startsWithBroker = false
            case "broker-start": startsWithBroker = true
            default:
                throw PluginOptionError(
                    location: entry.location,
                    message: "python.warm_start must be first-job or broker-start, not '\(text)'")
            }
        }
        if let entry = options.value?["warm_idle_timeout"] {
            let timeout: Duration
            do {
                timeout = try ConfigParsing.duration(entry, key: "python.warm_idle_timeout")
            } catch {
                throw PluginOptionError(location: entry.location, message: "\(error.message)")
            }
            guard timeout > .zero, timeout <= .seconds(366 * 86_400) else {
                throw PluginOptionError(
                    location: entry.location, message: "python.warm_idle_timeout must be more than 0 and at most a year")
            }
            idleTimeout = timeout
        }
    }
}
