import ShunterCore

/// The shell text of a bash job, as `execute_bash.py:write_bash_job` builds it.
enum BashJobScript {
    /// Prepended to the user's code. `-u -e` make an undefined variable or a failing command
    /// fail the job; the trap kills the job's own background jobs when the shell exits.
    static let header = "set -u -e\ntrap 'jobs -p | xargs -r kill' EXIT\n"

    /// The text run with `bash -c`: header, conda activation when asked for, then the code.
    static func command(code: String, condaEnvironment: String?, condaRoot: String?) -> String {
        var text = header
        if let condaEnvironment, let condaRoot {
            text += "\nsource \(condaRoot)/etc/profile.d/conda.sh\nconda activate \(condaEnvironment)\n"
        }
        return text + code
    }

    /// `transform.sh`, written into the work directory for a human to re-run the job by hand:
    /// `#!/bin/bash`, an `export` line for each variable the job gets beyond the inherited
    /// environment (sorted by name, valid shell names only, values `shlex.quote`d), then the
    /// command text.
    static func transformScript(command: String, environment: [String: String], inherited: [String: String]) -> String {
        var text = "#!/bin/bash\n"
        let names = environment.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        for name in names {
            let value = environment[name]!
            if inherited[name] == value { continue }
            if !CelltypeCodec.isShellVariableName(name) { continue }
            text += "export \(name)=\(CelltypeCodec.shellQuote(value))\n"
        }
        return text + command
    }
}
