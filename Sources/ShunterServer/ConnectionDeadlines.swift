import ShunterHandlers

/// What one HTTP connection waits for, and until when: the pure state of the connection limits
/// (`ConnectionLimitHandler` feeds it the connection's events and carries out its actions).
///
/// - Between requests (a fresh connection, or once every answer is sent) the next request's
///   head must be complete within `idle`: an idle connection and a head that trickles in are
///   the same to it, since the head is parsed before any request exists.
/// - From a request's head, its body must be complete within `body`, however steadily it
///   trickles.
/// - While an answer is being prepared nothing is timed: a `/run-transformation` waits as long
///   as its job runs.
package struct ConnectionDeadlines: Sendable {
    package struct Limits: Sendable, Hashable {
        package var idle: Duration?
        package var body: Duration?

        package init(idle: Duration?, body: Duration?) {
            self.idle = idle
            self.body = body
        }
    }

    package typealias Instant = ContinuousClock.Instant

    package enum Action: Equatable, Sendable {
        /// Wake the machine (`deadlinePassed`) at this instant, replacing any earlier wake-up.
        case wake(at: Instant)
        /// Nothing is timed now.
        case cancelWake
        /// Close the connection; the reason goes to the log.
        case close(reason: String)
        case none
    }

    package let limits: Limits
    /// A request whose head arrived and whose body has not ended, since when.
    private var readingSince: Instant?
    /// Requests read whose answers are not all sent.
    private var unanswered = 0
    /// Since when the connection has had nothing to do (nil while a request is in progress).
    private var idleSince: Instant?

    package init(limits: Limits) {
        self.limits = limits
    }

    package mutating func opened(at now: Instant) -> Action {
        idleSince = now
        return schedule()
    }

    package mutating func receivedHead(at now: Instant) -> Action {
        readingSince = now
        idleSince = nil
        unanswered += 1
        return schedule()
    }

    package mutating func receivedEnd(at now: Instant) -> Action {
        readingSince = nil
        return schedule()
    }

    package mutating func sentEnd(at now: Instant) -> Action {
        unanswered = max(0, unanswered - 1)
        if unanswered == 0 && readingSince == nil { idleSince = now }
        return schedule()
    }

    package mutating func deadlinePassed(at now: Instant) -> Action {
        if let readingSince, let body = limits.body, now >= readingSince + body {
            return .close(
                reason: "the request body did not arrive within http.body_timeout (\(ConfigParsing.format(body)))")
        }
        if let idleSince, let idle = limits.idle, now >= idleSince + idle {
            return .close(reason: "no complete request head within http.idle_timeout (\(ConfigParsing.format(idle)))")
        }
        return schedule()
    }

    /// The earliest deadline that applies now.
    private func schedule() -> Action {
        var earliest: Instant?
        if let readingSince, let body = limits.body { earliest = readingSince + body }
        if let idleSince, let idle = limits.idle {
            let deadline = idleSince + idle
            earliest = earliest.map { min($0, deadline) } ?? deadline
        }
        return earliest.map { .wake(at: $0) } ?? .cancelWake
    }
}
