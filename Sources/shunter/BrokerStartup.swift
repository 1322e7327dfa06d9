import ArgumentParser
import Foundation
import Logging
import NIOSSL
import ShunterAuth
import ShunterBackends
import ShunterEnvironments
import ShunterHandlers
import ShunterPlugins
import ShunterRuntime
import ShunterServer
import ShunterStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The start of every command that runs a broker: logging at the config's level, then the
/// services, with configuration errors printed one per line and exit code 2.
enum BrokerStartup {
    static func logger(for config: BrokerConfig) -> Logger {
        let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
        // The log handler's timestamps call localtime(), which with TZ unset stats
        // /etc/localtime at every line (glibc re-checks the default zone file); naming that
        // file keeps the same zone and reads it once.
        if getenv("TZ") == nil { setenv("TZ", ":/etc/localtime", 0) }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "shunter")
    }

    /// The locks of this process's journal, work root and buffer store, held until it exits.
    private static let heldLocks = Mutex<[BrokerLock]>([])

    /// Claims the journal, the work root and the embedded buffer store for this process, before
    /// anything reads them: recovery takes every unfinished job and every process working in a
    /// job directory for a crash's leftovers, which beside a live broker would be its jobs.
    static func lockStore(config: BrokerConfig, logger: Logger, command: String) throws(BrokerLockError) {
        var guarded: [(path: String, what: String)] = [(config.journal, "journal"), (config.workdir, "work root")]
        if case .path(let buffers) = config.store.buffers { guarded.append((buffers, "buffer store")) }
        var seen: Set<String> = []
        for (path, what) in guarded where seen.insert(BrokerLock.lockPath(guarding: path)).inserted {
            let lock = try BrokerLock.acquire(guarding: path, what: what, command: command)
            if let previous = lock.previousHolder {
                logger.info(
                    "took over a lock its holder left when it stopped",
                    metadata: ["lock": "\(lock.path)", "previous": "\(previous)"])
            }
            heldLocks.withLock { $0.append(lock) }
        }
    }

    /// Guards the broker process before it opens anything (docs/security.md): what it creates
    /// is owner-only (its jobs keep the umask it was started with), no job of its user can read
    /// its environment or memory, and no descriptor reaches a crash reporter.
    static func guardProcess(config: BrokerConfig, logger: Logger) {
        let jobUmask = BrokerProcessGuards.makeFilesOwnerOnly()
        if !BrokerProcessGuards.makeUndumpable() {
            logger.warning("could not make the broker non-dumpable: jobs of its user may read its environment")
        }
        BrokerProcessGuards.installCrashDescriptorGuard()
        // Stores made before this broker made its files owner-only: their roots are closed.
        var existing = [config.journal, config.journal + "-wal", config.journal + "-shm", config.workdir]
        if case .path(let buffers) = config.store.buffers { existing.append(buffers) }
        if case .path(let results) = config.store.results { existing += [results, results + "-wal", results + "-shm"] }
        for path in existing {
            guard let (mode, owner) = modeAndOwner(path), mode & 0o077 != 0, owner == geteuid() else { continue }
            if chmod(path, mode & 0o7700) == 0 {
                logger.notice(
                    "made owner-only", metadata: ["path": "\(path)", "was": "\(String(mode & 0o777, radix: 8))"])
            }
        }
        logger.debug("process guarded", metadata: ["job_umask": "\(String(jobUmask, radix: 8))"])
    }

    /// The permission bits and owner of a path itself (a link is not followed).
    private static func modeAndOwner(_ path: String) -> (mode_t, uid_t)? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            attributes[.type] as? FileAttributeType != .typeSymbolicLink,
            let mode = (attributes[.posixPermissions] as? NSNumber)?.uint32Value,
            let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        else { return nil }
        return (mode_t(mode & 0o7777), uid_t(owner))
    }

    /// Jobs that run as another user (`local.run_as`) are given absolute paths under the work
    /// root (the file where their command records its exit status, directory pins): the work
    /// root and the directories between it and the config's root, which this broker made
    /// owner-only, may be passed through by others (x, never r: nobody lists them).
    static func makeWorkRootPassable(config: BrokerConfig, logger: Logger) {
        var path = config.workdir
        let root = config.root.hasSuffix("/") ? String(config.root.dropLast()) : config.root
        while path.count > 1 {
            if let (mode, owner) = modeAndOwner(path), owner == geteuid(), mode & 0o011 != 0o011 {
                _ = chmod(path, mode | 0o011)
                logger.info("made passable for jobs run as another user", metadata: ["path": "\(path)"])
            }
            guard path.hasPrefix(root + "/"), let slash = path.lastIndex(of: "/") else { break }
            path = String(path[..<slash])
            if path == root { break }
        }
    }

    /// Opens the services; a handler whose engine (docker, apptainer) is missing only warns.
    static func openServices(config: BrokerConfig, logger: Logger, command: String) async throws -> ShunterServices {
        guardProcess(config: config, logger: logger)
        do {
            // A config that cannot work is reported as such (file:line:column), before the
            // lock files, which it may name unusable places for, are made.
            let validated = try ShunterServices.validatedHandlers(config: config)
            try lockStore(
                config: config, logger: logger,
                command: "\(command) \(CommandLine.arguments.dropFirst().joined(separator: " "))")
            let services = try await ShunterServices.open(config: config, validated: validated, logger: logger)
            // Under the store's lock nothing else writes there: every temporary file is a
            // leftover of a killed process.
            if let store = services.buffers as? FileBufferStore { await store.removeInterruptedWrites(atStart: true) }
            if services.handlers.contains(where: { $0.backend == "local" && $0.options["local"]?["run_as"] != nil }) {
                makeWorkRootPassable(config: config, logger: logger)
            }
            for warning in await BackendAvailability.warnings(for: services.handlers) { logger.warning("\(warning)") }
            return services
        } catch let error as BrokerLockError {
            printError("\(command): cannot start: \(error)")
            throw ShunterExit.storeInUse
        } catch let errors as ConfigErrors {
            for error in errors.errors { printError("\(error)") }
            throw ShunterExit.invalidConfiguration
        } catch {
            printError("\(command): cannot start: \(error)")
            throw ShunterExit.invalidConfiguration
        }
    }
}

