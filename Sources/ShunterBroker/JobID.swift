/// A job's number in the journal. Numbers only grow, so they order jobs by submission and
/// stay valid across broker restarts.
package struct JobID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    package let rawValue: Int64

    package init(_ rawValue: Int64) {
        self.rawValue = rawValue
    }

    /// Accepts `42` and `job-42`, the form the CLI and the API print.
    package init?(_ text: some StringProtocol) {
        let text = String(text)
        let digits = text.hasPrefix("job-") ? String(text.dropFirst(4)) : text
        guard let value = Int64(digits), value > 0 else { return nil }
        rawValue = value
    }

    package var description: String { "job-\(rawValue)" }

    package static func < (lhs: JobID, rhs: JobID) -> Bool { lhs.rawValue < rhs.rawValue }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = JobID(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a job id: \(text)")
        }
        self = id
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
