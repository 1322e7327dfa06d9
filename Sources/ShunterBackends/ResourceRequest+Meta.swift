import Foundation
import ShunterCore
import ShunterHandlers

/// Reading a job's resource request from its transformation's `__meta__`.
///
/// Seamless itself sets only `ncores` (`seamless-run --ncores`); the other keys are Shunter's,
/// chosen to read like Slurm's options. Every key is optional and overrides the handler's
/// default of the same name; keys this list does not name (`transformer_path`, `local`, ...)
/// are Seamless's own and ignored.
///
/// | key | value |
/// |---|---|
/// | `ncores` (or `cores`) | whole number ≥ 1; `-1` (Seamless: "all cores") keeps the handler default |
/// | `memory` | `4G`, `500M`, `1.5G`; a plain number is MiB, as in Slurm's `--mem` |
/// | `walltime` | `1h30m`, `90m`, `01:30:00`, `2-00:00:00`; a plain number is seconds |
/// | `gpus` (or `ngpus`) | whole number ≥ 0 |
/// | `partition`, `account`, `qos` | text |
/// | `sbatch` | one option or a list of them, e.g. `--constraint=avx2`, added as `#SBATCH` lines |
extension ResourceRequest {
    package static let metaKeys = [
        "ncores", "cores", "memory", "walltime", "gpus", "ngpus", "partition", "account", "qos", "sbatch",
    ]

    package init(meta: [String: JSONValue], defaults: ResourceRequest) throws(ResourceRequestError) {
        self = defaults
        if let value = meta["ncores"] ?? meta["cores"], !value.isNull {
            let cores = try Self.wholeNumber(value, key: "ncores", minimum: -1)
            if cores == 0 {
                throw ResourceRequestError(key: "ncores", value: value, expected: "a whole number of at least 1")
            }
            if cores > 0 { self.cores = cores }
        }
        if let value = meta["memory"], !value.isNull {
            memoryBytes = try Self.memory(value)
        }
        if let value = meta["walltime"], !value.isNull {
            walltime = try Self.walltime(value)
        }
        if let value = meta["gpus"] ?? meta["ngpus"], !value.isNull {
            gpus = try Self.wholeNumber(value, key: "gpus", minimum: 0)
        }
        if let value = meta["partition"], !value.isNull { partition = try Self.text(value, key: "partition") }
        if let value = meta["account"], !value.isNull { account = try Self.text(value, key: "account") }
        if let value = meta["qos"], !value.isNull { qos = try Self.text(value, key: "qos") }
        if let value = meta["sbatch"], !value.isNull {
            let lines: [String]
            switch value {
            case .string(let line): lines = [line]
            case .array(let items):
                lines = try items.map { item throws(ResourceRequestError) in try Self.text(item, key: "sbatch") }
            default:
                throw ResourceRequestError(
                    key: "sbatch", value: value, expected: "an option such as '--constraint=avx2' or a list of them")
            }
            for line in lines where line.contains("\n") || !line.hasPrefix("-") {
                throw ResourceRequestError(
                    key: "sbatch", value: .string(line),
                    expected: "options starting with '-' on one line each, such as '--constraint=avx2'")
            }
            extraDirectives += lines
        }
    }

    private static func wholeNumber(_ value: JSONValue, key: String, minimum: Int) throws(ResourceRequestError) -> Int {
        var number: Int?
        switch value {
        case .int(let n): number = Int(exactly: n)
        case .double(let d) where d.rounded() == d: number = Int(exactly: d)
        case .string(let s): number = Int(s.trimmingCharacters(in: .whitespaces))
        default: break
        }
        guard let number, number >= minimum else {
            throw ResourceRequestError(
                key: key, value: value, expected: "a whole number of at least \(max(minimum, 0))")
        }
        return number
    }

    private static func text(_ value: JSONValue, key: String) throws(ResourceRequestError) -> String {
        guard let text = value.stringValue, !text.isEmpty, !text.contains("\n") else {
            throw ResourceRequestError(key: key, value: value, expected: "a non-empty text on one line")
        }
        return text
    }

