import Foundation
import Testing

@testable import ShunterAuth

@Suite("TokenRegistry: tokens in an owner-only file, only their digests kept")
struct TokenRegistryTests {
    let directory = NSTemporaryDirectory() + "shunter-auth-\(UUID().uuidString)"
    var path: String { directory + "/auth/tokens.json" }

    @Test("a token added is accepted with its scope; the file holds its digest, never the token, and is owner-only")
    func addAndAuthenticate() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let registry = TokenRegistry(path: path)
        #expect(try registry.isEmpty())
        let token = try registry.add(name: "alice", scope: .submit)
        #expect(token.text.hasPrefix("shunter_"))
        #expect(try registry.authenticate(token.text) == .accepted(Principal(name: "alice", scope: .submit)))
        #expect(try registry.authenticate(token.text + "x") == .unknown)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains(token.text))
        #expect(text.contains(token.digest))
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0, "mode \(String(mode, radix: 8))")
    }

    @Test("a revoked token is refused by a registry that had already read the file (the broker's, while the CLI changes it)")
    func revokeWhileRunning() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let broker = TokenRegistry(path: path)
        let cli = TokenRegistry(path: path)
        let token = try cli.add(name: "bob", scope: .read)
        #expect(try broker.authenticate(token.text) == .accepted(Principal(name: "bob", scope: .read)))
        #expect(try cli.revoke(name: "bob"))
        #expect(try broker.authenticate(token.text) == .unknown)
        #expect(try cli.revoke(name: "bob") == false)
    }

    @Test("an expired token is told apart from an unknown one")
    func expiry() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = TokenRegistry(path: path)
        let token = try registry.add(name: "ci", scope: .submit, expiresAfter: 60, now: 1000)
        #expect(try registry.authenticate(token.text, now: 1059) == .accepted(Principal(name: "ci", scope: .submit)))
        #expect(try registry.authenticate(token.text, now: 1060) == .expired(name: "ci"))
    }

    @Test("names: a second token of the same name and names that are not plain words are refused")
    func names() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = TokenRegistry(path: path)
        _ = try registry.add(name: "alice", scope: .read)
        #expect(throws: TokenFileError.self) { try registry.add(name: "alice", scope: .admin) }
        for bad in ["", "a b", "../x", String(repeating: "a", count: 65), "é"] {
            #expect(throws: TokenFileError.self, "\(bad)") { try registry.add(name: bad, scope: .read) }
        }
        #expect(try registry.list().map(\.name) == ["alice"])
    }

    @Test("a damaged token file is an error naming the file and what to do, not an empty registry")
    func damagedFile() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/auth", withIntermediateDirectories: true)
        try "{\"tokens\": [{\"name\": 1}]}".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: TokenFileError.self) { try TokenRegistry(path: path).authenticate("x") }
        #expect(error?.description.hasPrefix(path + ": is not a valid token file") == true, "\(String(describing: error))")
    }

    @Test("constant-time comparison agrees with ==")
    func constantTime() {
        #expect(AccessToken.constantTimeEquals("abc", "abc"))
        #expect(!AccessToken.constantTimeEquals("abc", "abd"))
        #expect(!AccessToken.constantTimeEquals("abc", "abcd"))
        #expect(AccessToken.generate() != AccessToken.generate())
    }

    @Test("scopes include the ones below them")
    func scopes() {
        #expect(AccessScope.admin.allows(.submit) && AccessScope.admin.allows(.read))
        #expect(AccessScope.submit.allows(.read) && !AccessScope.submit.allows(.admin))
        #expect(!AccessScope.read.allows(.submit))
    }
}

@Suite("PresentedCredentials: Bearer, and Basic with the token as password")
struct PresentedCredentialsTests {
    @Test func forms() {
        #expect(PresentedCredentials(authorization: nil) == .none)
        #expect(PresentedCredentials(authorization: "Bearer shunter_abc") == .token("shunter_abc"))
        #expect(PresentedCredentials(authorization: "bearer  shunter_abc") == .token("shunter_abc"))
        let basic = Data("seamless:shunter_x%2By".utf8).base64EncodedString()
        #expect(PresentedCredentials(authorization: "Basic \(basic)") == .token("shunter_x+y"))
        let colonInToken = Data("me:a:b".utf8).base64EncodedString()
        #expect(PresentedCredentials(authorization: "Basic \(colonInToken)") == .token("a:b"))
        for bad in ["Bearer", "Basic !!!", "Basic \(Data("nocolon".utf8).base64EncodedString())", "Digest x", "Basic \(Data("me:".utf8).base64EncodedString())"] {
            guard case .malformed = PresentedCredentials(authorization: bad) else {
                Issue.record("'\(bad)' must be malformed")
                continue
            }
        }
    }
}

@Suite("FailedAttemptLimiter: a burst of failures, then one per interval")
struct FailedAttemptLimiterTests {
    @Test func bucket() {
        var limiter = FailedAttemptLimiter(burst: 3, interval: 2, capacity: 2)
        for _ in 0..<3 {
            #expect(limiter.allows("a", at: 100))
            limiter.recordFailure("a", at: 100)
        }
        #expect(!limiter.allows("a", at: 100))
        #expect(limiter.retryAfter("a", at: 100) == 2)
        #expect(limiter.allows("b", at: 100), "another address is not slowed down")
        #expect(!limiter.allows("a", at: 101.9))
        #expect(limiter.allows("a", at: 102))
        limiter.recordFailure("a", at: 102)
        #expect(!limiter.allows("a", at: 102))
    }

    @Test("the addresses it remembers are bounded; the oldest is forgotten first")
    func capacity() {
        var limiter = FailedAttemptLimiter(burst: 1, interval: 1000, capacity: 2)
        limiter.recordFailure("a", at: 0)
        limiter.recordFailure("b", at: 0)
        limiter.recordFailure("c", at: 0)
        #expect(limiter.allows("a", at: 0), "forgotten")
        #expect(!limiter.allows("b", at: 0) && !limiter.allows("c", at: 0))
    }
}
