import ShunterCore

/// Problems with a buffer that a file store finds on disk (as opposed to a request's fault).
package enum StoredBufferError: Error, Sendable, CustomStringConvertible {
    /// The file named after a checksum does not hash to it (disk corruption, or someone
    /// wrote into the store by hand).
    case corrupt(path: String, expected: Checksum, actual: Checksum)
    /// Only a compressed copy (`.zst`/`.gz`, written by hashserver for a client that sent
    /// `Content-Encoding`) exists; Shunter's store does not decompress.
    case compressedOnly(path: String)

    package var description: String {
        switch self {
        case .corrupt(let path, let expected, let actual):
            "file corruption: \(path) hashes to \(actual), not to its name \(expected)"
        case .compressedOnly(let path):
            "only a compressed copy \(path) exists; Shunter reads uncompressed buffers only (decompress it in place to use it)"
        }
    }
}
