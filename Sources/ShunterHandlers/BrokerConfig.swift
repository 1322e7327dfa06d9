import Foundation
import ShunterCore

/// The broker's own settings (`config/shunter.yaml`), every path already made absolute.
package struct BrokerConfig: Sendable, Hashable {
    package var listen: ListenAddress
    package var hash: HashAlgorithm
    /// The directory relative paths were resolved against.
    package var root: String
    package var store: StoreConfig
    /// The SQLite job journal.
    package var journal: String
    /// Root under which each job gets its work directory.
    package var workdir: String
    /// How long the work directory of a failed job is kept for inspection; zero deletes it at once.
    package var keepFailedWorkdirs: Duration
    /// The largest result a job may produce (`max_result_size`); a larger one fails the job.
    package var maxResultSize: Int64 = 1 << 30
    /// How long the journal keeps the record of an ended job (`journal_retention`).
    package var journalRetention: Duration = .seconds(7 * 86_400)
    /// A failed job's work directory larger than this is removed at once, not kept.
    package var keepFailedWorkdirsMaxSize: Int64 = 256 << 20
    /// Limits of the HTTP server's connections (`http:`).
    package var http: HTTPServerLimits = HTTPServerLimits()
    /// Who may use the broker (`auth:`).
    package var auth: AuthConfig
    /// HTTPS (`tls:`); nil speaks plain HTTP.
    package var tls: TLSConfig?
    package var handlers: HandlerSource
    /// Conda environments: definitions, where they are built, with which tools.
    package var environments: EnvironmentsConfig
    package var logLevel: BrokerLogLevel
    /// The file this came from; nil for the built-in default.
    package var file: String?
    /// Where each setting was written in `file`.
    package var locations = SettingLocations()

    package init(
        listen: ListenAddress = ListenAddress(host: "127.0.0.1", port: 5533), hash: HashAlgorithm = .sha256,
        root: String, store: StoreConfig, journal: String, workdir: String,
        keepFailedWorkdirs: Duration = .seconds(86_400), handlers: HandlerSource,
        environments: EnvironmentsConfig? = nil,
        logLevel: BrokerLogLevel = .info, file: String? = nil
    ) {
        self.listen = listen
        self.hash = hash
        self.root = root
        self.store = store
        self.journal = journal
        self.workdir = workdir
        self.keepFailedWorkdirs = keepFailedWorkdirs
        self.handlers = handlers
        self.environments = environments ?? .defaults(root: root)
        self.auth = AuthConfig(root: root)
        self.logLevel = logLevel
        self.file = file
    }

    /// The settings used when a key is absent, paths under `root`: the embedded store in
    /// `var/`, handlers from `handlers/`.
    package static func defaults(root: String) -> BrokerConfig {
        BrokerConfig(
            root: root,
            store: StoreConfig(
                buffers: .path(ConfigPaths.resolve("var/buffers", against: root)),
                results: .path(ConfigPaths.resolve("var/results.sqlite", against: root))),
            journal: ConfigPaths.resolve("var/journal.sqlite", against: root),
            workdir: ConfigPaths.resolve("var/work", against: root),
            handlers: .directory(ConfigPaths.resolve("handlers", against: root)))
    }

    /// What runs with no config file at all: the defaults under `directory` (normally the
    /// current one), and the built-in bash-local handler unless `directory/handlers` exists.
    package static func builtinDefault(directory: String) -> BrokerConfig {
        var config = defaults(root: directory)
        var isDirectory: ObjCBool = false
        let handlersDirectory = ConfigPaths.resolve("handlers", against: directory)
        if !(FileManager.default.fileExists(atPath: handlersDirectory, isDirectory: &isDirectory)
            && isDirectory.boolValue)
        {
            config.handlers = .builtin
        }
        return config
    }
}

/// `host:port` the HTTP server binds.
package struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    package var host: String
    /// 0 asks the system for any free port.
    package var port: Int

    package init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:5533`, `0.0.0.0:5533`, `[::1]:5533`, `localhost:5533`, `:5533` (all
    /// interfaces) or a bare port (`5533`, on 127.0.0.1).
    package init?(parsing text: String) {
        if let port = Int(text) {
            guard (0...65535).contains(port) else { return nil }
            self.init(host: "127.0.0.1", port: port)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port), !host.contains(" ") else { return nil }
        self.init(host: host.isEmpty ? "0.0.0.0" : String(host), port: port)
    }

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How long the HTTP server waits for a client, and how many connections it holds.
package struct HTTPServerLimits: Sendable, Hashable {
    /// A connection with no request in progress (or whose request head is still arriving) is
    /// closed after this; nil never closes it.
    package var idleTimeout: Duration?
    /// A request's body must have arrived whole this long after its head; nil waits forever.
    package var bodyTimeout: Duration?
    /// Connections beyond this many are closed as soon as they are accepted.
    package var maxConnections: Int

    package init(
        idleTimeout: Duration? = .seconds(120), bodyTimeout: Duration? = .seconds(600), maxConnections: Int = 512
    ) {
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
    }
}

package struct StoreConfig: Sendable, Hashable {
    /// The buffer store: a directory (embedded, hashserver prefix layout) or a hashserver URL.
    package var buffers: StoreLocation
    /// The result store: an SQLite file (embedded) or a seamless-database URL.
    package var results: StoreLocation
    /// How long a promised buffer (`PUT /promise/{checksum}`) is waited for.
    package var promiseTimeout: Duration

    package init(buffers: StoreLocation, results: StoreLocation, promiseTimeout: Duration = .seconds(60)) {
        self.buffers = buffers
        self.results = results
        self.promiseTimeout = promiseTimeout
    }
}

package enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// An absolute path: embedded store.
    case path(String)
    /// An `http://` or `https://` URL of an external server.
    case url(String)

    package var description: String {
        switch self {
        case .path(let path): path
        case .url(let url): url
        }
    }
}

/// The swift-log levels, by the names `Logger.Level(rawValue:)` reads.
package enum BrokerLogLevel: String, Sendable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

package enum ConfigPaths {
    /// An absolute `path` stays; `~/...` is the home directory; anything else is under `base`.
    /// The result is standardized (`..` and `.` removed) so messages show plain paths.
    package static func resolve(_ path: String, against base: String, home: String? = nil) -> String {
        let joined: String
        if path.hasPrefix("/") {
            joined = path
        } else if path == "~" || path.hasPrefix("~/") {
            let home = home ?? ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
            joined = home + path.dropFirst()
        } else {
            joined = base.hasSuffix("/") ? base + path : base + "/" + path
        }
        return URL(fileURLWithPath: joined).standardizedFileURL.path
    }
}
