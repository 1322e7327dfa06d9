/// One mistake in a configuration or handler file, pointing at the place an admin must edit.
///
/// Printed the way compilers print, so editors and terminals can jump to it:
/// `handlers/10-bash.yaml:4:3: unknown key 'backnd' in handler 'bash-local'; accepted keys:
/// backend, limits, ... (did you mean 'backend'?)`
package struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Line 0 means "the file as a whole" (a missing file, an empty directory).
    package var location: SourceLocation
    package var message: String
    /// What would have been accepted instead (keys, plugin names, values), empty when the
    /// set is open-ended.
    package var accepted: [String]
    /// What `accepted` lists, for the message: "keys", "plugins", "values" ...
    package var acceptedKind: String
    /// The accepted value closest to what was written, when one is close enough to be a typo.
    package var suggestion: String?

    package init(
        _ message: String, at location: SourceLocation, accepted: [String] = [],
        acceptedKind: String = "values", suggestion: String? = nil
    ) {
        self.location = location
        self.message = message
        self.accepted = accepted
        self.acceptedKind = acceptedKind
        self.suggestion = suggestion
    }

    /// An error about a value that must be one of `accepted`; adds a did-you-mean when
    /// `written` is a near miss.
    package static func notOneOf(
        _ message: String, written: String, accepted: [String], kind: String, at location: SourceLocation
    ) -> ConfigError {
        ConfigError(
            message, at: location, accepted: accepted, acceptedKind: kind,
            suggestion: EditDistance.closest(to: written, among: accepted))
    }

    package var file: String { location.file }
    package var line: Int { location.line }
    package var column: Int { location.column }

    package var description: String {
        var text = location.line > 0 ? "\(location): \(message)" : "\(location.file): \(message)"
        if !accepted.isEmpty {
            text += "; accepted \(acceptedKind): \(accepted.joined(separator: ", "))"
        }
        if let suggestion {
            text += " (did you mean '\(suggestion)'?)"
        }
        return text
    }
}

/// All the mistakes found in a set of files, thrown where a caller wants one error value
/// (`shunter serve` refusing to start) rather than a list to print (`shunter check`).
package struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    package var errors: [ConfigError]

    package init(_ errors: [ConfigError]) { self.errors = errors }

    package var description: String {
        let noun = errors.count == 1 ? "error" : "errors"
        return (["\(errors.count) configuration \(noun):"] + errors.map(\.description))
            .joined(separator: "\n")
    }
}

/// Levenshtein distance, for did-you-mean suggestions on short words (keys, names).
package enum EditDistance {
    package static func between(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased().unicodeScalars)
        let b = Array(b.lowercased().unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// The candidate nearest to `word`, if within a third of its length (at least 1, at most 3
    /// edits): close enough to be a typo, far enough not to suggest nonsense.
    package static func closest(to word: String, among candidates: [String]) -> String? {
        let budget = max(1, min(3, word.count / 3))
        var best: (candidate: String, distance: Int)?
        for candidate in candidates where candidate != word {
            let distance = between(word, candidate)
            if distance <= budget, distance < (best?.distance ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.candidate
    }
}
