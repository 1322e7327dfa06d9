import Foundation
import ShunterStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The broker's tokens, in one owner-only JSON file under its root (`auth/tokens.json`).
///
/// `shunter token add|list|revoke` change the file while the broker runs (each change under
/// an exclusive lock, written to a temporary file and renamed into place); the broker notices
/// by the file's identity (inode, size, modification time), checked with one `stat` per
/// authentication, and reads it again.
package final class TokenRegistry: Sendable {
    package let path: String
    private let cache = Mutex<(stamp: FileStamp?, entries: [TokenEntry])>((nil, []))

    package init(path: String) {
        self.path = path
    }

    /// The result of presenting a token.
    package enum Verdict: Sendable, Equatable {
        case accepted(Principal)
        case expired(name: String)
        case unknown
    }

    /// Looks a presented token up. Every entry is compared, in constant time, whatever
    /// matches: how long this takes says nothing of which digest is close.
    package func authenticate(_ presented: String, now: Double = Date().timeIntervalSince1970) throws(TokenFileError)
        -> Verdict
    {
        let digest = AccessToken(text: presented).digest
        var found: TokenEntry?
        for entry in try current() where AccessToken.constantTimeEquals(entry.digest, digest) {
            found = entry
        }
        guard let found else { return .unknown }
        if found.isExpired(at: now) { return .expired(name: found.name) }
        return .accepted(found.principal)
    }

    /// Whether any token exists (a broker with none cannot authenticate anyone).
    package func isEmpty() throws(TokenFileError) -> Bool { try current().isEmpty }

    package func list() throws(TokenFileError) -> [TokenEntry] { try current() }

    /// Adds a token named `name` and returns it: the only time its text exists outside its
    /// holder. A name already in use is refused (revoke it first).
    package func add(
        name: String, scope: AccessScope, expiresAfter seconds: Double? = nil, trusted: Bool = false,
        now: Double = Date().timeIntervalSince1970
    ) throws(TokenFileError) -> AccessToken {
        if let problem = TokenEntry.validateName(name) { throw TokenFileError(path: path, problem) }
        let token = AccessToken.generate()
        try change { entries throws(TokenFileError) in
            guard !entries.contains(where: { $0.name == name }) else {
                throw TokenFileError(
                    path: path, "a token named '\(name)' exists; revoke it first (shunter token revoke \(name))")
            }
            entries.append(
                TokenEntry(
                    name: name, scope: scope, digest: token.digest, createdAt: now,
                    expiresAt: seconds.map { now + $0 }, trusted: trusted))
        }
        return token
    }

    /// Removes the token named `name`; false when there is none.
    @discardableResult
    package func revoke(name: String) throws(TokenFileError) -> Bool {
        var removed = false
        try change { entries throws(TokenFileError) in
            let before = entries.count
            entries.removeAll { $0.name == name }
            removed = entries.count != before
        }
        return removed
    }

    // MARK: - The file

    private func current() throws(TokenFileError) -> [TokenEntry] {
        let stamp = FileStamp(path: path)
        if let cached = cache.withLock({ $0.stamp == stamp ? $0.entries : nil }) { return cached }
        let entries = try read()
        cache.withLock { $0 = (stamp, entries) }
        return entries
    }

    private func read() throws(TokenFileError) -> [TokenEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw TokenFileError(path: path, "cannot be read; the broker must own it (mode 600)")
            }
            return []
        }
        do {
            return try JSONDecoder().decode(TokenFileContents.self, from: data).tokens
        } catch {
            throw TokenFileError(
                path: path, "is not a valid token file (\(error)); restore it or remove it and add tokens again")
        }
    }

    /// Applies `body` to the entries under the file's lock and writes the result in place.
    private func change(_ body: (inout [TokenEntry]) throws(TokenFileError) -> Void) throws(TokenFileError) {
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TokenFileError(path: path, "cannot create its directory: \(error)")
        }
        let lockFD = open(path + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFD >= 0 else {
            throw TokenFileError(path: path, "cannot open its lock: \(String(cString: strerror(errno)))")
        }
        defer { close(lockFD) }
        guard flock(lockFD, LOCK_EX) == 0 else {
            throw TokenFileError(path: path, "cannot lock it: \(String(cString: strerror(errno)))")
        }
        var entries = try read()
        try body(&entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(TokenFileContents(tokens: entries)) + Data("\n".utf8)
        } catch {
            throw TokenFileError(path: path, "cannot be encoded: \(error)")
        }
        try replaceFile(with: data)
    }

    /// Written beside the file and renamed over it (`FileSystem.writeAtomically`).
    private func replaceFile(with data: Data) throws(TokenFileError) {
        do {
            try FileSystem.writeAtomically([UInt8](data), to: path, mode: 0o600)
        } catch {
            throw TokenFileError(path: path, "cannot replace it: \(error)")
        }
        cache.withLock { $0 = (nil, []) }
    }
}

private struct TokenFileContents: Codable {
    var tokens: [TokenEntry]
}

/// What identifies one version of a file without reading it.
private struct FileStamp: Equatable {
    var inode: UInt64
    var size: Int64
    var seconds: Int
    var nanoseconds: Int

    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        inode = UInt64(status.st_ino)
        size = Int64(status.st_size)
        seconds = Int(status.st_mtim.tv_sec)
        nanoseconds = Int(status.st_mtim.tv_nsec)
    }
}

/// A token file that cannot be read or written, with the path and what to do.
package struct TokenFileError: Error, Sendable, CustomStringConvertible {
    package let path: String
    package let problem: String

    package init(path: String, _ problem: String) {
        self.path = path
        self.problem = problem
    }

    package var description: String { "\(path): \(problem)" }
}
