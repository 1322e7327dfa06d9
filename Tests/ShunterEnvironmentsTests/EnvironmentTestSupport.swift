import Foundation
import Logging
import ShunterEnvironments
import ShunterHandlers
import ShunterTestSupport

/// The repository checkout (Tests/ShunterEnvironmentsTests/ -> ../..).
let repositoryRoot: String = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The test channel and py-rattler (see `CondaTestTools`).
func condaTools() throws -> CondaTestTools { try CondaTestTools.require() }

/// A store over `root`, with the given managers (all, by default) and test-channel defaults.
func makeStore(
    root: String, definitions: String? = nil, managers: [String] = EnvironmentsConfig.defaultManagers,
    keepUnused: Duration = .seconds(3600)
) throws -> EnvironmentStore {
    let tools = try condaTools()
    let config = EnvironmentsConfig(
        definitions: definitions ?? root + "/definitions", root: root + "/envs", managers: managers,
        channels: [tools.channel], keepUnused: keepUnused, buildTimeout: .seconds(600), toolsPython: tools.python)
    var logger = Logger(label: "test.environments")
    logger.logLevel = .warning
    return EnvironmentStore(
        config: config,
        managers: EnvironmentManagerRegistry.managers(for: config, environment: ProcessInfo.processInfo.environment),
        logger: logger)
}

/// A spec on the test channel.
func channelSpec(_ dependencies: [String], name: String = "test") throws -> EnvironmentSpec {
    EnvironmentSpec(name: name, channels: [try condaTools().channel], dependencies: dependencies, origin: "test")
}

/// Runs a program to its end; returns its exit status and standard output.
func runProgram(_ arguments: [String], environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: arguments[0])
    process.arguments = Array(arguments.dropFirst())
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
