import Synchronization
import Testing

@testable import ShunterBackends

@Suite("Deadlines: one sleeper for every job's time limit")
struct DeadlinesTests {
    /// Records which actions ran, in order.
    final class Fired: Sendable {
        let names = Mutex<[String]>([])
        func add(_ name: String) { names.withLock { $0.append(name) } }
        var value: [String] { names.withLock { $0 } }
    }

    @Test("actions run once each, in deadline order, whatever order they were scheduled in; a cancelled one never runs")
    func orderAndCancel() async throws {
        let deadlines = Deadlines()
        let fired = Fired()
        let start = ContinuousClock.now
        // The later one first, then an earlier one (which must re-arm the sleeper), then one
        // that is cancelled before its time.
        _ = deadlines.schedule(at: start + .milliseconds(300)) { fired.add("late") }
        _ = deadlines.schedule(at: start + .milliseconds(100)) { fired.add("early") }
        let cancelled = deadlines.schedule(at: start + .milliseconds(200)) { fired.add("cancelled") }
        deadlines.cancel(cancelled)
        while fired.value.count < 2 && ContinuousClock.now < start + .seconds(20) {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(fired.value == ["early", "late"])
        // Nothing else fires later: the cancelled entry is gone and the sleeper has stopped.
        try await Task.sleep(for: .milliseconds(300))
        #expect(fired.value == ["early", "late"])
        #expect(ContinuousClock.now - start >= .milliseconds(300), "the late one ran no earlier than its deadline")
    }

    @Test("a deadline scheduled after the sleeper stopped still fires")
    func sleeperRestarts() async throws {
        let deadlines = Deadlines()
        let fired = Fired()
        _ = deadlines.schedule(at: .now + .milliseconds(20)) { fired.add("first") }
        while fired.value.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        _ = deadlines.schedule(at: .now + .milliseconds(20)) { fired.add("second") }
        let start = ContinuousClock.now
        while fired.value.count < 2 && ContinuousClock.now < start + .seconds(20) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(fired.value == ["first", "second"])
    }
}
