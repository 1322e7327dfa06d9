import ShunterBroker
import ShunterCore
import Testing

@testable import ShunterServer

@Suite struct JobsPageTests {
    let tf = HashAlgorithm.sha256.checksum(of: Array("page".utf8))

    func records(_ ids: [Int64]) -> [JobRecord] {
        ids.map { JobRecord(id: JobID($0), transformation: tf, state: .failed, language: "bash", createdAt: 0) }
    }

    @Test func aFullPageLinksToTheJobsAfterItsLastOneKeepingTheFilter() {
        let next = JobsPage.next(
            after: records([9, 8, 7]), filter: JobFilter(limit: 3), query: "state=failed&limit=3&after=job-10")
        #expect(next == "/jobs?state=failed&limit=3&after=job-7")
    }

    @Test func aShortPageIsTheLast() {
        #expect(JobsPage.next(after: records([2, 1]), filter: JobFilter(limit: 3), query: "limit=3") == nil)
        #expect(JobsPage.next(after: [], filter: JobFilter(limit: 3), query: nil) == nil)
    }
}
