import Foundation
import Logging
import ShunterCore
import ShunterHandlers

/// Where environments are built and kept: creation on first use, one build per spec at a
/// time across every broker sharing the root, removal after a time unused.
///
/// Layout under `root` (on a shared file system when jobs run on Slurm nodes):
/// ```
/// <id16>                  symlink naming the environment → .prefixes/<id16>-<random>
/// .prefixes/<id16>-<r>/   the prefix itself, with .shunter-environment.json once complete
/// .builds/<id16>-<r>/     a build's scratch (spec files, tool output), removed afterwards
/// .locks/<id16>.build     held exclusively while building
/// .locks/<id16>.use       held shared by every job in the environment; its time is the last use
/// logs/<id16>.log         the last build's log (kept after a failure, for the user)
/// ```
/// A prefix is built at its final real path and only its *name* is renamed into place:
/// conda packages and venvs write their own prefix into scripts and metadata, so a prefix
/// built elsewhere and moved would point into a directory that no longer exists. Until the
/// symlink appears, no job sees the environment; a build that dies leaves a prefix no name
/// points to, which the janitor removes.
package actor EnvironmentStore {
    package nonisolated let config: EnvironmentsConfig
    package nonisolated let catalog: EnvironmentCatalog
    private let managers: [any EnvironmentManager]
    private let toolEnvironment: [String: String]
    private let logger: Logger
    /// Builds under way in this broker, by identity: a second job for the same spec waits on
    /// the first one's build.
    private var building: [String: Task<Built, any Error>] = [:]
    /// Builds this store ran (not the ones it waited for): for `/status` and tests.
    package private(set) var buildsRun = 0

    struct Built: Sendable {
        var prefix: String
        var kind: EnvironmentKind
    }

    package init(
        config: EnvironmentsConfig, managers: [any EnvironmentManager],
        toolEnvironment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger
    ) {
        self.config = config
        self.catalog = EnvironmentCatalog(directory: config.definitions)
        self.managers = managers
        self.toolEnvironment = toolEnvironment
        self.logger = logger
    }

    // MARK: - Which environment a job wants

    /// The spec a transformation's `__env__` asks for: its inline `conda` spec (named by
    /// `conda_environment` when both are given), else the definition named by
    /// `conda_environment`. Nil when the name is not defined here (the bash plugin may still
    /// activate it from an existing conda installation) or the job asks for none.
    package nonisolated func spec(for environment: TransformationEnvironment) throws(EnvironmentError)
        -> EnvironmentSpec?
    {
        var spec: EnvironmentSpec
        if let inline = environment.condaSpec {
            do throws(ConfigErrors) {
                spec = try EnvironmentSpecParser.parse(inline: inline)
            } catch {
                throw .badSpec(origin: "__env__.conda", error)
            }
            if let name = environment.condaEnvironment { spec.name = name }
        } else if let name = environment.condaEnvironment {
            guard let named = try catalog.spec(named: name) else { return nil }
            spec = named
        } else {
            return nil
        }
        if spec.channels.isEmpty { spec.channels = config.channels }
        return spec
    }

    /// The error for a `conda_environment` that `spec(for:)` did not find.
    package nonisolated func unknown(_ name: String) -> EnvironmentError {
        .unknownName(name, known: catalog.names(), definitions: config.definitions)
    }

    // MARK: - Getting it built

    /// The environment for `spec`, built now if it does not exist yet, leased to the caller
    /// until the returned value is dropped.
    package func prepare(_ spec: EnvironmentSpec, jobID: String? = nil) async throws(EnvironmentError)
        -> ReadyEnvironment
    {
        let id = spec.shortIdentity
        var metadata: Logger.Metadata = ["environment": "\(spec.label)", "identity": "\(id)"]
        if let jobID { metadata["job"] = "\(jobID)" }
        do {
            try createLayout()
            // The lease comes first: from then on the janitor leaves the environment alone.
            let lease = try await FileLock.acquire(lockPath(id, "use"), .shared, touchOnRelease: true)
            lease.touch()
            let built: Built
            if let existing = existing(id) {
                built = existing
            } else {
                logger.info("environment not built yet: building it", metadata: metadata)
                built = try await build(spec)
            }
            return ReadyEnvironment(
                label: spec.label, identity: spec.identity, prefix: built.prefix, kind: built.kind,
                variables: spec.variables, lease: lease)
        } catch let error as EnvironmentError {
            throw error
        } catch {
            throw .internalError("environment '\(spec.label)': \(error)")
        }
    }

    /// The environment whose prefix is `prefix`, leased again for a job that outlived a broker
    /// restart (its execution names the prefix); nil when it is not one of this store's or is
    /// gone.
    package func lease(prefix: String) async -> ReadyEnvironment? {
        let directory = (prefix as NSString).lastPathComponent
        guard (prefix as NSString).deletingLastPathComponent == "\(config.root)/.prefixes",
            let marker = EnvironmentMarker.read(from: prefix),
            let lease = try? await FileLock.acquire(
                lockPath(String(directory.prefix(16)), "use"), .shared, touchOnRelease: true)
        else { return nil }
        return ReadyEnvironment(
            label: marker.label, identity: marker.identity, prefix: prefix, kind: marker.kind, variables: [:],
            lease: lease)
    }

    private func build(_ spec: EnvironmentSpec) async throws -> Built {
        let id = spec.shortIdentity
        if let running = building[id] { return try await running.value }
        let task = Task { try await self.buildLocked(spec) }
        building[id] = task
        defer { building[id] = nil }
        return try await task.value
    }

    private func buildLocked(_ spec: EnvironmentSpec) async throws -> Built {
        let id = spec.shortIdentity
        let metadata: Logger.Metadata = ["environment": "\(spec.label)", "identity": "\(id)"]
        let logger = self.logger
        let lock = try await FileLock.acquire(lockPath(id, "build"), .exclusive) {
            logger.info("another broker is building this environment: waiting for it", metadata: metadata)
        }
        // Held to the end of the build, whatever the optimizer would make of an unused value.
        defer { withExtendedLifetime(lock) {} }
        // Built by another broker while this one waited for the lock.
        if let existing = existing(id) { return existing }

        var reasons: [(manager: String, reason: String)] = []
        var chosen: (any EnvironmentManager)?
        for manager in managers {
            if let reason = await manager.unsuitability(for: spec) {
                reasons.append((manager.name, reason))
            } else {
                chosen = manager
                break
            }
        }
        guard let manager = chosen else { throw EnvironmentError.noManager(label: spec.label, reasons: reasons) }

        let suffix = "\(id)-\(UUID().uuidString.prefix(8).lowercased())"
        let prefix = "\(config.root)/.prefixes/\(suffix)"
        let workspace = "\(config.root)/.builds/\(suffix)"
        let log = "\(config.root)/logs/\(id).log"
        try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        // The build goes on without its log if the file cannot be made; `note` tries again.
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let step = ManagerCommand(
            workspace: workspace, logPath: log, environment: toolEnvironment, timeout: config.buildTimeout)
        step.note("# environment '\(spec.label)' (\(spec.origin)), identity \(spec.identity)")
        step.note("# manager: \(manager.name); prefix: \(prefix)")
        step.note(spec.environmentYAML)
        let started = ContinuousClock.now
        buildsRun += 1
        logger.info("building environment", metadata: metadata.merging(["manager": "\(manager.name)"]) { $1 })
        do {
            try await manager.create(spec, prefix: prefix, step: step)
        } catch {
            try? FileManager.default.removeItem(atPath: prefix)
            let message = (error as? EnvironmentBuildFailure)?.message ?? "\(error)"
            step.note("# FAILED: \(message)")
            logger.error(
                "environment build failed",
                metadata: metadata.merging(["manager": "\(manager.name)", "log": "\(log)"]) { $1 })
            throw EnvironmentError.buildFailed(label: spec.label, manager: manager.name, message: message, log: log)
        }
        let marker = EnvironmentMarker(
            identity: spec.identity, label: spec.label, origin: spec.origin, kind: manager.kind, manager: manager.name,
            created: Date().timeIntervalSince1970, spec: spec.environmentYAML)
        try marker.write(into: prefix)
        try publish(id: id, prefix: prefix)
        let seconds = (ContinuousClock.now - started).components.seconds
        step.note("# built in \(seconds) s")
        logger.info(
            "environment built",
            metadata: metadata.merging(["manager": "\(manager.name)", "seconds": "\(seconds)"]) { $1 })
        return Built(prefix: prefix, kind: manager.kind)
    }

    /// Points the environment's name at the finished prefix, atomically (rename of a symlink).
    private func publish(id: String, prefix: String) throws {
        let name = "\(config.root)/\(id)"
        let temporary = "\(config.root)/.builds/\(id).link-\(UUID().uuidString.prefix(8))"
        let previous = try? FileManager.default.destinationOfSymbolicLink(atPath: name)
        try FileManager.default.createSymbolicLink(
            atPath: temporary, withDestinationPath: ".prefixes/" + (prefix as NSString).lastPathComponent)
        guard rename(temporary, name) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw EnvironmentError.internalError("cannot put environment \(name) in place: \(reason)")
        }
        // A name that pointed at an incomplete prefix (a broker died mid-build before the
        // marker check ran) loses it now.
        if let previous, !previous.isEmpty {
            try? FileManager.default.removeItem(atPath: "\(config.root)/\(previous)")
        }
    }

    /// The complete environment named `id`, if there is one.
    private nonisolated func existing(_ id: String) -> Built? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(config.root)/\(id)") else {
            return nil
        }
        let prefix = target.hasPrefix("/") ? target : "\(config.root)/\(target)"
        guard let marker = EnvironmentMarker.read(from: prefix) else { return nil }
        return Built(prefix: prefix, kind: marker.kind)
    }

    private nonisolated func lockPath(_ id: String, _ kind: String) -> String { "\(config.root)/.locks/\(id).\(kind)" }

    private nonisolated func createLayout() throws {
        for directory in [".prefixes", ".builds", ".locks", "logs"] {
            try FileManager.default.createDirectory(
                atPath: "\(config.root)/\(directory)", withIntermediateDirectories: true)
        }
    }

    // MARK: - What is there

    /// The built environments under `root`, for `GET /environments`.
    package func inventory() -> [EnvironmentSummary] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: config.root)) ?? []
        return entries.sorted().compactMap { id -> EnvironmentSummary? in
            guard !id.hasPrefix("."), let built = existing(id), let marker = EnvironmentMarker.read(from: built.prefix)
            else {
                return nil
            }
            let lastUse =
                (try? FileManager.default.attributesOfItem(atPath: lockPath(id, "use")))?[.modificationDate] as? Date
            return EnvironmentSummary(
                label: marker.label, identity: marker.identity, kind: marker.kind, manager: marker.manager,
                prefix: built.prefix, origin: marker.origin, created: marker.created,
                lastUsed: lastUse?.timeIntervalSince1970, building: building[id] != nil)
        }
    }

    /// Identities being built by this broker now.
    package var buildsUnderWay: [String] { building.keys.sorted() }

    // MARK: - Removing unused environments

    /// Removes every environment no job has used for `config.keepUnused` and that no job (of
    /// any broker) uses now, and what crashed builds left. Returns the removed identities.
    ///
    /// Only file locks decide, not this broker's own state: a job holds its environment's use
    /// lock (shared) from before its build until it ends, and a build holds the build lock, so
    /// an exclusive lock on both means nobody anywhere uses or builds the environment. Not
    /// isolated to the actor: deleting a large prefix must not hold up jobs' `prepare`.
    @discardableResult
    package nonisolated func removeUnused(now: Date = Date()) -> [String] {
        let root = config.root
        let files = FileManager.default
        var removed: [String] = []
        for id in (try? files.contentsOfDirectory(atPath: root)) ?? [] where !id.hasPrefix(".") && id != "logs" {
            guard (try? files.destinationOfSymbolicLink(atPath: "\(root)/\(id)")) != nil,
                let use = try? FileLock.attempt(lockPath(id, "use"), .exclusive),
                let lastUse = (try? files.attributesOfItem(atPath: use.path))?[.modificationDate] as? Date,
                now.timeIntervalSince(lastUse) > Double(config.keepUnused.components.seconds),
                let build = try? FileLock.attempt(lockPath(id, "build"), .exclusive),
                // Read again under the locks: a build may have renamed a new prefix into place.
                let target = try? files.destinationOfSymbolicLink(atPath: "\(root)/\(id)")
            else { continue }
            try? files.removeItem(atPath: "\(root)/\(id)")
            try? files.removeItem(atPath: target.hasPrefix("/") ? target : "\(root)/\(target)")
            removed.append(id)
            logger.info("removed environment unused since \(lastUse)", metadata: ["identity": "\(id)"])
            withExtendedLifetime((use, build)) {}
        }
        // Prefixes and scratch directories of builds that died: nobody holds their build lock
        // and, checked under that lock, no name points at them.
        for directory in [".prefixes", ".builds"] {
            for entry in (try? files.contentsOfDirectory(atPath: "\(root)/\(directory)")) ?? [] {
                let id = String(entry.prefix(16))
                guard let build = try? FileLock.attempt(lockPath(id, "build"), .exclusive) else { continue }
                let named =
                    (try? files.destinationOfSymbolicLink(atPath: "\(root)/\(id)")).map {
                        ($0 as NSString).lastPathComponent == entry
                    } ?? false
                if !named { try? files.removeItem(atPath: "\(root)/\(directory)/\(entry)") }
                withExtendedLifetime(build) {}
            }
        }
        return removed
    }
}

/// One built environment, as `GET /environments` lists it.
package struct EnvironmentSummary: Sendable, Codable, Hashable {
    package var label: String
    package var identity: String
    package var kind: EnvironmentKind
    package var manager: String
    package var prefix: String
    /// The definition file, or `__env__.conda`.
    package var origin: String
    /// Seconds since 1970.
    package var created: Double
    package var lastUsed: Double?
    /// A rebuild of the same identity is under way (after its prefix went missing).
    package var building: Bool
}

/// `.shunter-environment.json` in a finished prefix: its presence means "complete".
struct EnvironmentMarker: Codable, Sendable {
    static let fileName = ".shunter-environment.json"

    var identity: String
    var label: String
    var origin: String
    var kind: EnvironmentKind
    var manager: String
    var created: Double
    var spec: String

    func write(into prefix: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: "\(prefix)/\(Self.fileName)"), options: .atomic)
    }

    static func read(from prefix: String) -> EnvironmentMarker? {
        guard let data = FileManager.default.contents(atPath: "\(prefix)/\(fileName)") else { return nil }
        return try? JSONDecoder().decode(EnvironmentMarker.self, from: data)
    }
}
