import ArgumentParser
import Foundation
import ShunterAuth
import ShunterHandlers

/// `shunter token`: the broker's access tokens, changed in its token file directly (a running
/// broker reads the file again when it changes, so a new token works and a revoked one stops
/// working at once).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Add, list or revoke the tokens clients present to the broker.",
        discussion: """
              shunter token add alice --scope submit --expires 30d   # prints the token once
              shunter token list
              shunter token revoke alice

            Scopes: read (buffers, results, own jobs), submit (also upload, run, cancel own jobs, write results as the Seamless client does), admin (everything). Clients send 'Authorization: Bearer TOKEN', or put the token in the URL as the password: http://alice:TOKEN@host:5533 (what the Seamless client sends). Only a SHA-256 of each token is stored, in the broker's auth/tokens.json (owner-only).
            """,
        subcommands: [Add.self, List.self, Revoke.self]
    )

    struct ConfigOption: ParsableArguments {
        @Option(help: "The broker config file (default: config/shunter.yaml, else the built-in defaults).")
        var config: String?

        func registry() throws -> TokenRegistry {
            let loaded = BrokerConfigLoader.resolve(
                explicitPath: config, currentDirectory: FileManager.default.currentDirectoryPath)
            guard let brokerConfig = loaded.config else {
                for error in loaded.errors { printError("\(error)") }
                throw ShunterExit.invalidConfiguration
            }
            return TokenRegistry(path: brokerConfig.auth.tokens)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (the only time it is shown).")
        @Argument(help: "Who holds it: letters, digits, '-', '_', '.' (shown in logs, the audit log and job listings).")
        var name: String
        @Option(help: "read, submit or admin.") var scope: AccessScope
        @Option(help: "Expire after this long (30d, 12h, 90m...); never by default.") var expires: String?
        @Flag(help: "Results this principal writes through the database route are served to everyone.") var trusted =
            false
        @OptionGroup var options: ConfigOption

        func run() throws {
            var seconds: Double?
            if let expires {
                guard case .value(let duration) = ConfigParsing.readDuration(expires), duration > .zero else {
                    throw ValidationError("--expires takes a duration such as 30d, 12h or 90m, got '\(expires)'")
                }
                let (whole, fraction) = duration.components
                seconds = Double(whole) + Double(fraction) / 1e18
            }
            let registry = try options.registry()
            do {
                let token = try registry.add(name: name, scope: scope, expiresAfter: seconds, trusted: trusted)
                print(token.text)
                printError("token '\(name)' (\(scope.rawValue)) added to \(registry.path); it is not shown again")
            } catch {
                printError("shunter token add: \(error)")
                throw ExitCode.failure
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the tokens' names, scopes and expiry (never the tokens).")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let registry = try options.registry()
            let entries: [TokenEntry]
            do {
                entries = try registry.list()
            } catch {
                printError("shunter token list: \(error)")
                throw ExitCode.failure
            }
            if entries.isEmpty {
                print("no tokens in \(registry.path)")
                return
            }
            let formatter = ISO8601DateFormatter()
            let now = Date().timeIntervalSince1970
            for entry in entries {
                let expiry =
                    entry.expiresAt.map {
                        ($0 <= now ? "expired " : "expires ") + formatter.string(from: Date(timeIntervalSince1970: $0))
                    } ?? "never expires"
                print(
                    "\(entry.name)\t\(entry.scope.rawValue)\(entry.trusted ? " trusted" : "")\tcreated \(formatter.string(from: Date(timeIntervalSince1970: entry.createdAt)))\t\(expiry)"
                )
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a token: the broker refuses it at once.")
        @Argument(help: "The token's name.") var name: String
        @OptionGroup var options: ConfigOption

        func run() throws {
            let registry = try options.registry()
            do {
                guard try registry.revoke(name: name) else {
                    printError("shunter token revoke: no token named '\(name)' in \(registry.path)")
                    throw ExitCode.failure
                }
                printError("token '\(name)' revoked")
            } catch let error as TokenFileError {
                printError("shunter token revoke: \(error)")
                throw ExitCode.failure
            }
        }
    }
}

extension AccessScope: ExpressibleByArgument {}
