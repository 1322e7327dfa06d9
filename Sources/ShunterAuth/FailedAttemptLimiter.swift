/// Slows down guessing: each client address may fail to authenticate `burst` times, then once
/// per `interval` (a token bucket); a request over that is refused with 429 before its token
/// is even looked at. A pure value: the caller passes the time, the tests too.
package struct FailedAttemptLimiter: Sendable {
    package let burst: Int
    /// Seconds for one more attempt to be allowed.
    package let interval: Double
    /// Addresses remembered at most: the oldest goes first (a flood of addresses cannot grow
    /// the broker's memory without bound).
    package let capacity: Int

    private var buckets: [String: Bucket] = [:]
    private var order: [String] = []

    private struct Bucket {
        var tokens: Double
        var updatedAt: Double
    }

    package init(burst: Int = 10, interval: Double = 1, capacity: Int = 10_000) {
        self.burst = max(1, burst)
        self.interval = interval > 0 ? interval : 1
        self.capacity = max(1, capacity)
    }

    /// Whether `client` may try to authenticate now.
    package func allows(_ client: String, at now: Double) -> Bool {
        guard let bucket = buckets[client] else { return true }
        return refilled(bucket, at: now).tokens >= 1
    }

    /// Counts a failed attempt of `client`.
    package mutating func recordFailure(_ client: String, at now: Double) {
        var bucket = buckets[client].map { refilled($0, at: now) } ?? Bucket(tokens: Double(burst), updatedAt: now)
        bucket.tokens = max(0, bucket.tokens - 1)
        if buckets[client] == nil {
            order.append(client)
            if order.count > capacity { buckets[order.removeFirst()] = nil }
        }
        buckets[client] = bucket
    }

    /// Seconds until `client` may try again (0 when it may now): the `Retry-After` of a 429.
    package func retryAfter(_ client: String, at now: Double) -> Double {
        guard let bucket = buckets[client] else { return 0 }
        let tokens = refilled(bucket, at: now).tokens
        return tokens >= 1 ? 0 : (1 - tokens) * interval
    }

    private func refilled(_ bucket: Bucket, at now: Double) -> Bucket {
        let elapsed = max(0, now - bucket.updatedAt)
        return Bucket(
            tokens: min(Double(burst), bucket.tokens + elapsed / interval), updatedAt: max(now, bucket.updatedAt))
    }
}
