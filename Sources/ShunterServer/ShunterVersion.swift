/// The version `shunter --version` and `/status` report.
package enum ShunterVersion {
    package static let current = "0.1.0"
}
