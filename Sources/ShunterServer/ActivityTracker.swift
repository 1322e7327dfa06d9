import Foundation
import Hummingbird

/// Knows when the server last did anything, so that a server started on demand can stop when
/// nobody uses it (`shunter seamless-jobserver --timeout`, as Seamless's launcher expects).
///
/// Unlike the Python jobserver, which only remembers when the last request arrived, a request
/// still being answered (a long `/run-transformation`) keeps the server busy: it is never
/// idle while a client waits for a job.
package actor ActivityTracker {
    private var inFlight = 0
    private var lastActivity: ContinuousClock.Instant

    package init() {
        lastActivity = .now
    }

    package func begin() {
        inFlight += 1
        lastActivity = .now
    }

    package func end() {
        inFlight -= 1
        lastActivity = .now
    }

    /// How long nothing has happened: zero while a request is being answered.
    package func idleTime() -> Duration {
        inFlight > 0 ? .zero : ContinuousClock.now - lastActivity
    }

    /// Returns once the server has been idle for `limit`, checking every `interval`.
    package nonisolated func waitUntilIdle(for limit: Duration, checkingEvery interval: Duration = .seconds(1))
        async throws
    {
        while true {
            let idle = await idleTime()
            if idle >= limit { return }
            try await Task.sleep(for: min(interval, limit - idle))
        }
    }
}

/// Wraps a responder so that every request counts as activity for `tracker`. A response's
/// body may still stream after `respond` returns; that tail is not counted, which only makes
/// the idle time start a little early.
package struct ActivityTrackingResponder<Base: HTTPResponder>: HTTPResponder {
    package typealias Context = Base.Context
    let base: Base
    let tracker: ActivityTracker

    package init(_ base: Base, tracker: ActivityTracker) {
        self.base = base
        self.tracker = tracker
    }

    package func respond(to request: Request, context: Context) async throws -> Response {
        await tracker.begin()
        do {
            let response = try await base.respond(to: request, context: context)
            await tracker.end()
            return response
        } catch {
            await tracker.end()
            throw error
        }
    }
}
