import ArgumentParser
import Foundation
import ShunterCore

/// `shunter buffer`: move buffers in and out of the broker's checksum store.
struct BufferCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "buffer",
        abstract: "Put buffers into and get them out of the broker's checksum store.",
        discussion: """
            Goes through the running broker's HTTP API (--url), never to the store's files: it is safe beside a running broker, and needs one.
            """,
        subcommands: [Put.self, Get.self]
    )

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a file's bytes (or standard input with -) and print the checksum.")
        @OptionGroup var broker: BrokerURLOption
        @Argument(help: "The file, or - for standard input.") var file: String

        func run() async throws {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file)")
                }
                data = contents
            }
            print(try await BrokerClient.connect(broker).putBuffer([UInt8](data)).hex)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a buffer to standard output or a file.")
        @OptionGroup var broker: BrokerURLOption
        @Option(name: .shortAndLong, help: "Write to this file.") var output: String?
        @Argument(help: "The buffer's checksum.") var checksum: String

        func run() async throws {
            do {
                _ = try Checksum(hex: checksum)
            } catch {
                throw ValidationError("\(error)")
            }
            let reply = try await BrokerClient.connect(broker).request(.GET, "/" + checksum.lowercased())
            try exitUnlessOK(reply)
            if let output {
                try Data(reply.body).write(to: URL(fileURLWithPath: output))
            } else {
                FileHandle.standardOutput.write(Data(reply.body))
            }
        }
    }
}
