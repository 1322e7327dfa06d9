import Foundation
import ShunterTestSupport
import Testing

@testable import ShunterStore

@Suite struct BrokerLockTests {
    @Test("a second claim on a locked path fails naming the holder; released, the path can be claimed again")
    func exclusiveAndNamed() async throws {
        try await withTemporaryDirectory { directory in
            let journal = directory + "/var/journal.sqlite"
            var first: BrokerLock? = try BrokerLock.acquire(guarding: journal, what: "journal", command: "test first")
            #expect(first?.path == journal + ".lock")
            #expect(first?.previousHolder == nil)
            let holder = try #require(BrokerLock.holder(guarding: journal))
            #expect(holder.pid == getpid())
            #expect(holder.command == "test first")
            #expect((try? String(contentsOfFile: journal + ".lock", encoding: .utf8))?.contains("host ") == true)
            // Mode: only its owner reads who holds it.
            let mode = try FileManager.default.attributesOfItem(atPath: journal + ".lock")[.posixPermissions] as? Int
            #expect(mode == 0o600)
            let refused = #expect(throws: BrokerLockError.self) {
                try BrokerLock.acquire(guarding: journal, what: "journal", command: "test second")
            }
            let message = "\(refused.map { "\($0)" } ?? "")"
            #expect(
                message.contains("pid \(getpid())") && message.contains("test first") && message.contains(journal),
                "\(message)")
            first = nil
            #expect(BrokerLock.holder(guarding: journal) == nil)
            let second = try BrokerLock.acquire(guarding: journal, what: "journal", command: "test second")
            #expect(
                second.previousHolder?.command == "test first", "the released lock's file still names its last holder")
            #expect(BrokerLock.holder(guarding: journal)?.command == "test second")
        }
    }

    @Test func lockPathOfADirectoryIsItsSibling() {
        #expect(BrokerLock.lockPath(guarding: "/a/var/work/") == "/a/var/work.lock")
        #expect(BrokerLock.lockPath(guarding: "/a/var/work") == "/a/var/work.lock")
    }
}
