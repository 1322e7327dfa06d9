import ArgumentParser
import Foundation
import ShunterCore

/// `shunter run`: what a CI pipeline calls. Builds a bash transformation the way Seamless's
/// `seamless-run` does (so the same command has the same checksum in both), sends it to the
/// broker, waits, and prints the result.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a bash command as a transformation on the broker and print its result.",
        discussion: """
            The command runs in a fresh work directory and must write its result to a file named RESULT (or use --stdout to take its standard output as the result).

              shunter run --input a=1000 'echo $(( a * 2 )) > RESULT'
              shunter run --file data=./input.csv 'wc -l < data > RESULT'

            A repeated run of the same command with the same inputs is answered from the broker's cache without running anything.
            """
    )

    @OptionGroup var broker: BrokerURLOption

    @Option(
        name: .customLong("input"),
        help: ArgumentHelp(
            "A variable for the command, NAME=VALUE (repeatable). Integers become int, decimals float, true/false bool, anything else str.",
            valueName: "name=value"))
    var inputs: [String] = []

    @Option(
        name: .customLong("file"),
        help: ArgumentHelp("A file placed in the work directory as NAME (repeatable).", valueName: "name=path"))
    var files: [String] = []

    @Flag(help: "Take the command's standard output as the result instead of the RESULT file.")
    var stdout = false

    @Option(help: "Write the result to this file instead of standard output.")
    var output: String?

    @Flag(help: "Print the result checksum instead of the result.")
    var checksum = false

    @Argument(help: "The bash code to run.")
    var code: String

    func run() async throws {
        let client = try await BrokerClient.connect(broker)
        var dict: [String: JSONValue] = [
            "__language__": .string("bash"),
            "__output__": .array([.string("result"), .string("bytes"), .null]),
        ]
        let bashCode = stdout ? "(\n" + code + "\n) > RESULT" : code
        dict["code"] = try await pin(client, celltype: .text, value: .string(bashCode))
        for input in inputs {
            let (name, text) = try split(input, what: "--input")
            let (celltype, value) = Self.infer(text)
            dict[name] = try await pin(client, celltype: celltype, value: value)
        }
        var format: [String: JSONValue] = [:]
        for file in files {
            let (name, path) = try split(file, what: "--file")
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("--file \(name)=\(path): cannot read \(path)")
            }
            let checksum = try await client.putBuffer([UInt8](data))
            dict[name] = .array([.string("bytes"), .null, .string(checksum.hex)])
            format[name] = .object(["filesystem": .object(["optional": .bool(true), "mode": .string("file")])])
        }
        if !format.isEmpty { dict["__format__"] = .object(format) }

        let body = CanonicalJSON.encodeCompact(
            .object(["transformation_dict": .object(dict), "tf_dunder": .object([:])]))
        let reply = try await client.request(.GET, "/run-transformation", body: body)
        guard reply.status == 200 else {
            printError(reply.text)
            throw ShunterExit.jobFailed
        }
        guard let parsed = try? JSONParser.parse(reply.body), let resultText = parsed["result_checksum"]?.stringValue,
            let result = try? Checksum(hex: resultText)
        else {
            printError(reply.text)
            throw ShunterExit.jobFailed
        }
        if checksum {
            print(result.hex)
            return
        }
        let buffer = try await client.request(.GET, "/" + result.hex)
        guard buffer.status == 200 else {
            throw CommandFailure("result \(result) could not be fetched: \(buffer.status) \(buffer.text)")
        }
        if let output {
            try Data(buffer.body).write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(Data(buffer.body))
        }
    }

    private func pin(_ client: BrokerClient, celltype: Celltype, value: JSONValue) async throws -> JSONValue {
        let buffer = try CelltypeCodec.serialize(value, as: celltype)
        let checksum = try await client.putBuffer(buffer)
        return .array([.string(celltype.rawValue), .null, .string(checksum.hex)])
    }

    private func split(_ argument: String, what: String) throws -> (String, String) {
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw ValidationError("\(what) takes NAME=VALUE, got '\(argument)'")
        }
        let name = String(argument[..<equals])
        guard name.first!.isLetter || name.first == "_", name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else {
            throw ValidationError("\(what) \(argument): '\(name)' is not a valid bash variable name")
        }
        return (name, String(argument[argument.index(after: equals)...]))
    }

    /// The celltype a command-line value gets, as `seamless-run` would give it.
    static func infer(_ text: String) -> (Celltype, JSONValue) {
        if let int = Int64(text) { return (.int, .int(int)) }
        if let double = Double(text), text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            return (.float, .double(double))
        }
        if text == "true" || text == "false" { return (.bool, .bool(text == "true")) }
        return (.str, .string(text))
    }
}
