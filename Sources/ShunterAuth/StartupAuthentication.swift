import ShunterHandlers

/// Whether a broker asks for tokens, decided once at start from its settings: the safe default
/// in one place (docs/security.md).
package enum StartupAuthentication {
    /// `auth.mode` of the config.
    package typealias Setting = AuthConfig.Mode

    package struct Outcome: Sendable, Equatable {
        package var mode: AuthenticationMode
        /// Lines to log at start (warning level and above).
        package var warnings: [String]
    }

    /// A start refused, with the sentence that says what to do.
    package struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        package let description: String
    }

    package static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    package static func decide(
        setting: Setting, host: String, port: Int, tokensExist: Bool, tokenFile: String, tls: Bool
    ) -> Result<Outcome, Refusal> {
        let address = "\(host):\(port)"
        let loopback = isLoopback(host: host)
        var warnings: [String] = []
        let mode: AuthenticationMode
        switch setting {
        case .none:
            warnings.append(
                "auth: none — anyone who can reach \(address) may upload, run code as this broker's user, cancel jobs "
                    + "and write results; use it on a trusted network only")
            mode = .open
        case .tokens:
            guard tokensExist else {
                return .failure(
                    Refusal(
                        description:
                            "auth.mode is tokens but \(tokenFile) holds no token: add one with 'shunter token add NAME --scope admin'"
                    ))
            }
            mode = .tokens
        case .automatic:
            if tokensExist {
                mode = .tokens
            } else if loopback {
                mode = .open
            } else {
                return .failure(
                    Refusal(
                        description:
                            "listen \(address) is reachable from other machines and no token exists: anyone there could run "
                            + "code as this user. Add a token ('shunter token add NAME --scope submit', then give clients "
                            + "http://NAME:TOKEN@host:\(port)), or set 'auth: {mode: none}' in the config for a trusted network"
                    ))
            }
        }
        if mode == .tokens && !tls && !loopback {
            warnings.append(
                "tokens travel in clear text to \(address): anyone on the network path can read them; configure 'tls:' "
                    + "(certificate and key) or listen on 127.0.0.1 behind a TLS proxy")
        }
        return .success(Outcome(mode: mode, warnings: warnings))
    }
}
