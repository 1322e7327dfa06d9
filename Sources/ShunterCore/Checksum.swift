/// A content checksum: 32 bytes, written as 64 lowercase hexadecimal characters.
///
/// Seamless identifies every buffer, every transformation and every result by such a value.
/// Stored as four words so that hashing and comparing one (the result cache, the in-flight
/// table) costs a few instructions, not a string compare.
package struct Checksum: Hashable, Sendable, Comparable {
    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64
    @usableFromInline let w3: UInt64

    /// Builds a checksum from exactly 32 digest bytes.
    package init<Bytes: Collection>(digest: Bytes) where Bytes.Element == UInt8 {
        precondition(digest.count == 32, "a checksum has 32 bytes, got \(digest.count)")
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in digest.enumerated() {
            words[index / 8] = (words[index / 8] << 8) | UInt64(byte)
        }
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
    }

    /// Parses 64 hexadecimal characters (either case). Throws `ChecksumError.malformed`
    /// with the offending text, so an HTTP route can answer 400 with it as is.
    package init(hex text: some StringProtocol) throws(ChecksumError) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 64 else { throw .malformed(String(text)) }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, char) in utf8.enumerated() {
            guard let nibble = Checksum.nibble(char) else { throw .malformed(String(text)) }
            words[index / 16] = (words[index / 16] << 4) | UInt64(nibble)
        }
        (w0, w1, w2, w3) = (words[0], words[1], words[2], words[3])
    }

    /// The 32 digest bytes.
    package var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return out
    }

    /// 64 lowercase hexadecimal characters, the form every Seamless API speaks.
    package var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for word in [w0, w1, w2, w3] {
            for shift in stride(from: 60, through: 0, by: -4) {
                out.append(digits[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The first `count` hex characters, for log lines and directory names.
    package func prefix(_ count: Int) -> String { String(hex.prefix(count)) }

    package static func < (lhs: Checksum, rhs: Checksum) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }

    private static func nibble(_ char: UInt8) -> UInt8? {
        switch char {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): char - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): char - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): char - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Checksum: CustomStringConvertible {
    package var description: String { hex }
}

extension Checksum: Codable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = try Checksum(hex: container.decode(String.self))
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

package enum ChecksumError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)

    package var description: String {
        switch self {
        case .malformed(let text):
            let shown = text.count > 80 ? String(text.prefix(80)) + "…" : text
            return "not a checksum: '\(shown)' (expected 64 hexadecimal characters)"
        }
    }
}
