#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the file a command name runs, as a shell would: a name holding a slash is a path
/// (relative ones to the work directory), any other is looked up in the directories of the
/// job's own `PATH`, else the broker's, else the system's usual ones.
enum ExecutableSearch {
    static let defaultSearchPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

    /// The path to hand to exec, or nil when no directory holds an executable of that name.
    static func resolve(_ name: String, searchPath: String?) -> String? {
        if name.contains("/") { return name }
        let path = searchPath ?? getenv("PATH").map { String(cString: $0) } ?? defaultSearchPath
        for directory in path.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = directory.hasSuffix("/") ? "\(directory)\(name)" : "\(directory)/\(name)"
            if isExecutableFile(candidate) { return candidate }
        }
        return nil
    }

    private static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}
