import ArgumentParser
import Foundation
import ShunterCore

/// `shunter jobs`: look at and steer the broker's jobs.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List, show, wait for and cancel the broker's jobs.",
        subcommands: [List.self, Show.self, Wait.self, Cancel.self],
        defaultSubcommand: List.self
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var broker: BrokerURLOption
        @Option(help: "Only jobs in these states (comma-separated: queued,running,failed,...).") var state: String?
        @Option(help: "Only jobs of this handler.") var handler: String?
        @Option(help: "At most this many jobs.") var limit: Int = 50
        @Flag(help: "Every job the journal holds (follows the pages of the listing).") var all = false
        @Flag(help: "Print the JSON records.") var json = false

        /// The server answers at most this many records per request; more are read page by page.
        static let pageSize = 1000

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1, got \(limit)") }
        }

        func run() async throws {
            var query: [String] = []
            if let state { query.append("state=\(state)") }
            if let handler { query.append("handler=\(handler)") }
            let client = try await BrokerClient.connect(broker)
            var jobs: [JSONValue] = []
            var after: String?
            repeat {
                let wanted = all ? Self.pageSize : min(limit - jobs.count, Self.pageSize)
                let page = query + ["limit=\(wanted)"] + (after.map { ["after=\($0)"] } ?? [])
                let reply = try await client.request(.GET, "/jobs?" + page.joined(separator: "&"))
                try exitUnlessOK(reply)
                jobs += try JSONParser.parse(reply.body).arrayValue ?? []
                // The cursor of the next page, from the Link header; none after the last page.
                after = reply.nextPage?.split(separator: "?").last?.split(separator: "&")
                    .first { $0.hasPrefix("after=") }.map { String($0.dropFirst("after=".count)) }
            } while after != nil && (all || jobs.count < limit)
            if !all { jobs = Array(jobs.prefix(limit)) }
            if json {
                print(String(decoding: CanonicalJSON.encodeCompact(.array(jobs)), as: UTF8.self))
                return
            }
            print(JobTable.header)
            for job in jobs { print(JobTable.row(job)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job's record (JSON).")
        @OptionGroup var broker: BrokerURLOption
        @Argument(help: "The job id (job-42 or 42).") var id: String

        func run() async throws {
            let reply = try await BrokerClient.connect(broker).request(.GET, "/jobs/\(id)")
            try exitUnlessOK(reply)
            print(reply.text)
        }
    }

    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait for a job to end; exit 0 if it succeeded, 1 otherwise.")
        @OptionGroup var broker: BrokerURLOption
        @Option(help: "Give up after this many seconds.") var timeout: Double = 3600
        @Argument(help: "The job id.") var id: String

        func validate() throws {
            guard CheckedQuantity.duration(seconds: timeout) != nil else {
                throw ValidationError(
                    "--timeout must be a number of seconds from 0 to \(CheckedQuantity.maximumDurationSeconds) "
                        + "(\(CheckedQuantity.maximumDurationText)), got \(timeout)")
            }
        }

        func run() async throws {
            let reply = try await BrokerClient.connect(broker).request(.GET, "/jobs/\(id)/wait?timeout=\(timeout)")
            try exitUnlessOK(reply)
            print(reply.text)
            if try JSONParser.parse(reply.body)["state"]?.stringValue != "succeeded" { throw ShunterExit.jobFailed }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job.")
        @OptionGroup var broker: BrokerURLOption
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let reply = try await BrokerClient.connect(broker).request(.POST, "/jobs/\(id)/cancel")
            try exitUnlessOK(reply)
            print(reply.text)
        }
    }
}

/// Maps an error reply to a message on stderr and the documented exit code.
func exitUnlessOK(_ reply: BrokerClient.Reply) throws {
    guard reply.status >= 300 else { return }
    printError("broker answered \(reply.status): \(reply.text)")
    throw reply.status == 404 ? ShunterExit.notFound : ExitCode.failure
}

enum JobTable {
    static let header = pad("JOB", 10) + pad("STATE", 11) + pad("HANDLER", 16) + pad("TRANSFORMATION", 14) + "ERROR"

    static func row(_ job: JSONValue) -> String {
        let error = job["error"]?.stringValue.map { $0.split(separator: "\n").first.map(String.init) ?? "" } ?? ""
        return pad(job["id"]?.stringValue ?? "?", 10) + pad(job["state"]?.stringValue ?? "?", 11)
            + pad(job["handler"]?.stringValue ?? "-", 16)
            + pad(String((job["transformation"]?.stringValue ?? "").prefix(12)), 14) + error
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}
