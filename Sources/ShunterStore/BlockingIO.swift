import Dispatch

/// Runs blocking file work (copying, hashing, fsync, reading a large file) on a dispatch
/// queue instead of the caller's thread. Tasks run on NIO's event loops in the broker (the
/// global executor is the event loop group), so a long read there would hold up every
/// connection served by that loop.
package enum BlockingIO {
    private static let queue = DispatchQueue(label: "shunter.blocking-io", qos: .utility, attributes: .concurrent)

    package static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}
