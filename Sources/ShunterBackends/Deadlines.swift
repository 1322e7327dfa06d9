import Synchronization

/// Runs actions at deadlines with one sleeping task for all of them.
///
/// Why not a `Task.sleep` per job: each is a child task and a timer in the runtime's timer
/// heap, several thread wake-ups per job, and a cancelled sleep's timer stays in the heap
/// until its deadline: at hundreds of jobs a second with `timeout: 1h`, a million timers. Here a deadline is an entry in a dictionary; the one sleeper wakes at the
/// earliest, and is re-armed only when a new deadline comes before the one it sleeps to
/// (rare: a job's deadline is usually later than those of the jobs started before it).
final class Deadlines: Sendable {
    static let shared = Deadlines()

    init() {}

    struct Token: Sendable, Hashable {
        fileprivate let id: Int
    }

    private struct Entry {
        let deadline: ContinuousClock.Instant
        let action: @Sendable () -> Void
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var nextID = 0
        var sleeper: Task<Void, Never>?
        var sleepingUntil: ContinuousClock.Instant?
        /// Which sleeper is the current one: a replaced sleeper leaves the state alone.
        var generation = 0
    }

    private let state = Mutex(State())

    /// Calls `action` once at `deadline`, unless cancelled first. It runs on the sleeper's task,
    /// so it must be short (start a task for anything that waits).
    func schedule(at deadline: ContinuousClock.Instant, _ action: @escaping @Sendable () -> Void) -> Token {
        state.withLock { state in
            state.nextID += 1
            state.entries[state.nextID] = Entry(deadline: deadline, action: action)
            if state.sleepingUntil.map({ deadline < $0 }) ?? true {
                state.sleeper?.cancel()
                state.sleepingUntil = deadline
                state.generation += 1
                let generation = state.generation
                state.sleeper = Task { [self] in await sleep(until: deadline, generation: generation) }
            }
            return Token(id: state.nextID)
        }
    }

    func cancel(_ token: Token) {
        _ = state.withLock { $0.entries.removeValue(forKey: token.id) }
    }

    private func sleep(until deadline: ContinuousClock.Instant, generation: Int) async {
        var target = deadline
        while true {
            try? await Task.sleep(until: target, clock: .continuous)
            let now = ContinuousClock.now
            let turn: ([Entry], ContinuousClock.Instant?)? = state.withLock { state in
                guard state.generation == generation else { return nil }
                // In deadline order, also when a late wake-up finds several due at once.
                let due = state.entries.filter { $0.value.deadline <= now }.sorted {
                    $0.value.deadline < $1.value.deadline
                }
                for (id, _) in due { state.entries.removeValue(forKey: id) }
                let next = state.entries.values.map(\.deadline).min()
                state.sleepingUntil = next
                if next == nil { state.sleeper = nil }
                return (due.map(\.value), next)
            }
            guard let (due, next) = turn else { return }
            for entry in due { entry.action() }
            guard let next else { return }
            target = next
        }
    }
}
