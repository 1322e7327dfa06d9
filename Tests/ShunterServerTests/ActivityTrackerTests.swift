import Testing

@testable import ShunterServer

@Suite("ActivityTracker")
struct ActivityTrackerTests {
    @Test("a request being answered keeps the server busy; idle time starts when it ends")
    func inFlightIsNeverIdle() async throws {
        let tracker = ActivityTracker()
        await tracker.begin()
        try await Task.sleep(for: .milliseconds(60))
        #expect(await tracker.idleTime() == .zero)
        await tracker.end()
        try await Task.sleep(for: .milliseconds(60))
        let idle = await tracker.idleTime()
        #expect(idle >= .milliseconds(50), "\(idle)")
    }

    @Test("waitUntilIdle returns after the limit, and not before")
    func waitsForTheLimit() async throws {
        let tracker = ActivityTracker()
        let clock = ContinuousClock()
        let start = clock.now
        try await tracker.waitUntilIdle(for: .milliseconds(300), checkingEvery: .milliseconds(20))
        let waited = clock.now - start
        #expect(waited >= .milliseconds(300), "\(waited)")
    }
}
