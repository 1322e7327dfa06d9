import Foundation
import Testing

@testable import ShunterBackends

/// Container jobs on Slurm: `apptainer exec` inside the batch job, with the local Apptainer
/// backend's image mapping (images from scripts/setup-containers.sh).
extension SlurmClusterTests {
    @Suite(.serialized) struct SlurmContainerTests {
        static var imageDirectory: String {
            ProcessInfo.processInfo.environment["SHUNTER_CONTAINER_IMAGES"]
                ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().path + "/.build/container-images"
        }

        static func containerExecution(_ job: SlurmTestJob, _ script: String) -> Execution {
            var execution = job.execution(script, environment: ["PATH": "/bin", "PIN": "/bin/bash"])
            // The busybox image has no bash; its /bin/sh is busybox (on the Debian host it is dash).
            execution.command = ["/bin/sh", "-c", script]
            execution.image = "shunter-test/busybox:1"
            return execution
        }

        @Test func aJobWithAnImageRunsInApptainerInsideTheBatchJob() async throws {
            try await SlurmCluster.require()
            let sif = Self.imageDirectory + "/shunter-test_busybox_1.sif"
            try #require(
                FileManager.default.fileExists(atPath: sif),
                "no test image at \(sif): run scripts/setup-containers.sh as root (scripts/test.sh does)")
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                var settings = ApptainerBackend.Settings()
                settings.imageDirectory = Self.imageDirectory
                let backend = SlurmBackend(options: SlurmCluster.fastOptions { $0.container = settings })
                let outcome = try await backend.run(
                    Self.containerExecution(job, "readlink /bin/sh > RESULT; echo $PIN >> RESULT"),
                    events: ExecutionEvents())
                #expect(outcome.termination == .exited(0), "\(job.read("stderr") ?? "")")
                #expect(job.read("work/RESULT") == "busybox\n/bin/bash\n", "\(job.read("stderr") ?? "")")
                #expect(job.read("slurm-job.sh")?.contains("apptainer") == true)
            }
        }

        @Test func aJobWithAnImageOnAHandlerWithoutContainerSettingsFailsSayingSo() async throws {
            try await withTestRoot { root in
                let job = try SlurmTestJob(root: root)
                let backend = SlurmBackend(options: SlurmCluster.fastOptions())
                let error = await #expect(throws: BackendError.self) {
                    try await backend.run(Self.containerExecution(job, "true"), events: ExecutionEvents())
                }
                #expect("\(error.map { "\($0)" } ?? "")".contains("slurm.container"))
            }
        }
    }
}
