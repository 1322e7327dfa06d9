import Crypto
import Foundation // DataProtocol

/// The hash that turns a buffer into its `Checksum`.
///
/// Seamless 1.x uses SHA-256; Seamless 0.x clients use SHA3-256. One broker speaks one of them
/// (`hash:` in the broker config), because a store mixing both would answer a 0.x client with
/// buffers it can never verify.
package enum HashAlgorithm: String, Sendable, Codable, CaseIterable {
    case sha256 = "sha-256"
    case sha3_256 = "sha3-256"

    package func checksum<Bytes: DataProtocol>(of buffer: Bytes) -> Checksum {
        switch self {
        case .sha256: Checksum(digest: Array(SHA256.hash(data: buffer)))
        case .sha3_256: Checksum(digest: Array(SHA3_256.hash(data: buffer)))
        }
    }

    /// Incremental hashing, for buffers that arrive or are read in chunks.
    package func makeHasher() -> Hasher { Hasher(algorithm: self) }

    package struct Hasher: Sendable {
        private var sha256: SHA256?
        private var sha3: SHA3_256?

        init(algorithm: HashAlgorithm) {
            switch algorithm {
            case .sha256: sha256 = SHA256()
            case .sha3_256: sha3 = SHA3_256()
            }
        }

        package mutating func update<Bytes: DataProtocol>(_ chunk: Bytes) {
            sha256?.update(data: chunk)
            sha3?.update(data: chunk)
        }

        package func finalize() -> Checksum {
            if let sha256 { return Checksum(digest: Array(sha256.finalize())) }
            return Checksum(digest: Array(sha3!.finalize()))
        }
    }
}