extension BrokerStartup {
    /// Who may use the server, decided before anything is opened: a broker that would be open
    /// to the network without a token refuses to start, with how to add one (exit code 2).
    static func httpAccess(config: BrokerConfig, logger: Logger, command: String) throws -> HTTPAccess {
        let registry = TokenRegistry(path: config.auth.tokens)
        let tokensExist: Bool
        do {
            tokensExist = try !registry.isEmpty()
        } catch {
            printError("\(command): cannot start: \(error)")
            throw ShunterExit.invalidConfiguration
        }
        switch StartupAuthentication.decide(
            setting: config.auth.mode, host: config.listen.host, port: config.listen.port, tokensExist: tokensExist,
            tokenFile: config.auth.tokens, tls: config.tls != nil)
        {
        case .failure(let refusal):
            let location = config.locations["auth.mode"] ?? config.locations["listen"]
            printError("\(command): cannot start: \(location.map { "\($0): " } ?? "")\(refusal)")
            throw ShunterExit.invalidConfiguration
        case .success(let outcome):
            for warning in outcome.warnings { logger.warning("\(warning)") }
            var tls: TLSConfiguration?
            if let files = config.tls {
                do {
                    tls = try HTTPAccess.loadTLS(files)
                } catch {
                    printError("\(command): cannot start: \(config.locations["tls"].map { "\($0): " } ?? "")\(error)")
                    throw ShunterExit.invalidConfiguration
                }
            }
            guard outcome.mode == .tokens else {
                var open = HTTPAccess.open
                open.tls = tls
                return open
            }
            let audit: AuditLog
            do {
                audit = try AuditLog(path: config.auth.auditLog)
            } catch {
                printError("\(command): cannot start: \(error)")
                throw ShunterExit.invalidConfiguration
            }
            logger.notice(
                "clients present tokens",
                metadata: ["tokens": "\(config.auth.tokens)", "audit_log": "\(config.auth.auditLog)"])
            return HTTPAccess(
                authenticator: RequestAuthenticator(mode: .tokens, registry: registry), audit: audit, tls: tls)
        }
    }
}

extension ShunterExit {
    /// Another broker holds the journal, work root or buffer store.
    static let storeInUse = ExitCode(5)
}
