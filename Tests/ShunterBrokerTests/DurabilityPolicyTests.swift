import ShunterBackends
import ShunterBroker
import Testing

/// The durability policy as a table: every event on every recovery model has a rule, and the
/// rules that the crash-safety of each backend rests on hold.
@Suite("Durability policy")
struct DurabilityPolicyTests {
    /// Every model, and nil: a job no handler has taken yet.
    static let models: [RecoveryModel?] = [nil] + RecoveryModel.allCases.map { $0 }

    /// The whole table, written out: a change to any entry must change this test too.
    static let expected: [JobEvent: [RecoveryModel?: String]] = {
        func same(_ rule: String) -> [RecoveryModel?: String] {
            Dictionary(uniqueKeysWithValues: models.map { ($0, rule) })
        }
        return [
            .acceptedForWaitingCaller: same("newRow eventually"),
            .acceptedWithIDTold: same("newRow durable"),
            .joinedWithIDTold: same("touch durable"),
            .preparing: same("nothing memoryOnly"),
            .running: [
                nil: "record eventually", .rerun: "record eventually",
                .rerunFoundByExternalID: "nothing memoryOnly", .rerunFoundByWorkDirectory: "nothing memoryOnly",
                .reattach: "record durable",
            ],
            .externalIDReported: [
                nil: "record committed", .rerun: "record committed",
                .rerunFoundByExternalID: "record committed", .rerunFoundByWorkDirectory: "record deferred",
                .reattach: "record durable",
            ],
            .collectedAttemptRunning: same("nothing memoryOnly"),
            .collecting: same("nothing memoryOnly"),
            .ended: same("record batched"),
            .interrupted: same("nothing memoryOnly"),
            .reattachAbandoned: same("record durable"),
            .requeuedOnRecovery: same("record durable"),
            .reattachedOnRecovery: same("record durable"),
            .endedOnRecovery: same("record durable"),
            .unreadableOnRecovery: same("failure durable"),
        ]
    }()

    @Test("every event on every recovery model has the rule the table says", arguments: JobEvent.allCases)
    func table(event: JobEvent) throws {
        let row = try #require(Self.expected[event], "the table has no row for \(event)")
        for model in Self.models {
            let rule = DurabilityPolicy.rule(for: event, model: model)
            #expect(rule.description == row[model], "\(event) on \(model.map(\.rawValue) ?? "no handler")")
        }
    }

    @Test("nothing written is memory only, and memory only writes nothing")
    func nothingIsMemoryOnly() {
        for event in JobEvent.allCases {
            for model in Self.models {
                let rule = DurabilityPolicy.rule(for: event, model: model)
                #expect(
                    (rule.writes == .nothing) == (rule.durability == .memoryOnly),
                    "\(event) on \(String(describing: model))")
            }
        }
    }

    @Test("a new row only at admission, and never held back")
    func newRowsOnlyAtAdmission() {
        for event in JobEvent.allCases {
            for model in Self.models where DurabilityPolicy.rule(for: event, model: model).writes == .newRow {
                #expect([.acceptedForWaitingCaller, .acceptedWithIDTold].contains(event))
                #expect(DurabilityPolicy.rule(for: event, model: model).durability >= .eventually)
            }
        }
    }

    @Test("a batch job's running state and id survive a power loss before it goes on")
    func reattachIsDurable() {
        #expect(DurabilityPolicy.rule(for: .running, model: .reattach).durability == .durable)
        #expect(DurabilityPolicy.rule(for: .externalIDReported, model: .reattach).durability == .durable)
    }

    @Test("a container's name is committed before started returns; a local process's id is deferred")
    func rerunModels() {
        #expect(
            DurabilityPolicy.rule(for: .externalIDReported, model: .rerunFoundByExternalID).durability >= .committed)
        #expect(
            DurabilityPolicy.rule(for: .externalIDReported, model: .rerunFoundByWorkDirectory).durability == .deferred)
        // A backend that may report nothing still gets the attempt journaled.
        #expect(DurabilityPolicy.rule(for: .running, model: .rerun).writes == .record)
    }

    @Test("a caller told the job's id finds it after a power loss; one waiting for the result does not wait for a sync")
    func admission() {
        #expect(DurabilityPolicy.rule(for: .acceptedWithIDTold, model: nil).durability == .durable)
        #expect(DurabilityPolicy.rule(for: .joinedWithIDTold, model: nil).durability == .durable)
        #expect(DurabilityPolicy.rule(for: .acceptedForWaitingCaller, model: nil).durability < .batched)
    }
}
