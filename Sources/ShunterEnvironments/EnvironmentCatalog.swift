import Foundation
import ShunterHandlers

/// The named environments: one environment.yml per name in the definitions directory
/// (`conda-envs/NAME.yml` or `NAME.yaml`). Files are read when asked for, so an edited file
/// takes effect for the next job without a restart — as a new environment, since its
/// identity changed.
package struct EnvironmentCatalog: Sendable {
    package let directory: String

    package init(directory: String) { self.directory = directory }

    /// The defined names, sorted.
    package func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.compactMap { file in
            for suffix in [".yml", ".yaml"] where file.hasSuffix(suffix) && !file.hasPrefix(".") {
                return String(file.dropLast(suffix.count))
            }
            return nil
        }.sorted()
    }

    /// The file defining `name`, if there is one.
    package func file(for name: String) -> String? {
        guard !name.contains("/"), !name.hasPrefix(".") else { return nil }
        for suffix in [".yml", ".yaml"] {
            let path = "\(directory)/\(name)\(suffix)"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    /// The spec named `name`; nil when no file defines it.
    package func spec(named name: String) throws(EnvironmentError) -> EnvironmentSpec? {
        guard let path = file(for: name) else { return nil }
        do throws(ConfigErrors) {
            return try EnvironmentSpecParser.parse(file: path)
        } catch {
            throw .badSpec(origin: path, error)
        }
    }

    /// Every definition's errors (for `shunter check` and the startup report).
    package func validate() -> [ConfigError] {
        var errors: [ConfigError] = []
        for name in names() {
            guard let path = file(for: name) else { continue }
            do throws(ConfigErrors) {
                _ = try EnvironmentSpecParser.parse(file: path)
            } catch {
                errors += error.errors
            }
        }
        return errors
    }
}
