import ShunterCore
import Synchronization

/// The last small buffers a `FileBufferStore` read or wrote, kept in memory so that the next
/// `get` of one is neither a file opened, read and hashed again nor a hop to the store's actor.
///
/// Why: every job reads its code and its inputs, and a workflow's jobs share their code and
/// many inputs; for a trivial job those reads were a visible share of the broker's CPU.
/// Only bytes known to hash to their checksum go in (read with verification, or hashed when
/// stored), and a stored buffer never changes, so an entry never goes stale: the store has no
/// deletion. Eviction is oldest-in first, which keeps a workflow's shared code buffers once
/// they come back often enough, without bookkeeping on every hit.
final class SmallBufferCache: Sendable {
    /// Larger buffers are not kept: reading them costs more than the syscalls saved.
    let entryLimit: Int
    /// Bytes kept at most, over all entries.
    let totalLimit: Int

    private struct State {
        var buffers: [Checksum: [UInt8]] = [:]
        /// Insertion order, for eviction; `head` is the oldest still listed.
        var order: [Checksum] = []
        var head = 0
        var bytes = 0
    }

    private let state = Mutex(State())

    init(entryLimit: Int = 64 << 10, totalLimit: Int = 4 << 20) {
        self.entryLimit = entryLimit
        self.totalLimit = totalLimit
    }

    func buffer(for checksum: Checksum) -> [UInt8]? {
        state.withLock { $0.buffers[checksum] }
    }

    /// Keeps `buffer`, which must hash to `checksum`.
    func keep(_ buffer: [UInt8], for checksum: Checksum) {
        guard buffer.count <= entryLimit else { return }
        state.withLock { state in
            guard state.buffers.updateValue(buffer, forKey: checksum) == nil else { return }
            state.order.append(checksum)
            state.bytes += buffer.count
            while state.bytes > totalLimit, state.head < state.order.count {
                let oldest = state.order[state.head]
                state.head += 1
                if let evicted = state.buffers.removeValue(forKey: oldest) { state.bytes -= evicted.count }
            }
            // The evicted prefix goes once it is half the list: amortised O(1) per entry.
            if state.head > 1024 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    var counts: (entries: Int, bytes: Int) {
        state.withLock { ($0.buffers.count, $0.bytes) }
    }
}
