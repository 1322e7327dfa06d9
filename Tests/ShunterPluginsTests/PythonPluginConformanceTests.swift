import Foundation
import ShunterBackends
import ShunterCore
import ShunterPlugins
import ShunterStore
import Testing

/// The conformance idea of issue 3, for the python plugin: each case is built with the real
/// Seamless client and run by Seamless itself (Vectors/seamless_python_cases.py, in this test
/// run), then the very request the client would send a jobserver is run through Shunter's
/// plugin; the result checksums must be identical, and a failure must carry the text
/// Seamless's jobserver gives. Serialized: each case is a Python process that imports Seamless
/// (~0.4 s of CPU), and 27 at once would starve the timing-sensitive tests running beside.
@Suite("Python transformations agree with Seamless", .serialized)
struct PythonPluginConformanceTests {
    /// Must equal the helper's `--list` (checked below), so that no case is silently skipped.
    static let cases = [
        "int_inputs_int_result", "float_result_of_int_conversion", "float_inputs_float_result",
        "str_inputs_str_result", "bool_inputs_bool_result", "plain_inputs_plain_result", "mixed_by_default",
        "text_inputs_text_result", "bytes_inputs_bytes_result", "bytes_input_is_not_subscriptable",
        "empty_bytes_result", "numpy_arrays_mixed", "numpy_arrays_binary", "numpy_array_to_plain",
        "numpy_array_to_text", "checksum_input_and_result",
        "code_block_assigning_result", "code_expression", "code_lambda", "unicode_values_and_code",
        "globals_as_module", "large_numpy_input", "exception_with_output", "missing_result_variable",
        "result_none", "exception_in_code_block", "unconvertible_result",
    ]

    @Test func everyHelperCaseIsRunHere() async throws {
        let listed = try await SeamlessCases.shared.list()
        #expect(listed == Self.cases)
    }

    @Test(arguments: cases)
    func sameAsSeamless(_ name: String) async throws {
        let directory = try await SeamlessCases.shared.directory() + "/" + name
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let request = try JSONParser.parse(try readBytes(directory + "/request.json"))
        let expected = try JSONParser.parse(try readBytes(directory + "/expected.json"))

        // Shunter computes the same identity as the client did.
        let transformation = try Transformation.parse(
            dict: try #require(request["transformation_dict"]?.objectValue),
            dunder: request["tf_dunder"]?.objectValue ?? [:],
            claimedChecksum: try Checksum(hex: try #require(request["tf_checksum"]?.stringValue)))

        let harness = try PythonJobHarness()
        defer { harness.cleanUp() }
        for file in try FileManager.default.contentsOfDirectory(atPath: directory + "/buffers") {
            try await harness.buffers.put(try readBytes(directory + "/buffers/" + file), expected: Checksum(hex: file))
        }

        if let checksum = expected["result_checksum"]?.stringValue {
            let result = try await harness.run(harness.context(transformation))
            #expect(HashAlgorithm.sha256.checksum(of: result).hex == checksum)
        } else {
            let jobserverText = try #require(expected["jobserver_error"]?.stringValue)
            let clientText = try #require(expected["exception"]?.stringValue)
            do {
                let result = try await harness.run(harness.context(transformation))
                Issue.record("Seamless failed with \(clientText), Shunter gave a result: \(result.prefix(200))")
            } catch let failure as JobFailure {
                #expect(failure.message == jobserverText)
                // What the client shows for its own local run is the error's last line.
                #expect(failure.message.contains(clientText.trimmingCharacters(in: .newlines)))
            }
        }
    }
}

extension JSONValue {
    fileprivate subscript(key: String) -> JSONValue? { objectValue?[key] }
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Runs the helper once per test process, for all cases; each case's test removes its own
/// directory, and the rest goes when the process exits.
actor SeamlessCases {
    static let shared = SeamlessCases()

    private var generated: Task<String, any Error>?
    static let helper = pluginsRepositoryRoot + "/Tests/ShunterPluginsTests/Vectors/seamless_python_cases.py"
    nonisolated(unsafe) static var scratchToRemove: UnsafeMutablePointer<CChar>?

    func directory() async throws -> String {
        if generated == nil {
            generated = Task { try await Self.generate() }
        }
        return try await generated!.value
    }

    func list() async throws -> [String] {
        let scratch = try TemporaryDirectory()
        defer { scratch.cleanUp() }
        let output = try await Self.runHelper(["--list"], in: scratch.path)
        return output.split(separator: "\n").map(String.init)
    }

    private static func generate() async throws -> String {
        let scratch = try TemporaryDirectory()
        scratchToRemove = strdup(scratch.path)
        atexit {
            if let path = SeamlessCases.scratchToRemove {
                try? FileManager.default.removeItem(atPath: String(cString: path))
            }
        }
        _ = try await runHelper([scratch.path + "/cases"], in: scratch.path)
        return scratch.path + "/cases"
    }

    /// The helper's standard output; a failure carries its standard error.
    private static func runHelper(_ arguments: [String], in directory: String) async throws -> String {
        let python = try seamlessPython()
        let execution = Execution(
            jobID: "seamless-cases", handler: "test", workDirectory: directory,
            command: [python, helper] + arguments,
            environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"],
            timeout: .seconds(300), stdoutPath: directory + "/helper.stdout", stderrPath: directory + "/helper.stderr")
        let outcome = try await LocalBackend().run(execution, events: ExecutionEvents())
        let stdout = String(decoding: (try? readBytes(execution.stdoutPath)) ?? [], as: UTF8.self)
        guard outcome.succeeded else {
            let stderr = String(decoding: (try? readBytes(execution.stderrPath)) ?? [], as: UTF8.self)
            throw PythonTestSetupError(description: "\(helper) failed (\(outcome.termination)):\n\(stderr)")
        }
        return stdout
    }
}
