/// Makes an image usable once per key, however many jobs ask for it at the same moment.
///
/// The first job to need an image that is not ready yet (a `docker load` of an archive, an
/// `apptainer build` of a SIF from one) starts the work; jobs asking while it runs wait for
/// that same work instead of starting their own, which would convert the same image twice
/// and race on its file. A success is remembered (for `freshFor`, so an image removed behind
/// the broker's back is looked for again); a failure is not, so the next job tries again.
package actor ImageProvisioner<Value: Sendable> {
    private var ready: [String: (value: Value, since: ContinuousClock.Instant)] = [:]
    private var inFlight: [String: Task<Value, any Error>] = [:]
    /// How many times the work ran, per key (tests use it to see that it ran once).
    package private(set) var runs: [String: Int] = [:]
    package let freshFor: Duration

    package init(freshFor: Duration = .seconds(60)) {
        self.freshFor = freshFor
    }

    /// The value for `key`, running `provide` only if no value is fresh and no other caller
    /// is already running it. A caller cancelled while waiting still waits for the running
    /// work to end (it is shared and its result is kept for the others), then throws
    /// `CancellationError`.
    package func value(for key: String, provide: @escaping @Sendable () async throws -> Value) async throws -> Value {
        if let entry = ready[key], ContinuousClock.now - entry.since < freshFor { return entry.value }
        let work: Task<Value, any Error>
        if let running = inFlight[key] {
            work = running
        } else {
            runs[key, default: 0] += 1
            work = Task { try await provide() }
            inFlight[key] = work
        }
        let result = await work.result
        if inFlight[key] == work {
            inFlight[key] = nil
            if case .success(let value) = result { ready[key] = (value, ContinuousClock.now) }
        }
        try Task.checkCancellation()
        return try result.get()
    }

    /// Drops a remembered value, for when using it failed (the image vanished).
    package func forget(_ key: String) {
        ready[key] = nil
    }
}