    static func memory(_ value: JSONValue) throws(ResourceRequestError) -> Int64 {
        let mebibyte: Int64 = 1 << 20
        let expected = "a size such as 4G or 500M (a plain number is MiB)"
        let reading: ConfigParsing.Reading<Int64>
        switch value {
        case .int(let n) where n > 0:
            reading = .init(inRange: CheckedQuantity.byteCount(n, unit: mebibyte))
        case .bigInt(let text) where !text.hasPrefix("-"):
            reading = .outOfRange
        case .double(let d) where d > 0:
            reading = .init(inRange: CheckedQuantity.byteCount(d, unit: Double(mebibyte)))
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let n = Double(trimmed), n > 0 {
                reading = .init(inRange: CheckedQuantity.byteCount(n, unit: Double(mebibyte)))
            } else {
                reading = ConfigParsing.readByteSize(trimmed)
            }
        default: reading = .invalid
        }
        switch reading {
        case .value(let bytes) where bytes > 0: return bytes
        case .outOfRange:
            throw ResourceRequestError(
                key: "memory", value: value, expected: expected + ", at most " + CheckedQuantity.maximumByteCountText)
        default:
            throw ResourceRequestError(key: "memory", value: value, expected: expected)
        }
    }

    static func walltime(_ value: JSONValue) throws(ResourceRequestError) -> Duration {
        let expected = "a duration such as 1h30m, 01:30:00 or 2-00:00:00 (a plain number is seconds)"
        let reading: ConfigParsing.Reading<Duration>
        switch value {
        case .int(let n) where n > 0: reading = .init(inRange: CheckedQuantity.duration(seconds: n))
        case .bigInt(let text) where !text.hasPrefix("-"): reading = .outOfRange
        case .double(let d) where d > 0: reading = .init(inRange: CheckedQuantity.duration(seconds: d))
        case .string(let text):
            let slurm = slurmTime(text)
            if case .invalid = slurm { reading = ConfigParsing.readDuration(text) } else { reading = slurm }
        default: reading = .invalid
        }
        switch reading {
        case .value(let duration) where duration > .zero: return duration
        case .outOfRange:
            throw ResourceRequestError(
                key: "walltime", value: value, expected: expected + ", at most " + CheckedQuantity.maximumDurationText)
        default:
            throw ResourceRequestError(key: "walltime", value: value, expected: expected)
        }
    }

    /// Slurm's own time formats with colons: `mm:ss`, `hh:mm:ss`, `d-hh`, `d-hh:mm`, `d-hh:mm:ss`.
    /// `.invalid` for text in none of them.
    static func slurmTime(_ text: String) -> ConfigParsing.Reading<Duration> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.contains(":") || trimmed.contains("-") else { return .invalid }
        // Each field is read as a Double (exact for any whole number below 2^53, and no
        // overflow above it); the sum is checked against the bound once.
        func field(_ text: Substring) -> Double? {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Double(text)
        }
        var days: Double = 0
        var clock = Substring(trimmed)
        let hasDays = trimmed.contains("-")
        if let dash = trimmed.firstIndex(of: "-") {
            guard let d = field(trimmed[..<dash]) else { return .invalid }
            days = d
            clock = trimmed[trimmed.index(after: dash)...]
        }
        var numbers: [Double] = []
        for part in clock.split(separator: ":", omittingEmptySubsequences: false) {
            guard let number = field(part) else { return .invalid }
            numbers.append(number)
        }
        let seconds: Double
        switch (hasDays, numbers.count) {
        case (false, 2): seconds = numbers[0] * 60 + numbers[1]
        case (false, 3), (true, 3): seconds = numbers[0] * 3600 + numbers[1] * 60 + numbers[2]
        case (true, 1): seconds = numbers[0] * 3600
        case (true, 2): seconds = numbers[0] * 3600 + numbers[1] * 60
        default: return .invalid
        }
        return .init(inRange: CheckedQuantity.duration(seconds: days * 86_400 + seconds))
    }
}

/// A `__meta__` resource entry Shunter cannot read; the job fails before it is submitted.
package struct ResourceRequestError: Error, Sendable, CustomStringConvertible {
    package var key: String
    package var value: JSONValue
    package var expected: String

    package var description: String {
        "__meta__ '\(key)': expected \(expected), got \(String(decoding: CanonicalJSON.encodeCompact(value), as: UTF8.self))"
    }
}

extension ResourceRequest {
    /// This request with `defaults` filling what it leaves open; extra directives add up
    /// (the defaults first, so that a job's own option wins where Slurm takes the last one).
    package func filling(from defaults: ResourceRequest) -> ResourceRequest {
        ResourceRequest(
            cores: cores ?? defaults.cores, memoryBytes: memoryBytes ?? defaults.memoryBytes,
            walltime: walltime ?? defaults.walltime, gpus: gpus ?? defaults.gpus,
            partition: partition ?? defaults.partition, account: account ?? defaults.account, qos: qos ?? defaults.qos,
            extraDirectives: defaults.extraDirectives + extraDirectives)
    }
}
