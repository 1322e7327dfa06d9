import Foundation
import ShunterHandlers

/// The environment managers Shunter knows, by the names `environments.managers` lists. Adding
/// one: a type conforming to `EnvironmentManager` in its own file, and one line here.
package enum EnvironmentManagerRegistry {
    /// Every accepted name, in the default order of preference: venv takes the pip-only specs
    /// (it refuses the others), then the installed conda tools, then py-rattler.
    package static let names = EnvironmentsConfig.defaultManagers

    /// The managers `config` lists, in its order. `environment` is the broker's (its `PATH`
    /// finds the tools).
    package static func managers(for config: EnvironmentsConfig, environment: [String: String])
        -> [any EnvironmentManager]
    {
        let searchPath = environment["PATH"]
        return config.managers.compactMap { name -> (any EnvironmentManager)? in
            switch name {
            case "venv": VenvManager(searchPath: searchPath)
            case "micromamba":
                CondaCommandManager(
                    tool: .micromamba, executable: config.executables["micromamba"], searchPath: searchPath)
            case "mamba":
                CondaCommandManager(tool: .mamba, executable: config.executables["mamba"], searchPath: searchPath)
            case "conda":
                CondaCommandManager(tool: .conda, executable: config.executables["conda"], searchPath: searchPath)
            case "rattler": RattlerManager(python: config.toolsPython, channelAlias: config.channelAlias)
            default: nil
            }
        }
    }
}
