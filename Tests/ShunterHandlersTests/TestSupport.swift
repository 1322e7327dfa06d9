import Foundation
import ShunterHandlers

/// The plugins and backends the lead's registry declares (see the task brief), written out
/// here because the real registries live in modules this test target does not import.
let testCatalog = ComponentCatalog(
    plugins: [
        .init(
            name: "bash", summary: "bash script in a work directory", compatibleBackends: ["local", "slurm"],
            languages: ["bash"]),
        .init(
            name: "container-bash", summary: "bash script inside a container image",
            compatibleBackends: ["docker", "apptainer", "slurm"], languages: ["bash"]),
        .init(
            name: "python", summary: "Python transformation", compatibleBackends: ["local", "slurm"],
            languages: ["python"]),
    ],
    backends: [
        .init(name: "local", summary: "child processes of the broker"),
        .init(
            name: "docker", summary: "docker run", optionSection: "docker",
            optionKeys: ["network": "none | host", "extra_args": "list of docker run arguments"]),
        .init(
            name: "apptainer", summary: "apptainer exec", optionSection: "apptainer",
            optionKeys: ["image_dir": "directory of .sif images"]),
        .init(
            name: "slurm", summary: "sbatch on a Slurm cluster", optionSection: "slurm",
            optionKeys: [
                "partition": "partition name", "defaults": "cpus, memory, walltime",
                "extra_sbatch": "list of sbatch arguments", "poll_interval": "duration",
                "container": "runtime and image_dir",
            ]),
    ])

/// A fresh directory per test, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("shunter-handlers-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

/// The repository checkout this test file lives in (Tests/ShunterHandlersTests/ -> ../..).
let repositoryRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
