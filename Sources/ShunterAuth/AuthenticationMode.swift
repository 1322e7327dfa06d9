/// Whether a broker asks for tokens.
package enum AuthenticationMode: Sendable, Equatable {
    /// Every request is the anonymous admin: a broker listening on loopback only with no token
    /// file, or `auth: none` (a trusted network, logged loudly at start).
    case open
    /// Every request but `/healthcheck` presents a token of the token file.
    case tokens
}
