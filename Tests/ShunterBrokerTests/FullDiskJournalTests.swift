import Foundation
import ShunterBroker
import ShunterCore
import ShunterStore
import ShunterTestSupport
import Testing

/// A disk a job filled must not keep the journal from recording the job's end, and a job whose
/// end is never recorded must not run again at every start.
@Suite("Full disk and the journal")
struct FullDiskJournalTests {
    let tf = HashAlgorithm.sha256.checksum(of: Array("full disk".utf8))

    /// Journals a job, fills the disk, then records the job's end with a long error text.
    /// Returns the error of that write (nil when it was journaled) and whether the reserve is left.
    func endOnAFullDisk(reserveBytes: Int) async throws -> (error: (any Error)?, reserveLeft: Bool) {
        let disk = try SmallFileSystem(megabytes: 24)
        defer { disk.remove() }
        let journal = try JobJournal(path: disk.path + "/journal.sqlite", reserveBytes: reserveBytes)
        let id = try await journal.insert(transformation: tf, language: "bash", request: [1], at: 1)
        var record = try #require(try await journal.record(id))
        disk.fill()
        record.state = .failed
        record.finishedAt = 2
        record.error = String(repeating: "the job wrote until the disk was full\n", count: 1500)
        let reserveLeft = { FileManager.default.fileExists(atPath: journal.reservePath) }
        do {
            try await journal.write(.record(record), .durable)
            #expect(try await journal.record(id)?.state == .failed)
            return (nil, reserveLeft())
        } catch {
            return (error, reserveLeft())
        }
    }

    @Test("with its reserve, the journal records a job's end on a disk that is full")
    func reserveKeepsTheJournalWritable() async throws {
        let with = try await endOnAFullDisk(reserveBytes: JobJournal.defaultReserveBytes)
        #expect(with.error == nil, "the end was not journaled: \(with.error.map { "\($0)" } ?? "")")
        #expect(!with.reserveLeft, "the reserve was given back to the disk")
        // Without the reserve the same write fails: the test does fill the disk.
        let without = try await endOnAFullDisk(reserveBytes: 0)
        #expect(without.error != nil, "the end was journaled on a full disk without a reserve: the disk was not full")
    }

    @Test(
        "a failed job's work directory over keep_failed_workdirs_max_size is removed as the job fails; a small one is kept"
    )
    func largeFailedWorkDirectoryGoesAtOnce() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        try await fixture.withBroker(configure: { $0.keepFailedWorkDirectoryMaxBytes = 1 << 20 }) { broker in
            let large = try await broker.run(try await fixture.bash("head -c 3000000 /dev/zero > filled; exit 3"))
            #expect(large.status == .failed)
            let largeDirectory = try #require(large.record?.workDirectory)
            #expect(
                !FileManager.default.fileExists(atPath: largeDirectory),
                "the large directory must not wait for the janitor")
            let small = try await broker.run(try await fixture.bash("echo little > note; exit 3"))
            let smallDirectory = try #require(small.record?.workDirectory)
            #expect(FileManager.default.fileExists(atPath: smallDirectory + "/.kept"))
        }
    }

    @Test(
        "a job recovery finds unfinished after as many runs as allowed fails with the reason instead of running again")
    func boundedAttempts() async throws {
        let fixture = try BrokerFixture()
        defer { fixture.remove() }
        let marker = fixture.root + "/ran"
        let tf = try await fixture.bash("touch \(marker); echo again > RESULT")
        let journal = try fixture.journal()
        let attempts = BrokerSettings(workRoot: fixture.root).maxAttempts
        let id = try await fixture.journalJob(
            tf, in: journal, state: .running, handler: "bash-local", attempts: attempts)
        try await fixture.withBroker { broker in
            let record = try #require(try await broker.record(id))
            #expect(record.state == .failed)
            #expect(
                record.error?.contains("ran \(attempts) times and the broker never recorded its end") == true,
                "\(record.error ?? "")")
            #expect(!FileManager.default.fileExists(atPath: marker), "the job ran again")
        }
    }
}
