import ShunterCore

/// The shell text of a bash job, as `execute_bash.py:write_bash_job` builds it.
enum BashJobScript {
    /// Prepended to the user's code. `-u -e` make an undefined variable or a failing command
    /// fail the job.
    ///
    /// Seamless's second line is `trap 'jobs -p | xargs -r kill' EXIT`, which TERMs the job's
    /// background jobs when the shell exits. Every backend already does that (the local one
    /// TERMs the job's process group when its shell exits; a container or a Slurm job ends
    /// with all its processes), and the trap forked a subshell and `xargs` for every job, a
    /// large share of a trivial job's CPU (docs/performance.md). The line is kept as a comment so that the user's code
    /// still starts on line 3 and bash's error messages (`/bin/bash: line 3: x: unbound
    /// variable`) stay identical to Seamless's.
    static let header = "set -u -e\n# background jobs are stopped when this script ends\n"

    /// Seamless's own header, kept in `transform.sh`: a job may read that file, and its bytes
    /// must then be what Seamless would have written.
    static let seamlessHeader = "set -u -e\ntrap 'jobs -p | xargs -r kill' EXIT\n"

    /// The text run with `bash -c`: header, conda activation when asked for, then the code.
    /// `activation` (one line: an environment's activate.d scripts) replaces the header's
    /// comment line, so the code still starts on line 3.
    static func command(code: String, condaEnvironment: String?, condaRoot: String?, activation: String? = nil)
        -> String
    {
        var text = activation.map { "set -u -e\n\($0)\n" } ?? header
        if let condaEnvironment, let condaRoot {
            text += "\nsource \(condaRoot)/etc/profile.d/conda.sh\nconda activate \(condaEnvironment)\n"
        }
        return text + code
    }

    /// `command` with line 1 (`set -u -e`) extended by traps that write `<jobID> <exit code>`
    /// to `path` when the shell ends by itself (its last command, `exit`, or `set -e`), and
    /// nothing when a signal ends it: bash runs an EXIT trap on TERM, HUP and INT too, with
    /// the `$?` of the last command, so those traps clear it and die by their signal as
    /// before. Builtins only: no process more per job. The code still starts on line 3.
    static func withExitStatusMarker(_ command: String, path: String, jobID: String) -> String {
        let firstLine = "set -u -e\n"
        guard command.hasPrefix(firstLine) else { return command }
        // Inside double quotes in the trap's text: \ " $ ` would be special there.
        var quotedPath = ""
        for character in path {
            if "\\\"$`".contains(character) { quotedPath.append("\\") }
            quotedPath.append(character)
        }
        let record = "printf '%s %s\\n' \(CelltypeCodec.shellQuote(jobID)) \"$?\" 2>/dev/null > \"\(quotedPath)\""
        var line = "set -u -e; trap \(CelltypeCodec.shellQuote(record)) EXIT"
        for signal in ["TERM", "HUP", "INT"] {
            line += "; trap 'trap - EXIT \(signal); kill -s \(signal) $$' \(signal)"
        }
        return line + "\n" + command.dropFirst(firstLine.count)
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
        let seamlessCommand = command.hasPrefix(header) ? seamlessHeader + command.dropFirst(header.count) : command
        return text + seamlessCommand
    }
}
