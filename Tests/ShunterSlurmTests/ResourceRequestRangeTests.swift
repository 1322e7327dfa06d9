import ShunterBackends
import ShunterCore
import Testing

/// `__meta__` values out of every range: each is an error naming the bound, none traps (a
/// trap here crashed the broker on every restart, since the job is journaled first).
@Suite struct ResourceRequestRangeTests {
    @Test(arguments: [
        JSONValue.double(1e300), .double(1e16), .double(.infinity), .string("99999999999999d"),
        .string("999999999999999-00:00:00"), .string("1e300"), .string("inf"), .int(Int64.max),
        .string("9999999999999999999:00"), .bigInt("99999999999999999999999"),
    ])
    func walltimeOutOfRange(value: JSONValue) {
        let error = #expect(throws: ResourceRequestError.self) {
            try ResourceRequest(meta: ["walltime": value], defaults: .init())
        }
        #expect(error?.description.contains("at most 36500d") == true, "\(error?.description ?? "")")
    }

    @Test(arguments: [
        JSONValue.double(1e300), .int(1 << 50), .int(Int64.max), .string("99999999999T"), .string("1e300"),
        .double(.infinity), .bigInt("99999999999999999999999"),
    ])
    func memoryOutOfRange(value: JSONValue) {
        let error = #expect(throws: ResourceRequestError.self) {
            try ResourceRequest(meta: ["memory": value], defaults: .init())
        }
        #expect(error?.description.contains("at most 1048576T") == true, "\(error?.description ?? "")")
    }

    @Test func largestAcceptedValues() throws {
        #expect(
            try ResourceRequest(meta: ["walltime": .string("36500d")], defaults: .init()).walltime
                == .seconds(36_500 * 86_400))
        #expect(
            try ResourceRequest(meta: ["walltime": .string("36500-00:00:00")], defaults: .init()).walltime
                == .seconds(36_500 * 86_400))
        #expect(try ResourceRequest(meta: ["memory": .string("1048576T")], defaults: .init()).memoryBytes == 1 << 60)
        #expect(try ResourceRequest(meta: ["memory": .int(1 << 40)], defaults: .init()).memoryBytes == 1 << 60)
    }

    @Test(arguments: [JSONValue.string("-1:00"), .string("1:-5"), .string("+1:00"), .double(.nan), .string("nan")])
    func notWalltimes(value: JSONValue) {
        #expect(throws: ResourceRequestError.self) { try ResourceRequest(meta: ["walltime": value], defaults: .init()) }
    }
}
