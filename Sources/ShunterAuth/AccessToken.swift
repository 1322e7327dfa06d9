import Crypto
import Foundation

/// A token's secret: 32 random bytes, shown once as `shunter_` and their base64url text. The
/// broker keeps only its SHA-256 (`digest`): a copy of the token file gives nobody access.
package struct AccessToken: Sendable, Equatable {
    package let text: String

    package static let prefix = "shunter_"

    package init(text: String) {
        self.text = text
    }

    /// A new token from the system's random source.
    package static func generate() -> AccessToken {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return AccessToken(text: prefix + encoded)
    }

    /// The SHA-256 of the token's text, in lowercase hex: what the token file stores.
    package var digest: String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Equal texts, compared in time that does not depend on where they differ (only on their
    /// lengths, which are public: every digest has 64 characters).
    package static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
