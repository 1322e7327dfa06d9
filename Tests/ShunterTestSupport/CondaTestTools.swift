import Foundation

/// The local conda channel and the Python with py-rattler that `scripts/setup-conda-tools.sh`
/// makes. No conda channel is reachable from the test machines, so the environment tests create
/// real prefixes from this channel with py-rattler (its python package is a repack of the
/// machine's CPython; see Tests/conda-channel/README.md).
package struct CondaTestTools: Sendable {
    /// The repository checkout (Tests/ShunterTestSupport/ -> ../..).
    package static let repositoryRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// `var/test-channel`, a channel directory (give it as a channel path).
    package let channel: String
    /// `.venv-conda-tools/bin/python`
    package let python: String

    /// Throws, saying how to make them, when either is missing.
    package static func require() throws -> CondaTestTools {
        let tools = CondaTestTools(
            channel: repositoryRoot + "/var/test-channel", python: repositoryRoot + "/.venv-conda-tools/bin/python")
        guard FileManager.default.fileExists(atPath: tools.channel + "/noarch/repodata.json"),
            FileManager.default.isExecutableFile(atPath: tools.python)
        else {
            throw CondaTestToolsMissing(
                description: "the test conda channel (\(tools.channel)) or py-rattler (\(tools.python)) is missing: "
                    + "run bash scripts/setup-conda-tools.sh (scripts/test.sh does)")
        }
        return tools
    }
}

package struct CondaTestToolsMissing: Error, CustomStringConvertible {
    package let description: String
}
