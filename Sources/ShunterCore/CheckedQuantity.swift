/// Turning numbers that come from outside (a request, a config file, the command line, a file
/// a job could have written) into durations and byte counts without a conversion that can
/// trap: `Int64(someDouble)`, `Duration.seconds(someDouble)` and `n * unit` all crash the
/// process when the value is out of range, and a crash on input is never an answer.
///
/// Each conversion returns nil for a value that is not finite, is negative, or lies beyond the
/// bound; callers turn that nil into an error that names the bound.
package enum CheckedQuantity {
    /// The longest duration anything accepts: 100 years. Far beyond any real timeout, and far
    /// enough below what a `Duration` or a clock instant holds (about 292 years of
    /// nanoseconds from boot) that adding it to now, plus a grace period, cannot overflow.
    package static let maximumDuration: Duration = .seconds(maximumDurationSeconds)
    package static let maximumDurationSeconds: Int64 = 36_500 * 86_400
    /// The bound as a reader writes it.
    package static let maximumDurationText = "36500d (100 years)"

    /// The largest byte count anything accepts: 1 EiB (2^60 bytes, `1048576T`), beyond any
    /// machine's memory and eight times below `Int64.max`, so that sums of a few stay in range.
    package static let maximumByteCount: Int64 = 1 << 60
    package static let maximumByteCountText = "1048576T (1 EiB)"

    /// `seconds` as a duration (to the nearest millisecond), or nil when it is not a finite
    /// number from 0 to `maximumDuration`.
    package static func duration(seconds: Double) -> Duration? {
        guard seconds.isFinite, seconds >= 0, seconds <= Double(maximumDurationSeconds) else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// `seconds` as a duration, or nil when it lies outside 0...`maximumDuration`.
    package static func duration(seconds: Int64) -> Duration? {
        guard seconds >= 0, seconds <= maximumDurationSeconds else { return nil }
        return .seconds(seconds)
    }

    /// `amount × unit` bytes (rounded down), or nil when it is not a finite number from 0 to
    /// `maximumByteCount`.
    package static func byteCount(_ amount: Double, unit: Double = 1) -> Int64? {
        let bytes = amount * unit
        guard bytes.isFinite, bytes >= 0, bytes <= Double(maximumByteCount) else { return nil }
        return Int64(bytes)
    }

    /// `amount × unit` bytes, or nil when it is negative or beyond `maximumByteCount`.
    package static func byteCount(_ amount: Int64, unit: Int64 = 1) -> Int64? {
        let (bytes, overflow) = amount.multipliedReportingOverflow(by: unit)
        guard !overflow, bytes >= 0, bytes <= maximumByteCount else { return nil }
        return bytes
    }
}
