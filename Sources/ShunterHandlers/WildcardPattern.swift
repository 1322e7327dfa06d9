/// A shell-style name pattern: `*` matches any run of characters (also `/` and `:`, so
/// `rpbs/*` takes every image of that namespace and `ubuntu:*` every tag), `?` exactly one.
/// Everything else matches itself, case-sensitively, over the whole name.
package struct WildcardPattern: Sendable, Hashable, CustomStringConvertible {
    package let text: String
    private let scalars: [Unicode.Scalar]
    private let isLiteral: Bool

    package init(_ text: String) {
        self.text = text
        self.scalars = Array(text.unicodeScalars)
        self.isLiteral = !text.unicodeScalars.contains { $0 == "*" || $0 == "?" }
    }

    package var description: String { text }

    /// Linear-time greedy matching with one backtrack point (the last `*`), the usual glob
    /// algorithm: no recursion, no allocation beyond the name's scalars.
    package func matches(_ name: String) -> Bool {
        if isLiteral { return name == text }
        let subject = Array(name.unicodeScalars)
        var p = 0
        var s = 0
        var starAt = -1
        var resumeAt = 0
        while s < subject.count {
            if p < scalars.count, scalars[p] != "*", scalars[p] == "?" || scalars[p] == subject[s] {
                p += 1
                s += 1
            } else if p < scalars.count, scalars[p] == "*" {
                starAt = p
                resumeAt = s
                p += 1
            } else if starAt >= 0 {
                p = starAt + 1
                resumeAt += 1
                s = resumeAt
            } else {
                return false
            }
        }
        while p < scalars.count, scalars[p] == "*" { p += 1 }
        return p == scalars.count
    }
}
