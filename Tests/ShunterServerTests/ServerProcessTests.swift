import Foundation
import NIOHTTP1
import ShunterCore
import ShunterTestSupport
import Testing

/// The `shunter` executable as a user runs it: HTTP on a real port, a real journal on disk,
/// bash jobs as real processes.
@Suite("shunter serve, end to end", .serialized)
struct ServerProcessTests {
    @Test("the quickstart session: upload, run, fetch, cached second run, native API")
    func quickstartSession() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        defer { broker.stop() }
        let request = try await broker.bashRequest("echo $(( a * 2 )) > RESULT", inputs: ["a": (.int, .int(1000))])

        let first = try await broker.get("/run-transformation", body: request)
        #expect(first.status == 200, "\(first.text)")
        let result = try #require(try first.json["result_checksum"]?.stringValue)
        #expect(try first.json["record_runtime"]?["job"]?.stringValue == "job-1")
        let buffer = try await broker.get("/" + result)
        #expect(buffer.status == 200)
        #expect(buffer.text == "2000\n")

        let second = try await broker.get("/run-transformation", body: request)
        #expect(try second.json["result_checksum"]?.stringValue == result)
        let submitted = try await broker.post("/jobs", body: request)
        #expect(submitted.status == 200)
        #expect(try submitted.json["cached"] == .bool(true))

