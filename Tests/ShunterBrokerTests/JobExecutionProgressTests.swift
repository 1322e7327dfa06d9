import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import Testing

@testable import ShunterBroker

/// One job's execution on real parts (the bash plugin on the local backend), with no broker:
/// its progress goes to a sink that only records it, and it learns of a stop from the signal
/// it was given.
@Suite("Job execution reports its progress one way")
struct JobExecutionProgressTests {
    /// Records every report, and lets a test wait for the first report of a kind.
    actor RecordingSink: JobProgressSink {
        private(set) var reports: [String] = []
        private var waiting: [(String, CheckedContinuation<Void, Never>)] = []

        func report(_ progress: JobProgress, of job: JobID) async throws {
            let kind = Self.kind(of: progress)
            reports.append(kind)
            for (index, entry) in waiting.enumerated().reversed() where entry.0 == kind {
                waiting.remove(at: index)
                entry.1.resume()
            }
        }

        func reported(_ kind: String) async {
            if reports.contains(kind) { return }
            await withCheckedContinuation { waiting.append((kind, $0)) }
        }

        static func kind(of progress: JobProgress) -> String {
            switch progress {
            case .preparing: "preparing"
            case .running: "running"
            case .externalID(let id): id.hasPrefix("local:") ? "externalID local" : "externalID \(id)"
            case .collecting: "collecting"
            case .unjournaledAttemptFound: "unjournaledAttemptFound"
            case .collectingFinishedAttempt: "collectingFinishedAttempt"
            case .reattachAbandoned: "reattachAbandoned"
            }
        }
    }

    static func execution(
        _ fixture: BrokerFixture, _ tf: Transformation, sink: RecordingSink, stopping: StopSignal
    ) throws -> JobExecution {
        let handler = try #require(
            try HandlerRuntime.build(
                [BrokerFixture.bashHandler()], context: BackendContext(killGrace: .milliseconds(500))
            ).first)
        let settings = BrokerSettings(workRoot: fixture.root + "/work")
        var context = JobContext(
            jobID: JobID(1).description, transformation: tf, environment: nil, handler: handler.config,
            buffers: fixture.buffers, workRoot: settings.workRoot, logger: BrokerFixture.quietLogger)
        context.recordsExitStatus = true
        return JobExecution(
            id: JobID(1), handler: handler, context: context, buffers: fixture.buffers, results: fixture.results,
            settings: settings, progress: sink, stopping: stopping, previousWorkDirectory: nil)
    }

    @Test("a job reports preparing, running, its process, collecting, in that order, and ends with its result")
    func progressInOrder() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let tf = try await fixture.bash("echo 21 > RESULT")
        let sink = RecordingSink()
        let execution = try Self.execution(fixture, tf, sink: sink, stopping: StopSignal())
        let ending = await execution.run()
        guard case .succeeded(let result, _, _) = ending else {
            Issue.record("expected success, got \(ending)")
            return
        }
        #expect(try await fixture.text(of: result) == "21\n")
        #expect(await sink.reports == ["preparing", "running", "externalID local", "collecting"])
    }

    @Test("a cancelled job is interrupted, not cancelled, when the signal says the broker stops")
    func stopSignal() async throws {
        for stops in [false, true] {
            let fixture = try BrokerFixture()
            defer { fixture.remove() }
            let tf = try await fixture.bash("sleep 300")
            let sink = RecordingSink()
            let stopping = StopSignal()
            let execution = try Self.execution(fixture, tf, sink: sink, stopping: stopping)
            let task = Task { await execution.run() }
            await sink.reported("externalID local")
            if stops { stopping.set() }
            task.cancel()
            let ending = await task.value
            switch (stops, ending) {
            case (true, .interrupted), (false, .cancelled):
                break
            default:
                Issue.record("stop signal \(stops): ended \(ending)")
            }
        }
    }
}
