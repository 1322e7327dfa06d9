import Foundation
import Synchronization

/// Decides, for one request, who sends it and whether it may: the token file, the route table
/// and the failed-attempt limiter together. Used by the HTTP layer's middleware; knows nothing
/// of HTTP itself.
package final class RequestAuthenticator: Sendable {
    package let mode: AuthenticationMode
    package let registry: TokenRegistry?
    private let limiter: Mutex<FailedAttemptLimiter>

    package init(
        mode: AuthenticationMode, registry: TokenRegistry?, limiter: FailedAttemptLimiter = FailedAttemptLimiter()
    ) {
        self.mode = mode
        self.registry = registry
        self.limiter = Mutex(limiter)
    }

    package enum Decision: Sendable, Equatable {
        case allowed(Principal)
        /// 401, with the sentence to show.
        case unauthenticated(String)
        /// 403, with the sentence to show.
        case forbidden(String)
        /// 429: too many failed attempts from this address; seconds to wait.
        case slowDown(retryAfter: Double)
        /// 500: the token file cannot be read (the message names it).
        case unavailable(String)
    }

    package func decide(
        method: String, path: String, authorization: String?, client: String, now: Double = Date().timeIntervalSince1970
    ) -> Decision {
        let requirement = RoutePolicy.requirement(method: method, path: path)
        guard mode == .tokens, let registry else { return .allowed(.anonymous) }
        if requirement == .open { return .allowed(.anonymous) }
        guard case .scope(let needed) = requirement else { return .allowed(.anonymous) }
        if !limiter.withLock({ $0.allows(client, at: now) }) {
            return .slowDown(retryAfter: limiter.withLock { $0.retryAfter(client, at: now) })
        }
        let token: String
        switch PresentedCredentials(authorization: authorization) {
        case .none:
            return .unauthenticated(
                "this broker needs a token: send 'Authorization: Bearer TOKEN', or put it in the URL as "
                    + "http://NAME:TOKEN@host:port; an admin creates one with 'shunter token add NAME --scope submit'")
        case .malformed(let reason):
            limiter.withLock { $0.recordFailure(client, at: now) }
            return .unauthenticated(
                "\(reason): send 'Authorization: Bearer TOKEN' or HTTP Basic with the token as password")
        case .token(let text):
            token = text
        }
        let verdict: TokenRegistry.Verdict
        do {
            verdict = try registry.authenticate(token, now: now)
        } catch {
            return .unavailable("the broker cannot read its token file: \(error)")
        }
        switch verdict {
        case .unknown:
            limiter.withLock { $0.recordFailure(client, at: now) }
            return .unauthenticated("the token is not known to this broker (revoked, or for another broker)")
        case .expired(let name):
            limiter.withLock { $0.recordFailure(client, at: now) }
            return .unauthenticated(
                "the token '\(name)' has expired; an admin can add a new one with 'shunter token add'")
        case .accepted(let principal):
            guard principal.scope.allows(needed) else {
                return .forbidden(
                    "the token '\(principal.name)' has scope '\(principal.scope.rawValue)'; \(method) \(path) needs "
                        + "'\(needed.rawValue)'")
            }
            return .allowed(principal)
        }
    }
}
