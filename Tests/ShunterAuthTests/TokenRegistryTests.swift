import Foundation
import ShunterHandlers
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

    @Test(
        "a revoked token is refused by a registry that had already read the file (the broker's, while the CLI changes it)"
    )
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
        #expect(
            error?.description.hasPrefix(path + ": is not a valid token file") == true, "\(String(describing: error))")
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
        for bad in [
            "Bearer", "Basic !!!", "Basic \(Data("nocolon".utf8).base64EncodedString())", "Digest x",
            "Basic \(Data("me:".utf8).base64EncodedString())",
        ] {
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

@Suite("StartupAuthentication: the safe default")
struct StartupAuthenticationTests {
    func decide(_ setting: StartupAuthentication.Setting, _ host: String, tokens: Bool, tls: Bool = false)
        -> Result<StartupAuthentication.Outcome, StartupAuthentication.Refusal>
    {
        StartupAuthentication.decide(
            setting: setting, host: host, port: 5533, tokensExist: tokens, tokenFile: "/r/tokens.json", tls: tls)
    }

    @Test("loopback without tokens is open, as on a laptop; with tokens they are asked for")
    func loopback() throws {
        #expect(try decide(.automatic, "127.0.0.1", tokens: false).get() == .init(mode: .open, warnings: []))
        #expect(try decide(.automatic, "localhost", tokens: true).get() == .init(mode: .tokens, warnings: []))
        #expect(try decide(.automatic, "::1", tokens: false).get().mode == .open)
    }

    @Test("beyond loopback without a token the start is refused with how to add one; auth none starts, loudly")
    func network() throws {
        guard case .failure(let refusal) = decide(.automatic, "0.0.0.0", tokens: false) else {
            Issue.record("must refuse")
            return
        }
        #expect(refusal.description.contains("shunter token add"))
        #expect(refusal.description.contains("auth: {mode: none}"))
        let open = try decide(.none, "0.0.0.0", tokens: false).get()
        #expect(open.mode == .open && open.warnings.count == 1)
        #expect(
            StartupAuthentication.isLoopback(host: "127.1.2.3") && !StartupAuthentication.isLoopback(host: "10.0.0.1"))
        #expect(!StartupAuthentication.isLoopback(host: "127.example.org"))
    }

    @Test("tokens in clear text beyond loopback are warned about, not with TLS")
    func clearText() throws {
        #expect(try decide(.automatic, "10.1.2.3", tokens: true).get().warnings.first?.contains("clear text") == true)
        #expect(try decide(.automatic, "10.1.2.3", tokens: true, tls: true).get().warnings == [])
        guard case .failure = decide(.tokens, "127.0.0.1", tokens: false) else {
            Issue.record("auth.mode tokens without a token must refuse")
            return
        }
    }
}

@Suite("RequestAuthenticator: the route table, scopes, 401/403/429")
struct RequestAuthenticatorTests {
    @Test("each scope against each kind of route")
    func table() throws {
        let directory = NSTemporaryDirectory() + "shunter-auth-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = TokenRegistry(path: directory + "/tokens.json")
        let tokens = try Dictionary(
            uniqueKeysWithValues: AccessScope.allCases.map {
                ($0, try registry.add(name: "t-\($0.rawValue)", scope: $0).text)
            })
        let authenticator = RequestAuthenticator(mode: .tokens, registry: registry)
        let routes: [(String, String, AccessScope?)] = [
            ("GET", "/healthcheck", nil),
            ("GET", "/run-transformation", .submit), ("GET", "/transformation-status/ab", .read),
            ("POST", "/cancel-transformation/ab", .submit), ("POST", "/jobs", .submit), ("GET", "/jobs", .read),
            ("GET", "/jobs/12", .read), ("POST", "/jobs/12/cancel", .submit), ("GET", "/status", .read),
            ("GET", "/abcdef", .read), ("PUT", "/abcdef", .submit), ("PUT", "/promise/abcdef", .submit),
            ("GET", "/has", .read), ("GET", "/", .read), ("PUT", "/", .submit), ("GET", "/tokens", .admin),
            ("GET", "/environments", .read),
        ]
        for (method, path, needed) in routes {
            for scope in AccessScope.allCases {
                let decision = authenticator.decide(
                    method: method, path: path, authorization: "Bearer \(tokens[scope]!)", client: "c")
                switch (needed, decision) {
                case (nil, .allowed): break
                case (let needed?, .allowed(let principal)):
                    #expect(scope.allows(needed), "\(method) \(path) with \(scope)")
                    #expect(principal.name == "t-\(scope.rawValue)")
                case (let needed?, .forbidden(let sentence)):
                    #expect(!scope.allows(needed), "\(method) \(path) with \(scope)")
                    #expect(sentence.contains("needs '\(needed.rawValue)'"))
                default: Issue.record("\(method) \(path) with \(scope): \(decision)")
                }
            }
            let anonymous = authenticator.decide(method: method, path: path, authorization: nil, client: "c")
            if needed == nil {
                #expect(anonymous == .allowed(.anonymous))
            } else {
                guard case .unauthenticated = anonymous else {
                    Issue.record("\(method) \(path) without a token: \(anonymous)")
                    continue
                }
            }
        }
    }

    @Test("failed attempts from one address are slowed down; a broker without tokens lets everyone in")
    func limiter() throws {
        let directory = NSTemporaryDirectory() + "shunter-auth-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let registry = TokenRegistry(path: directory + "/tokens.json")
        let good = try registry.add(name: "a", scope: .read).text
        let authenticator = RequestAuthenticator(
            mode: .tokens, registry: registry, limiter: FailedAttemptLimiter(burst: 2, interval: 60))
        for _ in 0..<2 {
            guard
                case .unauthenticated = authenticator.decide(
                    method: "GET", path: "/x", authorization: "Bearer bad", client: "evil", now: 0)
            else {
                Issue.record("a bad token is a 401")
                return
            }
        }
        guard
            case .slowDown = authenticator.decide(
                method: "GET", path: "/x", authorization: "Bearer \(good)", client: "evil", now: 1)
        else {
            Issue.record("the third attempt is slowed down, whatever it presents")
            return
        }
        #expect(
            authenticator.decide(method: "GET", path: "/x", authorization: "Bearer \(good)", client: "other", now: 1)
                == .allowed(Principal(name: "a", scope: .read)))
        #expect(
            authenticator.decide(method: "GET", path: "/x", authorization: "Bearer \(good)", client: "evil", now: 61)
                == .allowed(Principal(name: "a", scope: .read)))
        let open = RequestAuthenticator(mode: .open, registry: nil)
        #expect(open.decide(method: "PUT", path: "/", authorization: nil, client: "x") == .allowed(.anonymous))
    }
}