        let jobs = try await broker.get("/jobs")
        #expect(try jobs.json.arrayValue?.count == 1, "cache hits create no job: \(jobs.text)")
        let record = try await broker.get("/jobs/job-1")
        #expect(try record.json["state"]?.stringValue == "succeeded")
        #expect(try record.json["handler"]?.stringValue == "bash-local")
    }

    @Test("malformed requests get a 4xx that says what is wrong, and the broker keeps serving")
    func malformedRequests() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        defer { broker.stop() }
        let cases: [(String, String, [UInt8]?, Int, String)] = [
            ("GET", "/run-transformation", Array("{not json".utf8), 400, "Invalid JSON"),
            ("GET", "/run-transformation", nil, 400, "JSON body"),
            ("GET", "/run-transformation", Array("[1,2]".utf8), 400, "JSON object"),
            ("GET", "/run-transformation", Array(#"{"transformation_dict": {"a": 1}}"#.utf8), 400, "pin 'a'"),
            (
                "GET", "/run-transformation",
                Array(
                    #"{"transformation_dict": {"__output__": ["result", "bytes", null], "__language__": "bash"}, "tf_checksum": "00"}"#
                        .utf8),
                400, "tf_checksum"
            ),
            ("GET", "/transformation-status/xyz", nil, 400, "Invalid checksum"),
            ("GET", "/jobs/nope", nil, 400, "not a job id"),
            ("GET", "/jobs/job-999", nil, 404, "no job"),
            ("GET", "/jobs?state=sleeping", nil, 400, "unknown state 'sleeping'"),
            ("GET", "/jobs?limit=-3", nil, 400, "limit"),
        ]
        for (method, path, body, status, fragment) in cases {
            let reply = try await broker.send(HTTPMethod(rawValue: method), path, body: body)
            #expect(reply.status == status, "\(method) \(path): \(reply.status) \(reply.text)")
            #expect(reply.text.contains(fragment), "\(method) \(path): '\(reply.text)' should mention '\(fragment)'")
        }
        #expect(try await broker.get("/healthcheck").text == "OK")
    }

    @Test("kill -9 while jobs run: after a restart every accepted job ends with its correct result")
    func killNineLosesNothing() async throws {
        let broker = try BrokerProcess(maxJobs: 3)
        try await broker.start()
        var jobs: [(id: String, expected: String)] = []
        for index in 0..<12 {
            let request = try await broker.bashRequest(
                "sleep 1; echo $(( n * n )) > RESULT", inputs: ["n": (.int, .int(Int64(index)))])
            let reply = try await broker.post("/jobs", body: request)
            #expect(reply.status == 202, "\(reply.text)")
            jobs.append((try #require(try reply.json["id"]?.stringValue), "\(index * index)\n"))
        }
        // Kill the broker while a wave of jobs runs (jobs take 1 s; 12 at 3 at a time, 4 s).
        let deadline = ContinuousClock.now + .seconds(30)
        while try await broker.get("/jobs?state=running").json.arrayValue?.isEmpty ?? true {
            guard ContinuousClock.now < deadline else { throw TestFailure("no job started running within 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        broker.killHard()

        try await broker.start()
        defer { broker.stop() }
        for job in jobs {
            let reply = try await broker.get("/jobs/\(job.id)/wait?timeout=60")
            #expect(reply.status == 200, "\(job.id): \(reply.text)")
            let record = try reply.json
            #expect(record["state"]?.stringValue == "succeeded", "\(job.id): \(reply.text)")
            let result = try #require(record["result"]?.stringValue)
            #expect(try await broker.get("/" + result).text == job.expected)
        }
        let all = try await broker.get("/jobs?limit=100")
        #expect(try all.json.arrayValue?.count == 12, "no job lost, none duplicated")
        // A job running at the kill is either collected on recovery (it finished while the broker
        // was down: one attempt) or stopped and run again (two); which depends on how long the
        // restart takes, so both are right and nothing may run a third time.
        let attempts: [Int64] = try all.json.arrayValue!.map { job in
            if case .int(let n)? = job["attempts"] { n } else { 0 }
        }
        #expect(attempts.allSatisfy { (1...2).contains($0) }, "attempts per job: \(attempts)")
    }

    @Test("after kill -9, the restarted broker stops the job processes the dead one left running")
    func orphanedJobProcessesAreStopped() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        let marker = broker.root + "/first-attempt.pid"
        // The first attempt records its pid and hangs; the re-run finishes at once.
        let request = try await broker.bashRequest(
            "if [ -e \(marker) ]; then echo second > RESULT; else echo $$ > \(marker); sleep 300; fi")
        let submitted = try await broker.post("/jobs", body: request)
        let id = try #require(try submitted.json["id"]?.stringValue)
        try await waitUntilFile(marker)
        let pidText = try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        let orphan = try #require(pid_t(pidText))
        broker.killHard()
        #expect(ProcessState.isRunning(orphan), "the job's process outlives a kill -9 of its broker")

        try await broker.start()
        defer { broker.stop() }
        let reply = try await broker.get("/jobs/\(id)/wait?timeout=60")
        #expect(try reply.json["state"]?.stringValue == "succeeded", "\(reply.text)")
        #expect(!ProcessState.isRunning(orphan), "the restarted broker must stop the orphaned attempt (pid \(orphan))")
    }

    @Test("with external Python hashserver and seamless-database, inputs come from them and results go to them")
    func externalPythonStores() async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(atPath: directory + "/buffers", withIntermediateDirectories: true)
            let hashserver = try await PythonServer.hashserver(directory: directory + "/buffers")
            defer { hashserver.stop() }
            let database = try await PythonServer.database(file: directory + "/seamless.db")
            defer { database.stop() }
            let broker = try BrokerProcess(
                storeYAML: "{buffers: {url: \(hashserver.url)}, results: {url: \(database.url)}}")
            try await broker.start()
            defer { broker.stop() }
            let request = try await broker.bashRequest("echo $(( a + 1 )) > RESULT", inputs: ["a": (.int, .int(41))])
            let reply = try await broker.get("/run-transformation", body: request)
            #expect(reply.status == 200, "\(reply.text)")
            let result = try #require(try reply.json["result_checksum"]?.stringValue)

            let (buffer, status) = try await hashserver.request("GET", "/" + result)
            #expect(status == 200)
            #expect(String(decoding: buffer, as: UTF8.self) == "42\n")
            let tf = try Transformation.parse(
                dict: try #require(try JSONParser.parse(request)["transformation_dict"]?.objectValue)
            ).checksum
            let (answer, dbStatus) = try await database.request(
                "GET", "/", body: Data(#"{"type": "transformation", "checksum": "\#(tf.hex)"}"#.utf8), json: true)
            #expect(dbStatus == 200)
            #expect(String(decoding: answer, as: UTF8.self).contains(result), "seamless-database holds tf → result")
        }
    }

    @Test("a broker configured for SHA3-256 (Seamless 0.x) names buffers and results by SHA3-256")
    func sha3Broker() async throws {
        let broker = try BrokerProcess(extraConfig: "hash: sha3-256")
        try await broker.start()
        defer { broker.stop() }
        let run = try BrokerProcess.runCLI(
            ["run", "--url", broker.url, "--checksum", "--input", "a=21", "echo $(( a * 2 )) > RESULT"], in: broker.root
        )
        #expect(run.status == 0, "\(run.output)")
        let expected = HashAlgorithm.sha3_256.checksum(of: Array("42\n".utf8))
        #expect(run.output == expected.hex + "\n")
        let sha256Named = HashAlgorithm.sha256.checksum(of: Array("x".utf8))
        let refused = try await broker.put("/" + sha256Named.hex, body: Array("x".utf8))
        #expect(refused.status == 400, "a SHA-256 name is not this store's checksum of the buffer: \(refused.text)")
    }

    @Test("shunter check names file, line and column of a typo, suggests the key, and exits 2")
    func checkReportsTypo() async throws {
        let broker = try BrokerProcess(
            handlerYAML: """
                name: bash-local
                plugin: bash
                backnd: local
                """)
        let (status, output) = try BrokerProcess.runCLI(
            ["check", "--config", broker.root + "/shunter.yaml"], in: broker.root)
        #expect(status == 2, "\(output)")
        #expect(output.contains("10-bash.yaml:3:1"), "\(output)")
        #expect(output.contains("backnd"), "\(output)")
        #expect(output.contains("did you mean 'backend'"), "\(output)")
    }

    @Test("shunter check on valid files lists the handlers and exits 0")
    func checkValid() async throws {
        let broker = try BrokerProcess()
        let (status, output) = try BrokerProcess.runCLI(
            ["check", "--config", broker.root + "/shunter.yaml"], in: broker.root)
        #expect(status == 0, "\(output)")
        #expect(output.contains("bash-local"), "\(output)")
    }

    @Test("shunter run prints the result, and exits 1 with Seamless's error text when the job fails")
    func runCommand() async throws {
        let broker = try BrokerProcess()
        try await broker.start()
        defer { broker.stop() }
        let ok = try BrokerProcess.runCLI(
            ["run", "--url", broker.url, "--input", "a=21", "echo $(( a * 2 )) > RESULT"], in: broker.root)
        #expect(ok.status == 0, "\(ok.output)")
        #expect(ok.output == "42\n")
        let failing = try BrokerProcess.runCLI(["run", "--url", broker.url, "echo bad >&2; exit 7"], in: broker.root)
        #expect(failing.status == 1)
        #expect(failing.output.contains("Return code 7"), "\(failing.output)")
        #expect(failing.output.contains("bad"), "\(failing.output)")
        let unreachable = try BrokerProcess.runCLI(["run", "--url", "http://127.0.0.1:1", "true"], in: broker.root)
        #expect(unreachable.status == 3, "\(unreachable.output)")
    }
}

func waitUntilFile(_ path: String, timeout: Duration = .seconds(20)) async throws {
    let deadline = ContinuousClock.now + timeout
    while !FileManager.default.fileExists(atPath: path) {
        guard ContinuousClock.now < deadline else { throw TestFailure("\(path) did not appear within \(timeout)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

enum ProcessState {
    /// Running or sleeping, not gone and not a zombie (an orphan's zombie may linger when
    /// nothing reaps it, which is not a running process).
    static func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
}
