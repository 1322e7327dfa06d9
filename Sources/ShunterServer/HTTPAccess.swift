import ShunterAuth

/// Who may use the HTTP server: the authenticator every request goes through and the audit
/// log of authenticated writes.
package struct HTTPAccess: Sendable {
    package var authenticator: RequestAuthenticator
    package var audit: AuditLog?

    package init(authenticator: RequestAuthenticator, audit: AuditLog?) {
        self.authenticator = authenticator
        self.audit = audit
    }

    /// Everyone is the anonymous admin, nothing is audited: a loopback broker without tokens.
    package static let open = HTTPAccess(authenticator: RequestAuthenticator(mode: .open, registry: nil), audit: nil)
}
