import Foundation

/// The token a request presents in its `Authorization` header: `Bearer TOKEN`, or HTTP Basic
/// with the token as the password (what the Seamless client sends for a URL
/// `http://NAME:TOKEN@host:port`; the name is not checked, the token says who it is).
package enum PresentedCredentials: Sendable, Equatable {
    case none
    case token(String)
    /// A header that is there but is neither form: answered 401 with what was expected.
    case malformed(String)

    package init(authorization: String?) {
        guard let authorization, !authorization.isEmpty else {
            self = .none
            return
        }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            self = .malformed("the Authorization header is neither 'Bearer TOKEN' nor HTTP Basic")
            return
        }
        let scheme = parts[0].lowercased()
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch scheme {
        case "bearer":
            self = value.isEmpty ? .malformed("'Bearer' without a token") : .token(value)
        case "basic":
            guard let decoded = Data(base64Encoded: value).flatMap({ String(data: $0, encoding: .utf8) }),
                let colon = decoded.firstIndex(of: ":")
            else {
                self = .malformed("HTTP Basic credentials that are not base64 of NAME:TOKEN")
                return
            }
            let password = String(decoded[decoded.index(after: colon)...])
            // Percent-encoded by clients that took it from a URL.
            let token = password.removingPercentEncoding ?? password
            self = token.isEmpty ? .malformed("HTTP Basic credentials without a token as password") : .token(token)
        default:
            self = .malformed("the Authorization scheme '\(parts[0])' is not Bearer or Basic")
        }
    }
}
