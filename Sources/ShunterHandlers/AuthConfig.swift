/// Who may use the broker (`auth:`): docs/security.md.
package struct AuthConfig: Sendable, Hashable {
    package enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Tokens are asked for as soon as one exists, or always when the broker listens beyond
        /// loopback (where it refuses to start without one).
        case automatic
        /// Every request but `/healthcheck` presents a token.
        case tokens
        /// Nobody is asked for anything: a trusted network only (logged loudly at start).
        case none
    }

    package var mode: Mode = .automatic
    /// The token file (`shunter token add|list|revoke` change it).
    package var tokens: String
    /// One JSON line per authenticated write.
    package var auditLog: String
    /// Jobs one principal may have queued and running at once; more are refused with 429.
    package var maxJobsPerPrincipal: Int = 10_000

    package init(root: String) {
        tokens = ConfigPaths.resolve("var/auth/tokens.json", against: root)
        auditLog = ConfigPaths.resolve("var/auth/audit.jsonl", against: root)
    }
}

/// The server's certificate and key (`tls:`), PEM files: with them the broker speaks HTTPS.
package struct TLSConfig: Sendable, Hashable {
    package var certificate: String
    package var key: String

    package init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }
}

extension BrokerConfigLoader {
    package static let authKeys = ["mode", "tokens", "audit_log", "max_jobs_per_principal"]
    package static let tlsKeys = ["certificate", "key"]

    static func auth(_ value: ConfigValue, root: String, document: ConfigDocument) throws(ConfigError) -> AuthConfig {
        let entries = try ConfigParsing.mapping(
            value, key: "auth", accepted: authKeys, context: "in 'auth'", keyLocation: document.keyLocation(of:))
        var auth = AuthConfig(root: root)
        for (key, entry) in entries {
            switch key {
            case "mode":
                let text = try ConfigParsing.string(entry, key: "auth.mode")
                guard let mode = AuthConfig.Mode(rawValue: text) else {
                    throw ConfigError(
                        "'auth.mode' must be one of \(AuthConfig.Mode.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'",
                        at: entry.location)
                }
                auth.mode = mode
            case "tokens": auth.tokens = try path(entry, key: "auth.tokens", root: root)
            case "audit_log": auth.auditLog = try path(entry, key: "auth.audit_log", root: root)
            default:
                auth.maxJobsPerPrincipal = try ConfigParsing.int(entry, key: "auth.max_jobs_per_principal", minimum: 1)
            }
        }
        return auth
    }

    static func tls(_ value: ConfigValue, root: String, document: ConfigDocument) throws(ConfigError) -> TLSConfig {
        let entries = try ConfigParsing.mapping(
            value, key: "tls", accepted: tlsKeys, context: "in 'tls'", keyLocation: document.keyLocation(of:))
        var certificate: String?
        var key: String?
        for (name, entry) in entries {
            if name == "certificate" {
                certificate = try path(entry, key: "tls.certificate", root: root)
            } else {
                key = try path(entry, key: "tls.key", root: root)
            }
        }
        guard let certificate, let key else {
            throw ConfigError(
                "'tls' needs both 'certificate' and 'key' (PEM files); got only \(certificate == nil ? "'key'" : "'certificate'")",
                at: value.location)
        }
        return TLSConfig(certificate: certificate, key: key)
    }
}
