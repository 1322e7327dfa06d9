import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Resolves a path inside a job's work directory as the kernel would, one component at a time,
/// but refuses every step that leaves the directory: what a job wrote is read on the host (a
/// container job's work directory is a bind mount), so a `RESULT` that is a symbolic link to
/// `/etc/shadow`, or a device node made inside a container, must never be read.
///
/// The one place that decides whether a path a job made may be read by the broker.
struct ContainedPath {
    /// The job's directory with every symbolic link resolved (`realpath`).
    let root: String
    /// Shown in errors for `root` (`RESULT` lives in the job's `work/`).
    let rootName: String

    /// Symbolic links followed for one path before it counts as a loop (Linux's own limit).
    static let maxLinks = 40

    init(root: String, rootName: String = "the job's work directory") throws {
        guard let resolved = realpath(root, nil) else {
            throw JobFailure(.internalError, "cannot resolve \(root): \(String(cString: strerror(errno)))")
        }
        defer { free(resolved) }
        self.root = String(cString: resolved)
        self.rootName = rootName
    }

    /// What a path resolved to.
    struct Resolved: Equatable {
        /// Absolute, without symbolic links, inside `root`.
        var path: String
        var isDirectory: Bool
    }

    /// Resolves `relative` (a path under `root`, as the job named it) to a regular file or a
    /// directory inside `root`; nil when nothing is there (a link to nothing included). Throws a `badResult` failure naming `shownAs` when a symbolic link
    /// leads outside, loops, or the path is neither a regular file nor a directory (a FIFO, a
    /// socket, a device node).
    func resolve(_ relative: String, shownAs: String) throws -> Resolved? {
        var pending = Self.components(relative)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            if component == ".." {
                guard !resolved.isEmpty else { throw outside(shownAs, target: relative) }
                resolved.removeLast()
                continue
            }
            let path = absolute(resolved + [component])
            var status = stat()
            guard lstat(path, &status) == 0 else {
                if errno == ENOENT || errno == ENOTDIR { return nil }
                throw JobFailure(.badResult, "cannot read \(shownAs): \(path): \(String(cString: strerror(errno)))")
            }
            if (status.st_mode & S_IFMT) == S_IFLNK {
                links += 1
                guard links <= Self.maxLinks else {
                    throw JobFailure(.badResult, "\(shownAs) is a loop of symbolic links")
                }
                let target = try Self.readLink(path, shownAs: shownAs)
                if target.hasPrefix("/") {
                    // Only a link that names this very directory from the file system's root
                    // stays inside; anything else (a container's own paths included) is outside.
                    let parts = Self.components(target)
                    let rootParts = Self.components(root)
                    guard parts.count >= rootParts.count, Array(parts.prefix(rootParts.count)) == rootParts else {
                        throw outside(shownAs, target: target)
                    }
                    resolved = []
                    pending = Array(parts.dropFirst(rootParts.count)) + pending
                } else {
                    pending = Self.components(target) + pending
                }
                continue
            }
            resolved.append(component)
        }
        let path = absolute(resolved)
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw JobFailure(.badResult, "cannot read \(shownAs): \(String(cString: strerror(errno)))")
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return Resolved(path: path, isDirectory: false)
        case S_IFDIR: return Resolved(path: path, isDirectory: true)
        default:
            throw JobFailure(
                .badResult,
                "\(shownAs) is neither a regular file nor a directory (a FIFO, socket or device node), which is never read"
            )
        }
    }

    /// Opens a file `resolve` returned, refusing a symbolic link or anything but a regular file
    /// put in its place since (`O_NOFOLLOW`, `O_NONBLOCK` so a FIFO cannot hang the broker).
    /// The caller closes the descriptor.
    static func openRegularFile(_ resolved: Resolved, shownAs: String) throws -> (fd: Int32, size: Int) {
        let fd = open(resolved.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw JobFailure(.badResult, "cannot read \(shownAs): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(fd, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_size >= 0 else {
            close(fd)
            throw JobFailure(
                .badResult, "\(shownAs) changed into something other than a regular file while it was read")
        }
        return (fd, Int(status.st_size))
    }

    private func outside(_ shownAs: String, target: String) -> JobFailure {
        JobFailure(
            .badResult,
            "\(shownAs) is a symbolic link to '\(target)', outside \(rootName): a result is read only from files the job "
                + "wrote there (links that stay inside it are followed, as Seamless does)")
    }

    private func absolute(_ components: [String]) -> String {
        components.isEmpty ? root : root + "/" + components.joined(separator: "/")
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    private static func readLink(_ path: String, shownAs: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count >= 0 else {
            throw JobFailure(.badResult, "cannot read \(shownAs): \(String(cString: strerror(errno)))")
        }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
