/// Who a request comes from, once its token is known.
package struct Principal: Sendable, Hashable {
    package var name: String
    package var scope: AccessScope
    /// Results this principal writes through the database route are served to everyone, as if
    /// the broker had computed them (an admin's decision: `shunter token add --trusted`).
    package var trusted: Bool

    package init(name: String, scope: AccessScope, trusted: Bool = false) {
        self.name = name
        self.scope = scope
        self.trusted = trusted
    }

    /// The one principal of a broker without authentication (loopback, or `auth: none`): it may
    /// do everything, as before tokens existed.
    package static let anonymous = Principal(name: "anonymous", scope: .admin, trusted: true)
}
