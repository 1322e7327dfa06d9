import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

@main
struct ShunterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shunter",
        abstract: "A job-handler broker for Seamless transformations.",
        discussion: """
            Shunter takes transformations over HTTP (port 5533 by default), runs them through the job handlers declared in YAML, and keeps every result in a checksum store, so that the same transformation is answered from cache the second time.

            Exit codes: 0 success; 1 the job failed or was cancelled; 2 invalid configuration; 3 the broker could not be reached; 4 not found; 64 bad command-line usage.
            """,
        version: "shunter 0.1.0",
        subcommands: [
            ServeCommand.self, CheckCommand.self, RunCommand.self, JobsCommand.self, BufferCommand.self,
            EnvironmentCommand.self, TokenCommand.self, SeamlessJobserverCommand.self,
        ]
    )

    /// Maps the failures scripts must tell apart to their documented exit codes.
    static func main() async {
        // Swift tasks run on NIO's event loops: an HTTP handler, the broker and a job's steps
        // then continue on the thread that read the request instead of waking a thread of the
        // default pool at every hop. Before any task is created, as NIO requires.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as BrokerClient.Unreachable {
            printError("shunter: \(error)")
            Foundation.exit(ShunterExit.unreachable.rawValue)
        } catch let error as CommandFailure {
            printError("shunter: \(error)")
            Foundation.exit(ExitCode.failure.rawValue)
        } catch {
            exit(withError: error)
        }
    }
}

/// Exit codes scripts can rely on (documented in `shunter --help`).
enum ShunterExit {
    static let jobFailed = ExitCode(1)
    static let invalidConfiguration = ExitCode(2)
    static let unreachable = ExitCode(3)
    static let notFound = ExitCode(4)
}

/// Options shared by the commands that talk to a running broker.
struct BrokerURLOption: ParsableArguments {
    @Option(
        name: .long,
        help:
            "The broker's URL (default: $SHUNTER_URL, else http://127.0.0.1:5533); may carry credentials: http://NAME:TOKEN@host:port."
    )
    var url: String?

    @Option(name: .long, help: "The token to present (default: $SHUNTER_TOKEN, else the password in the URL).")
    var token: String?

    /// The URL without credentials, and the token to present: `--token`, `$SHUNTER_TOKEN`, or
    /// the password of the URL, in that order.
    var resolved: (url: String, token: String?) {
        let raw = url ?? ProcessEnvironment.get("SHUNTER_URL") ?? "http://127.0.0.1:5533"
        var inURL: String?
        var plain = raw
        if var components = URLComponents(string: raw), components.password != nil || components.user != nil {
            inURL = components.password?.removingPercentEncoding ?? components.password
            components.user = nil
            components.password = nil
            plain = components.string ?? raw
        }
        return (plain, token ?? ProcessEnvironment.get("SHUNTER_TOKEN") ?? inURL)
    }
}
