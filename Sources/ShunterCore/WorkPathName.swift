/// The one check for every name a job's request turns into a path inside the job's work
/// directory: pin names, `__as__` renames, the members of a directory pin. Every plugin that
/// writes such a name calls it before touching the file system, and admission calls it too,
/// so a request that names a path outside its directory is refused before it is journaled.
///
/// A name is a relative path of one or more components separated by `/` (Seamless writes a
/// pin named `sub/x` as the file `x` in directory `sub`). Refused: an empty name, an
/// absolute one, an empty component (`a//b`, a trailing `/`), `.` and `..` components (the
/// first names the directory itself, the second leaves it), and NUL, which no path can hold.
/// Symlinks are not this check's business: the plugins write into directories they made.
package enum WorkPathName {
    package enum Problem: Sendable, Equatable, CustomStringConvertible {
        case empty
        case nul
        case absolute
        case emptyComponent
        case currentDirectory
        case parentDirectory

        package var description: String {
            switch self {
            case .empty: "the name is empty"
            case .nul: "the name contains a NUL character"
            case .absolute: "an absolute path is not allowed; give a name relative to the job's directory"
            case .emptyComponent: "the name has an empty path component (two slashes in a row, or a trailing slash)"
            case .currentDirectory: "a '.' path component is not allowed"
            case .parentDirectory: "a '..' path component is not allowed: it would leave the job's directory"
            }
        }
    }

    /// Why `name` cannot be a path inside a job's directory, or nil when it can.
    package static func problem(with name: String) -> Problem? {
        if name.isEmpty { return .empty }
        if name.utf8.contains(0) { return .nul }
        if name.hasPrefix("/") { return .absolute }
        var worst: Problem?
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            switch component {
            // `..` wins over the others: it is the one that escapes, and the one Seamless names.
            case "..": return .parentDirectory
            case "": worst = worst ?? .emptyComponent
            case ".": worst = worst ?? .currentDirectory
            default: continue
            }
        }
        return worst
    }
}
