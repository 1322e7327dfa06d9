import Foundation
import ShunterCore

/// Typed reading of `ConfigValue`s with errors that name the key and the place.
///
/// Public so plugins and backends validate their own option sections (`slurm:`, `docker:`)
/// with the same vocabulary and messages as the handler files themselves.
package enum ConfigParsing {
    /// The word used for a value's kind in "expected X, got Y" messages.
    package static func kindName(_ value: ConfigValue) -> String {
        switch value {
        case .null: "nothing (null)"
        case .bool(let b, _): "the boolean \(b)"
        case .int(let i, _): "the number \(i)"
        case .double(let d, _): "the number \(d)"
        case .string(let s, _): "the text '\(s)'"
        case .list: "a list"
        case .map: "a mapping"
        }
    }

    static func wrongType(_ key: String, expected: String, got value: ConfigValue) -> ConfigError {
        ConfigError("'\(key)' must be \(expected), got \(kindName(value))", at: value.location)
    }

    package static func string(_ value: ConfigValue, key: String) throws(ConfigError) -> String {
        guard case .string(let text, _) = value else { throw wrongType(key, expected: "text", got: value) }
        guard !text.isEmpty else { throw ConfigError("'\(key)' must not be empty", at: value.location) }
        return text
    }

    package static func bool(_ value: ConfigValue, key: String) throws(ConfigError) -> Bool {
        guard case .bool(let flag, _) = value else { throw wrongType(key, expected: "true or false", got: value) }
        return flag
    }

    package static func int(_ value: ConfigValue, key: String, minimum: Int? = nil) throws(ConfigError) -> Int {
        guard case .int(let number, _) = value else { throw wrongType(key, expected: "a whole number", got: value) }
        if let minimum, number < minimum {
            throw ConfigError("'\(key)' must be at least \(minimum), got \(number)", at: value.location)
        }
        return number
    }

    /// One text or a list of texts (`language: bash` or `language: [bash, sh]`).
    package static func stringList(_ value: ConfigValue, key: String) throws(ConfigError) -> [String] {
        switch value {
        case .string: return [try string(value, key: key)]
        case .list(let items, _):
            var result: [String] = []
            for item in items { result.append(try string(item, key: "\(key) entry")) }
            return result
        default: throw wrongType(key, expected: "text or a list of texts", got: value)
        }
    }

    /// The entries of a mapping, refusing any key outside `accepted` (the first such key is
    /// thrown; `checkKeys` lists them all). `context` completes the message: "unknown key 'x'
    /// in handler 'bash-local'". `keyLocation` as in `checkKeys`.
    package static func mapping(
        _ value: ConfigValue, key: String, accepted: [String], context: String,
        keyLocation: (ConfigValue) -> SourceLocation = { $0.location }
    ) throws(ConfigError) -> [(key: String, value: ConfigValue)] {
        guard case .map(let entries, _) = value else { throw wrongType(key, expected: "a mapping", got: value) }
        if let first = checkKeys(value, key: key, accepted: accepted, context: context, keyLocation: keyLocation).first
        {
            throw first
        }
        return entries
    }

    /// One error per key of `value` outside `accepted` (or one if `value` is no mapping).
    /// `keyLocation` maps a value to the place its key was written, when the caller knows it
    /// (`ConfigDocument.keyLocation`); otherwise the value's own place is used.
    package static func checkKeys(
        _ value: ConfigValue, key: String, accepted: [String], context: String,
        keyLocation: (ConfigValue) -> SourceLocation = { $0.location }
    ) -> [ConfigError] {
        guard case .map(let entries, _) = value else { return [wrongType(key, expected: "a mapping", got: value)] }
        return entries.filter { !accepted.contains($0.key) }.map {
            unknownKey($0.key, at: keyLocation($0.value), context: context, accepted: accepted)
        }
    }

    /// `accepted` is listed in the order given: callers pass it in the order a reader expects.
    package static func unknownKey(
        _ key: String, at location: SourceLocation, context: String, accepted: [String]
    ) -> ConfigError {
        .notOneOf("unknown key '\(key)' \(context)", written: key, accepted: accepted, kind: "keys", at: location)
    }

    // MARK: Durations

    /// What reading a duration or a size found: a value, no value at all, or one beyond the
    /// bounds of `CheckedQuantity` (which gets an error of its own, naming the bound).
    package enum Reading<Value: Sendable>: Sendable {
        case value(Value)
        case invalid
        case outOfRange

        /// `.value` when there is one, else `.outOfRange`: what a `CheckedQuantity` conversion's nil means.
        package init(inRange value: Value?) {
            if let value { self = .value(value) } else { self = .outOfRange }
        }
    }

    /// `30s`, `5m`, `1h`, `1h30m`, `1d`, `250ms`, or a bare number of seconds (`90`, `1.5`);
    /// at most `CheckedQuantity.maximumDuration`.
    package static func duration(_ value: ConfigValue, key: String) throws(ConfigError) -> Duration {
        let reading: Reading<Duration>
        switch value {
        case .int(let seconds, _):
            reading = seconds < 0 ? .invalid : .init(inRange: CheckedQuantity.duration(seconds: Int64(seconds)))
        case .double(let seconds, _):
            reading = !(seconds >= 0) ? .invalid : .init(inRange: CheckedQuantity.duration(seconds: seconds))
        case .string(let text, _): reading = readDuration(text)
        default: throw wrongType(key, expected: "a duration such as 30s, 5m, 1h30m or 1d", got: value)
        }
        switch reading {
        case .value(let duration): return duration
        case .outOfRange:
            throw ConfigError(
                "'\(key)' is too long: \(kindName(value)); the longest duration accepted is \(CheckedQuantity.maximumDurationText)",
                at: value.location)
        case .invalid:
            throw ConfigError(
                "'\(key)' is not a duration: \(kindName(value)); write a number with units d, h, m, s or ms"
                    + " (30s, 5m, 1h30m, 1d) or a plain number of seconds",
                at: value.location)
        }
    }

    package static func duration(parsing text: String) -> Duration? {
        if case .value(let duration) = readDuration(text) { return duration }
        return nil
    }

    /// Reads a duration written as text; `.outOfRange` beyond `CheckedQuantity.maximumDuration`.
    package static func readDuration(_ text: String) -> Reading<Duration> {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(text) {
            guard seconds >= 0, !seconds.isNaN else { return .invalid }
            return .init(inRange: CheckedQuantity.duration(seconds: seconds))
        }
        // Largest first: units must appear in this order (1h30m, not 30m1h), each at most once.
        let units: [(suffix: String, milliseconds: Double)] = [
            ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
        ]
        // Summed as a Double: exact for every duration in range, and no overflow beyond it.
        var total: Double = 0
        var rest = Substring(text)
        var previousUnit = -1
        guard !rest.isEmpty else { return .invalid }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let amount = Double(digits) else { return .invalid }
            rest = rest.dropFirst(digits.count)
            // Longest suffix wins, so "ms" is not read as "m" followed by garbage.
            guard
                let unit = units.indices.filter({ rest.hasPrefix(units[$0].suffix) })
                    .max(by: { units[$0].suffix.count < units[$1].suffix.count }),
                unit > previousUnit
            else { return .invalid }
            previousUnit = unit
            total += (amount * units[unit].milliseconds).rounded()
            rest = rest.dropFirst(units[unit].suffix.count)
        }
        return .init(inRange: CheckedQuantity.duration(seconds: total / 1000))
    }

    /// How a duration is written back in reports: `1h30m`, `45s`, `250ms`.
    package static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "0s" }
        var parts = ""
        for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            if milliseconds >= size {
                parts += "\(milliseconds / size)\(suffix)"
                milliseconds %= size
            }
        }
        return parts
    }

    // MARK: Sizes

    /// `512M`, `2G`, `1.5G`, `64K`, or a bare number of bytes. K, M, G, T are powers of 1024
    /// (as Slurm and Docker read them); `KB`, `KiB` and lower case mean the same. At most
    /// `CheckedQuantity.maximumByteCount`.
    package static func byteSize(_ value: ConfigValue, key: String) throws(ConfigError) -> Int64 {
        let reading: Reading<Int64>
        switch value {
        case .int(let bytes, _):
            reading = bytes < 0 ? .invalid : .init(inRange: CheckedQuantity.byteCount(Int64(bytes)))
        case .string(let text, _): reading = readByteSize(text)
        default: throw wrongType(key, expected: "a size such as 512M or 2G", got: value)
        }
        switch reading {
        case .value(let bytes): return bytes
        case .outOfRange:
            throw ConfigError(
                "'\(key)' is too large: \(kindName(value)); the largest size accepted is \(CheckedQuantity.maximumByteCountText)",
                at: value.location)
        case .invalid:
            throw ConfigError(
                "'\(key)' is not a size: \(kindName(value)); write a number with unit K, M, G or T"
                    + " (512M, 2G) or a plain number of bytes",
                at: value.location)
        }
    }

    package static func byteSize(parsing text: String) -> Int64? {
        if case .value(let bytes) = readByteSize(text) { return bytes }
        return nil
    }

    /// Reads a size written as text; `.outOfRange` beyond `CheckedQuantity.maximumByteCount`.
    package static func readByteSize(_ text: String) -> Reading<Int64> {
        var body = text.trimmingCharacters(in: .whitespaces).uppercased()
        for suffix in ["IB", "B"] where body.hasSuffix(suffix) && body.count > suffix.count {
            body.removeLast(suffix.count)
            break
        }
        let multipliers: [Character: Double] = ["K": 1024, "M": 1_048_576, "G": 1_073_741_824, "T": 1_099_511_627_776]
        var multiplier: Double = 1
        if let last = body.last, let unit = multipliers[last] {
            multiplier = unit
            body.removeLast()
        }
        guard let amount = Double(body.trimmingCharacters(in: .whitespaces)), amount >= 0,
            body.first?.isNumber == true
        else { return .invalid }
        return .init(inRange: CheckedQuantity.byteCount(amount, unit: multiplier))
    }

    /// How a size is written back in reports: `2G`, `512M`, `1000`.
    package static func format(bytes: Int64) -> String {
        for (suffix, size) in [("T", Int64(1_099_511_627_776)), ("G", 1_073_741_824), ("M", 1_048_576), ("K", 1024)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(suffix)"
        }
        return "\(bytes)"
    }
}
