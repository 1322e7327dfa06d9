import Foundation
import ShunterCore

/// Where buffers live, addressed by their checksum.
///
/// Implementations: `FileBufferStore` (embedded, hashserver's prefix layout on disk) and
/// `RemoteBufferStore` (an external hashserver over HTTP). Every implementation verifies that
/// a buffer hashes to its checksum before it stores it: a store never holds a lie.
package protocol BufferStore: Sendable {
    /// The hash this store checks buffers against.
    var hashAlgorithm: HashAlgorithm { get }

    /// The buffer, or nil when the store does not have it. Waits for a promised buffer up
    /// to the store's promise timeout, then throws `BufferStoreError.promiseTimedOut`.
    func get(_ checksum: Checksum) async throws -> [UInt8]?

    /// Stores a buffer and returns its checksum. When `expected` is given and the buffer does
    /// not hash to it, throws `BufferStoreError.checksumMismatch` and stores nothing.
    @discardableResult
    func put(_ buffer: [UInt8], expected: Checksum?) async throws -> Checksum

    /// Whether each checksum is present (or promised).
    func has(_ checksums: [Checksum]) async throws -> [Bool]

    /// The length of a stored buffer, or nil when absent.
    func length(_ checksum: Checksum) async throws -> Int?

    /// Announces that a buffer will arrive; `get` waits for it instead of answering absent.
    func promise(_ checksum: Checksum) async throws

    /// Writes the buffer to a file at `path` (creating or replacing it). Stores on local
    /// disk override this to copy without loading the buffer into memory.
    func materialize(_ checksum: Checksum, to path: String) async throws

    /// Like `has`, but a promise does not count (hashserver's `/has-now`).
    /// Default (BufferStoreDefaults.swift): `has`.
    func hasNow(_ checksums: [Checksum]) async throws -> [Bool]

    /// Stores a buffer that arrives in chunks (an HTTP upload). Throws
    /// `BufferStoreError.checksumMismatch` and stores nothing when it does not hash to
    /// `expected`. Default: collects the chunks and calls `put`; the file store writes them
    /// to disk as they come, so a large upload is never whole in memory.
    @discardableResult
    func put<Chunks: AsyncSequence>(streaming chunks: Chunks, expected: Checksum) async throws -> Checksum
    where Chunks.Element == [UInt8]

    /// Stores what the open file `fd` holds from its offset to its end (a job's result) and
    /// returns its checksum. More than `limit` bytes: throws `BufferStoreError.tooLarge` and
    /// stores nothing. The caller keeps (and closes) `fd`. Default (BufferStoreDefaults.swift):
    /// reads it whole off the event loops and calls `put`; the file store hashes while copying
    /// into its temporary file, so the buffer is never whole in memory.
    @discardableResult
    func put(contentsOf fd: Int32, limit: Int) async throws -> Checksum
}

/// A store whose buffers are files on local disk, which a reader can stream in chunks instead
/// of loading whole (the hashserver GET route does, for large buffers).
package protocol FileBackedBufferStore: BufferStore {
    /// The buffer's file opened for reading, or nil when absent; waits for uploads in flight
    /// and promises as `get` does.
    func open(_ checksum: Checksum) async throws -> StoredBufferFile?
}

package enum BufferStoreError: Error, Sendable, CustomStringConvertible {
    case checksumMismatch(expected: Checksum, actual: Checksum)
    case notFound(Checksum)
    case promiseTimedOut(Checksum, seconds: Double)
    case io(path: String, operation: String, errno: Int32)
    case remote(url: String, status: Int, message: String)
    /// A buffer larger than the limit its writer set.
    case tooLarge(limit: Int)

    package var description: String {
        switch self {
        case .checksumMismatch(let expected, let actual):
            "buffer refused: it hashes to \(actual), not to \(expected)"
        case .notFound(let checksum):
            "buffer \(checksum) is not in the store"
        case .promiseTimedOut(let checksum, let seconds):
            "buffer \(checksum) was promised but did not arrive within \(seconds) s"
        case .io(let path, let operation, let code):
            "\(operation) \(path) failed: \(String(cString: strerror(code)))"
        case .remote(let url, let status, let message):
            "buffer server \(url) answered \(status): \(message)"
        case .tooLarge(let limit):
            "buffer refused: it is larger than \(limit) bytes"
        }
    }
}
