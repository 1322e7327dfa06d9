import Foundation
import Testing

@testable import ShunterBackends

/// The warm parent's protocol lines, decoded and encoded without a process.
@Suite("Warm parent messages")
struct WarmParentMessageTests {
    @Test func decodesEveryMessageTheParentWrites() {
        func decode(_ line: String) -> WarmParentMessage? { WarmParentMessage(line: Array(line.utf8)) }
        #expect(decode(#"{"ready":12,"threads":1,"problem":null}"#) == .ready(pid: 12, threads: 1, problem: nil))
        #expect(
            decode(#"{"ready":12,"threads":1,"problem":"ImportError: x"}"#)
                == .ready(pid: 12, threads: 1, problem: "ImportError: x"))
        #expect(decode(#"{"started":3,"pid":99}"#) == .started(job: 3, pid: 99))
        #expect(
            decode(#"{"failed":3,"pid":99,"error":"OSError: no"}"#) == .failed(job: 3, pid: 99, error: "OSError: no"))
        #expect(
            decode(#"{"failed":3,"error":"fork: no memory"}"#) == .failed(job: 3, pid: nil, error: "fork: no memory"))
        #expect(decode(#"{"ended":3,"pid":99,"status":134}"#) == .ended(job: 3, pid: 99, status: 134))
        #expect(
            decode(#"{"ended":3,"pid":99,"status":32512,"error":"IsADirectoryError: x"}"#)
                == .ended(job: 3, pid: 99, status: 32512, setupError: "IsADirectoryError: x"))
        #expect(decode(#"{"pong":7,"jobs":0}"#) == .pong(7))
    }

    @Test func refusesWhatIsNotTheProtocol() {
        for line in [
            "", "hello", "[1]", #"{"started":3}"#, #"{"ended":3,"pid":1}"#, #"{"ready":"x"}"#, #"{"other":1}"#,
        ] {
            #expect(WarmParentMessage(line: Array(line.utf8)) == nil, "\(line)")
        }
    }

    @Test func encodesOneLineTheParentReads() throws {
        let run = WarmParentMessage.run(
            job: 4, arguments: ["/j/python/runner.py", "/j/python"], directory: "/j/work",
            environment: ["PATH": "/bin", "LANG": "C.UTF-8\nX"], stdout: "/j/stdout", stderr: "/j/stderr")
        #expect(run.last == UInt8(ascii: "\n"))
        #expect(run.dropLast().contains(UInt8(ascii: "\n")) == false, "a newline in a value must be escaped")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.dropLast())) as? [String: Any])
        #expect(object["run"] as? Int == 4)
        #expect(object["argv"] as? [String] == ["/j/python/runner.py", "/j/python"])
        #expect(object["cwd"] as? String == "/j/work")
        #expect(object["env"] as? [String: String] == ["PATH": "/bin", "LANG": "C.UTF-8\nX"])
        let kill = try #require(
            try JSONSerialization.jsonObject(with: Data(WarmParentMessage.kill(job: 4, signal: 15).dropLast()))
                as? [String: Any])
        #expect(kill["kill"] as? Int == 4 && kill["signal"] as? Int == 15)
    }
}
