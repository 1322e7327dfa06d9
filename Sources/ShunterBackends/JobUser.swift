#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The user a handler's local jobs run as (`local: {run_as: NAME}`), resolved from the
/// password database when the handler is loaded.
package struct JobUser: Sendable, Hashable, CustomStringConvertible {
    package var name: String
    package var uid: uid_t
    /// The user's primary group; the job gets it as its only group.
    package var gid: gid_t

    package var description: String { "\(name) (uid \(uid), gid \(gid))" }

    package init(name: String, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    /// A user name, or a number taken as a uid; nil when the password database has no such user.
    package static func lookUp(_ nameOrID: String) -> JobUser? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        let found: Bool
        if let uid = uid_t(nameOrID) {
            found = getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0 && result != nil
        } else {
            found = getpwnam_r(nameOrID, &entry, &buffer, buffer.count, &result) == 0 && result != nil
        }
        guard found else { return nil }
        return JobUser(name: String(cString: entry.pw_name), uid: entry.pw_uid, gid: entry.pw_gid)
    }
}
