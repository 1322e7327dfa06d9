import Foundation
import Logging
import ShunterBackends
import ShunterBroker
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterPlugins
import ShunterStore

/// Everything a running broker is made of, opened from a `BrokerConfig`: the stores, the
/// journal, the handlers with their plugins and backends, and the broker itself.
package struct ShunterServices: Sendable {
    package let config: BrokerConfig
    package let buffers: any BufferStore
    package let results: any ResultStore
    /// The embedded result store, which also answers the seamless-database routes; nil when the
    /// results live in an external seamless-database.
    package let database: SQLiteResultStore?
    package let broker: Broker
    package let handlers: [HandlerConfig]
    package let janitor: WorkDirectoryJanitor
    /// Where conda environments are built and kept.
    package let environments: EnvironmentStore

    /// The handlers of `config`, once the config, the handler files and every component they
    /// name have been checked: every error at once, and exactly those `shunter check` reports.
    /// Reads files and creates nothing, so it can run before the store is locked.
    package static func validatedHandlers(
        config: BrokerConfig,
        plugins: [JobPluginDescriptor] = JobPluginRegistry.builtIn,
        backends: [BackendDescriptor] = BackendRegistry.builtIn
    ) throws(ConfigErrors) -> HandlerLoadResult {
        let report = StartupValidation.report(config: config, plugins: plugins, backends: backends)
        guard report.isValid else { throw ConfigErrors(report.errors) }
        return report.handlers
    }

    /// Opens every part and recovers the jobs the journal holds. Throws with a message that
    /// names the file or setting at fault.
    package static func open(
        config: BrokerConfig,
        plugins: [JobPluginDescriptor] = JobPluginRegistry.builtIn,
        backends: [BackendDescriptor] = BackendRegistry.builtIn,
        validated: HandlerLoadResult? = nil,
        logger: Logger
    ) async throws -> ShunterServices {
        // `validated`: what `validatedHandlers` returned for this config, when the caller
        // checked it already (before locking the store), so the files are not read twice.
        let loaded = try validated ?? validatedHandlers(config: config, plugins: plugins, backends: backends)
        guard !loaded.handlers.isEmpty else {
            throw ServiceError("no job handlers are configured (\(config.handlers)); the broker could run nothing")
        }

        let buffers: any BufferStore
        switch config.store.buffers {
        case .path(let directory):
            buffers = try FileBufferStore(
                directory: directory, hashAlgorithm: config.hash, promiseTimeout: config.store.promiseTimeout,
                logger: logger)
        case .url(let url):
            buffers = RemoteBufferStore(url: url, hashAlgorithm: config.hash)
        }
        let results: any ResultStore
        let database: SQLiteResultStore?
        switch config.store.results {
        case .path(let path):
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let embedded = try SQLiteResultStore(path: path, logger: logger)
            (results, database) = (embedded, embedded)
        case .url(let url):
            (results, database) = (RemoteResultStore(url: url), nil)
        }

        let runtimes = try HandlerRuntime.build(loaded.handlers, plugins: plugins, backends: backends)
        let journal = try JobJournal(path: config.journal, reserveBytes: JobJournal.defaultReserveBytes, logger: logger)
        try FileManager.default.createDirectory(atPath: config.workdir, withIntermediateDirectories: true)
        let environments = EnvironmentStore(
            config: config.environments,
            managers: EnvironmentManagerRegistry.managers(
                for: config.environments, environment: ProcessInfo.processInfo.environment),
            logger: logger)
        var settings = BrokerSettings(
            hash: config.hash, workRoot: config.workdir, keepFailedWorkDirectories: config.keepFailedWorkdirs,
            environments: environments)
        settings.maxResultBytes = Int(clamping: config.maxResultSize)
        settings.keepFailedWorkDirectoryMaxBytes = config.keepFailedWorkdirsMaxSize
        let broker = Broker(
            settings: settings,
            buffers: buffers, results: results, journal: journal, handlers: runtimes, logger: logger)
        try await broker.recover()
        return ShunterServices(
            config: config, buffers: buffers, results: results, database: database, broker: broker,
            handlers: loaded.handlers,
            janitor: WorkDirectoryJanitor(
                root: config.workdir, keepFailedFor: config.keepFailedWorkdirs, logger: logger),
            environments: environments)
    }
}

extension ShunterServices {
    /// The journal's retention: removes the records of jobs that ended longer than
    /// `journal_retention` ago. Run by the housekeeping; a failure is logged, never thrown.
    package func removeOldJobRecords(now: Date = Date(), logger: Logger) async {
        // The journal's reserve goes back in place once a full disk has room again.
        _ = await broker.restoreJournalReserve()
        let (seconds, attoseconds) = config.journalRetention.components
        let cutoff = now.timeIntervalSince1970 - (Double(seconds) + Double(attoseconds) / 1e18)
        do {
            let removed = try await broker.removeEndedJobs(before: cutoff)
            if removed > 0 {
                logger.info(
                    "removed the records of old ended jobs",
                    metadata: [
                        "count": "\(removed)", "journal_retention": "\(ConfigParsing.format(config.journalRetention))",
                    ])
            }
        } catch {
            logger.error(
                "could not remove old job records from the journal",
                metadata: [
                    "journal": "\(config.journal)", "error": "\(error)",
                ])
        }
    }
}

package struct ServiceError: Error, Sendable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
