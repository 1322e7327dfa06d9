import Hummingbird
import NIOCore
import ShunterAuth

/// The context of every request to the broker: Hummingbird's core, the client's address (for
/// the failed-attempt limiter and the audit log) and, once `AuthenticationMiddleware` has run,
/// who sends the request.
package struct ShunterRequestContext: RequestContext, RemoteAddressRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let remoteAddress: SocketAddress?
    /// The anonymous admin until the middleware says otherwise (and on a broker without tokens).
    package var principal: Principal = .anonymous

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The client's IP address as text: the key of the failed-attempt limiter.
    var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// A request context that knows who sends the request: the routes that answer only a job's
/// owner (or an admin) ask it.
package protocol PrincipalRequestContext: RequestContext {
    var principal: Principal { get }
}

extension ShunterRequestContext: PrincipalRequestContext {}
