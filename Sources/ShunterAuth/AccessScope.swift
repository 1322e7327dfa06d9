/// What a token allows. Each scope includes the ones before it.
package enum AccessScope: String, Sendable, Codable, CaseIterable, Comparable {
    /// Buffers, results, and the status of the holder's own jobs.
    case read
    /// Also: upload buffers, run and submit transformations, cancel the holder's own jobs,
    /// write the database route as the Seamless client does.
    case submit
    /// Everything: every principal's jobs, tokens over the API.
    case admin

    package static func < (lhs: AccessScope, rhs: AccessScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    package func allows(_ needed: AccessScope) -> Bool { self >= needed }
}
