import Foundation
import Hummingbird
import ShunterBroker
import ShunterCore
import ShunterStore
import Testing

@testable import ShunterServer

/// The one mapping from the errors below the HTTP layer to statuses, as a table.
@Suite struct ShunterHTTPErrorTests {
    struct Other: Error, CustomStringConvertible { var description: String { "something broke" } }

    static let tf = HashAlgorithm.sha256.checksum(of: Array("tf".utf8))

    static let table: [(String, any Error, Int)] = [
        ("a refusal of a wrong request", AdmissionRefusal(.invalid, "bad pin"), 400),
        ("a refusal of a job nothing runs", AdmissionRefusal(.unrunnable, "no handler"), 422),
        ("an unknown job", BrokerError.unknownJob(JobID(7)), 404),
        ("an unreadable environment", BrokerError.environmentUnavailable(tf, reason: "absent"), 422),
        ("a stopping broker", BrokerError.shuttingDown, 503),
        ("an inconsistent journal entry", BrokerError.journalMismatch("state"), 500),
        ("a buffer that hashes otherwise", BufferStoreError.checksumMismatch(expected: tf, actual: tf), 400),
        ("an absent buffer", BufferStoreError.notFound(tf), 404),
        ("a promise that expired", BufferStoreError.promiseTimedOut(tf, seconds: 1), 404),
        ("a buffer too large", BufferStoreError.tooLarge(limit: 1), 413),
        (
            "a failing buffer server", BufferStoreError.remote(url: "http://127.0.0.1:1", status: 500, message: "down"),
            502
        ),
        ("a full disk in the buffer store", BufferStoreError.io(path: "/x", operation: "write", errno: ENOSPC), 507),
        ("a full quota", POSIXError(.EDQUOT), 507),
        ("another I/O failure", BufferStoreError.io(path: "/x", operation: "write", errno: EIO), 500),
        ("a route's own 409", ShunterHTTPError.conflict("record mode"), 409),
        ("Hummingbird's own error", HTTPError(.methodNotAllowed), 405),
        ("anything else", Other(), 500),
    ]

    @Test("each error is answered its status", arguments: 0..<table.count)
    func status(row: Int) {
        let (what, error, code) = Self.table[row]
        #expect(ShunterHTTPError.status(of: error).code == code, "\(what)")
        #expect(ShunterHTTPError(answering: error).status.code == code, "\(what)")
    }

    @Test("the text of an answer: the error's sentence, or what to do for the broker's own failures")
    func texts() {
        #expect(
            ShunterHTTPError(answering: BrokerError.shuttingDown).message
                == "the broker is shutting down and takes no new jobs")
        #expect(ShunterHTTPError(answering: Other()).message == "the broker could not answer: something broke\n")
        let full = ShunterHTTPError(answering: POSIXError(.ENOSPC)).message
        #expect(full.hasPrefix("the broker's disk is full: "), "\(full)")
        #expect(full.hasSuffix("Free disk space (buffer store, work directories, journal) and retry.\n"), "\(full)")
        // An answer already made is kept as it is.
        #expect(ShunterHTTPError(answering: ShunterHTTPError.notFound("no job job-1")).message == "no job job-1")
    }
}
