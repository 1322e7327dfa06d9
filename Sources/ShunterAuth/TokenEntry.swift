/// One token as the token file keeps it: never the token, only its SHA-256.
package struct TokenEntry: Sendable, Codable, Equatable {
    package var name: String
    package var scope: AccessScope
    /// SHA-256 of the token's text, lowercase hex.
    package var digest: String
    /// Seconds since 1970.
    package var createdAt: Double
    package var expiresAt: Double?
    package var trusted: Bool

    package init(name: String, scope: AccessScope, digest: String, createdAt: Double, expiresAt: Double?, trusted: Bool)
    {
        self.name = name
        self.scope = scope
        self.digest = digest
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.trusted = trusted
    }

    enum CodingKeys: String, CodingKey {
        case name, scope, digest, trusted
        case createdAt = "created_at"
        case expiresAt = "expires_at"
    }

    package var principal: Principal { Principal(name: name, scope: scope, trusted: trusted) }

    package func isExpired(at now: Double) -> Bool { expiresAt.map { now >= $0 } ?? false }

    /// A token's name: what logs, the audit log and job listings show for its holder.
    package static func validateName(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= 64 else { return "a token name has 1 to 64 characters" }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "-" || scalar == "_" || scalar == "."
        }
        return allowed ? nil : "a token name has only letters, digits, '-', '_' and '.', got '\(name)'"
    }
}
