import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// How many connections the server holds, shared by every connection's handler: beyond
/// `limit`, a new connection is closed as soon as it is accepted, so the broker keeps file
/// descriptors for its jobs, stores and journal instead of running out of them.
package final class ConnectionCounter: Sendable {
    package let limit: Int
    private let state = Mutex<(open: Int, refusedInARow: Int)>((0, 0))

    package init(limit: Int) {
        self.limit = limit
    }

    package var open: Int { state.withLock { $0.open } }

    /// Takes a slot; false when every slot is taken. `firstRefusal` is true for the first
    /// refusal after a connection was accepted, so a flood is logged once, not per connection.
    package func take() -> (taken: Bool, firstRefusal: Bool) {
        state.withLock { state in
            guard state.open < limit else {
                state.refusedInARow += 1
                return (false, state.refusedInARow == 1)
            }
            state.open += 1
            state.refusedInARow = 0
            return (true, false)
        }
    }

    package func release() {
        state.withLock { $0.open = max(0, $0.open - 1) }
    }
}

/// Closes connections the server should not keep: beyond the connection cap, idle or with a
/// request head that does not arrive within the idle timeout, or with a body that does not
/// arrive within the body timeout. The timing decisions are `ConnectionDeadlines`'; this
/// handler feeds it the connection's events on the channel's event loop.
package final class ConnectionLimitHandler: ChannelDuplexHandler, RemovableChannelHandler {
    package typealias InboundIn = HTTPRequestPart
    package typealias InboundOut = HTTPRequestPart
    package typealias OutboundIn = HTTPResponsePart
    package typealias OutboundOut = HTTPResponsePart

    private var deadlines: ConnectionDeadlines
    private let counter: ConnectionCounter
    private let logger: Logger
    private var wakeUp: Scheduled<Void>?
    private var started = false
    private var holdsSlot = false

    package init(limits: ConnectionDeadlines.Limits, counter: ConnectionCounter, logger: Logger) {
        deadlines = ConnectionDeadlines(limits: limits)
        self.counter = counter
        self.logger = logger
    }

    package func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    package func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    package func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    package func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: apply(deadlines.receivedHead(at: .now), context)
        case .body: break
        case .end: apply(deadlines.receivedEnd(at: .now), context)
        }
        context.fireChannelRead(data)
    }

    package func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            apply(deadlines.sentEnd(at: .now), context)
        }
        context.write(data, promise: promise)
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        let (taken, firstRefusal) = counter.take()
        guard taken else {
            if firstRefusal {
                logger.warning(
                    "refusing connections: the server holds max_connections already",
                    metadata: [
                        "max_connections": "\(counter.limit)",
                        "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                    ])
            }
            context.close(promise: nil)
            return
        }
        holdsSlot = true
        apply(deadlines.opened(at: .now), context)
    }

    private func stop() {
        wakeUp?.cancel()
        wakeUp = nil
        if holdsSlot {
            holdsSlot = false
            counter.release()
        }
    }

    private func apply(_ action: ConnectionDeadlines.Action, _ context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .cancelWake:
            wakeUp?.cancel()
            wakeUp = nil
        case .wake(let instant):
            wakeUp?.cancel()
            let (seconds, attoseconds) = ContinuousClock.now.duration(to: instant).components
            // Limits are validated when the config is read; the bounds only keep the arithmetic safe.
            let nanoseconds: Int64 =
                seconds < 0
                ? 0
                : seconds >= 9_000_000_000 ? Int64.max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
            let loop = context.eventLoop
            wakeUp = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
                wakeUp = nil
                apply(deadlines.deadlinePassed(at: .now), context)
            }
        case .close(let reason):
            wakeUp?.cancel()
            wakeUp = nil
            logger.debug(
                "closing connection",
                metadata: ["reason": "\(reason)", "remote": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension ConnectionLimitHandler: Sendable {}
