import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ShunterHandlers
import Testing

@testable import ShunterServer

#if canImport(Glibc)
    import Glibc
#endif

/// The connection limits: the timing rules on the pure state, then a real server with real
/// sockets (an idle connection is closed; beyond the cap a new connection is closed at once
/// while one on a free slot is served).
@Suite struct ConnectionLimitsTests {
    typealias Instant = ConnectionDeadlines.Instant
    let start = ContinuousClock.now

    @Test func idleThenBodyThenUntimedWhileAnswering() {
        var machine = ConnectionDeadlines(limits: .init(idle: .seconds(10), body: .seconds(60)))
        #expect(machine.opened(at: start) == .wake(at: start + .seconds(10)))
        // Not yet: wakes again for the same deadline.
        #expect(machine.deadlinePassed(at: start + .seconds(5)) == .wake(at: start + .seconds(10)))
        #expect(machine.receivedHead(at: start + .seconds(8)) == .wake(at: start + .seconds(68)))
        #expect(
            machine.deadlinePassed(at: start + .seconds(68))
                == .close(reason: "the request body did not arrive within http.body_timeout (1m)"))
    }

    @Test func aCompleteRequestIsNotTimedUntilItsAnswerEnds() {
        var machine = ConnectionDeadlines(limits: .init(idle: .seconds(10), body: .seconds(60)))
        _ = machine.opened(at: start)
        _ = machine.receivedHead(at: start + .seconds(1))
        #expect(machine.receivedEnd(at: start + .seconds(2)) == .cancelWake)
        // A job that runs for an hour: nothing closes the connection.
        #expect(machine.deadlinePassed(at: start + .seconds(3600)) == .cancelWake)
        #expect(machine.sentEnd(at: start + .seconds(3600)) == .wake(at: start + .seconds(3610)))
        #expect(
            machine.deadlinePassed(at: start + .seconds(3610))
                == .close(reason: "no complete request head within http.idle_timeout (10s)"))
    }

    @Test func noLimitsNeverWake() {
        var machine = ConnectionDeadlines(limits: .init(idle: nil, body: nil))
        #expect(machine.opened(at: start) == .cancelWake)
        #expect(machine.receivedHead(at: start) == .cancelWake)
    }

    @Test func theCounterRefusesBeyondItsLimitAndLogsABurstOnce() {
        let counter = ConnectionCounter(limit: 2)
        #expect(counter.take() == (true, false))
        #expect(counter.take() == (true, false))
        #expect(counter.take() == (false, true))
        #expect(counter.take() == (false, false))
        counter.release()
        #expect(counter.take() == (true, false))
        #expect(counter.open == 2)
    }

    @Test func theSoftLimitOnOpenFilesIsRaisedToTheHardOne() throws {
        let before = try #require(FileDescriptorLimit.current())
        // Lowered by one first (other tests run beside this one and need their files), so that
        // raising it is seen whatever the test runner started with.
        let lower = before.hard - 1
        var lowered = rlimit(rlim_cur: rlim_t(lower), rlim_max: rlim_t(before.hard))
        #if os(Linux)
            #expect(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lowered) == 0)
        #else
            #expect(setrlimit(RLIMIT_NOFILE, &lowered) == 0)
        #endif
        #expect(FileDescriptorLimit.current()?.soft == lower)
        #expect(FileDescriptorLimit.raiseToHard() == before.hard)
        #expect(FileDescriptorLimit.current()?.soft == before.hard)
    }

    // MARK: real sockets

    /// A blocking client socket to 127.0.0.1:`port`.
    final class Socket: @unchecked Sendable {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let status = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }

        func send(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// What the server sends until it closes the connection or `until` is in it; blocks
        /// (off the test's executor) on the server's own doing, never on a clock.
        func read(until marker: String? = nil) async -> String {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { [self] in
                    var received: [UInt8] = []
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    while true {
                        let got = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                        if got <= 0 { break }
                        received += buffer[0..<got]
                        if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
                    }
                    continuation.resume(returning: String(decoding: received, as: UTF8.self))
                }
            }
        }

        deinit { close(fd) }
    }

    func application(limits: HTTPServerLimits, counter: ConnectionCounter) -> some ApplicationProtocol {
        let router = Router()
        router.get("/healthcheck") { _, _ in "OK" }
        router.put("/upload") { request, _ -> String in
            let body = try await request.body.collect(upTo: 1 << 20)
            return "got \(body.readableBytes)"
        }
        return Application(
            router: router,
            server: ShunterApplication.server(limits: limits, counter: counter, logger: Logger(label: "test")),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static let request = "GET /healthcheck HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test func anIdleConnectionAndAHalfSentHeadAreClosedAfterTheIdleTimeout() async throws {
        let counter = ConnectionCounter(limit: 16)
        let limits = HTTPServerLimits(idleTimeout: .milliseconds(200), bodyTimeout: nil, maxConnections: 16)
        try await application(limits: limits, counter: counter).test(.live) { client in
            let port = try #require(client.port)
            let idle = try Socket(port: port)
            let slow = try Socket(port: port)
            slow.send("GET /healthcheck HTTP/1.1\r\nHo")
            // Both reads end only when the server closes the connections.
            #expect(await idle.read() == "")
            #expect(await slow.read() == "")
            // After an answer, the connection is idle again and closed in turn.
            let served = try Socket(port: port)
            served.send(Self.request)
            let answer = await served.read()
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"), "\(answer)")
            #expect(answer.hasSuffix("OK"))
        }
    }

    @Test func aBodyThatTricklesIsCutAfterTheBodyTimeout() async throws {
        let counter = ConnectionCounter(limit: 16)
        let limits = HTTPServerLimits(idleTimeout: nil, bodyTimeout: .milliseconds(200), maxConnections: 16)
        try await application(limits: limits, counter: counter).test(.live) { client in
            let socket = try Socket(port: try #require(client.port))
            socket.send("PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
            // The body never completes: the server closes the connection, answering nothing.
            #expect(await socket.read() == "")
        }
    }

    @Test func beyondTheCapNewConnectionsAreClosedAndAFreedSlotServesAgain() async throws {
        let counter = ConnectionCounter(limit: 2)
        let limits = HTTPServerLimits(idleTimeout: nil, bodyTimeout: nil, maxConnections: 2)
        try await application(limits: limits, counter: counter).test(.live) { client in
            let port = try #require(client.port)
            // Connections are opened and served until one is refused: the cap is reached (the test
            // framework's own client may hold a slot too). Each is answered once, so each is surely
            // accepted before the next.
            var held: [Socket] = []
            var refused = false
            while !refused && held.count <= 2 {
                let socket = try Socket(port: port)
                socket.send(Self.request)
                let answer = await socket.read(until: "\r\n\r\nOK")
                if answer.hasPrefix("HTTP/1.1 200 OK") {
                    held.append(socket)
                } else {
                    #expect(answer == "", "a connection beyond the cap must be closed without an answer")
                    refused = true
                }
            }
            #expect(refused)
            #expect(counter.open == 2)
            #expect(!held.isEmpty)
            // A slot frees when a held connection closes; the server hears of it in its own time,
            // so a new connection is tried until one is served (each try ends on the server's answer
            // or close, not on a clock).
            held.removeFirst()
            var served = false
            for _ in 0..<10_000 where !served {
                let socket = try Socket(port: port)
                socket.send(Self.request)
                served = await socket.read(until: "\r\n\r\nOK").hasPrefix("HTTP/1.1 200 OK")
            }
            #expect(served)
            #expect(counter.open <= 2)
        }
    }
}
