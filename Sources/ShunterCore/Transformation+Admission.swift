extension Transformation {
    /// The celltype names a pin may carry: Shunter's `Celltype`s, and Seamless's deep and
    /// module celltypes, which some plugins refuse with a message of their own when they run
    /// (Seamless's bash refuses a deepcell too). An empty name leaves the plugin's default.
    package static let pinCelltypes: Set<String> =
        Set(Celltype.allCases.map(\.rawValue)).union(["deepcell", "deepfolder", "folder", "module", ""])

    /// Every mistake in the transformation itself that no handler could run past, each as a
    /// sentence naming the pin: names that cannot be files in a job's directory (a bash pin
    /// is written as the file of its name, or of its `__as__` rename: `WorkPathName`), and
    /// celltypes Seamless does not have. Empty when there is none. The broker refuses such a
    /// job before journaling it.
    package func admissionProblems() -> [String] {
        var problems: [String] = []
        for name in dict.keys.sorted() where !name.hasPrefix("__") {
            if let problem = WorkPathName.problem(with: name) {
                problems.append("pin '\(name)': the name cannot be a file name in the job's directory: \(problem)")
            } else if name.contains(where: { $0 == "=" || $0.isNewline }) {
                // A pin is also a variable of the job (bash's environment, Python's globals).
                problems.append(
                    "pin '\(name)': the name cannot be a variable name ('=' and line breaks are not allowed in one)")
            }
        }
        if ["bash", "python"].contains(language), pins["code"] == nil {
            problems.append("the \(language) transformation has no 'code' pin: send the code as the pin 'code'")
        }
        for name in pins.keys.sorted() where !Self.pinCelltypes.contains(pins[name]!.celltype) {
            problems.append(
                "pin '\(name)': unknown celltype '\(pins[name]!.celltype)'; expected one of: "
                    + (Celltype.allCases.map(\.rawValue) + ["deepcell", "deepfolder", "folder", "module"]).joined(
                        separator: ", "))
        }
        if let renames = dict["__as__"] ?? dunder["__as__"], !renames.isNull {
            if let entries = renames.objectValue {
                for pin in entries.keys.sorted() {
                    guard let target = entries[pin]?.stringValue else {
                        problems.append(
                            "'__as__': pin '\(pin)' must be renamed to a text, got \(entries[pin]!.kindName)")
                        continue
                    }
                    if let problem = WorkPathName.problem(with: target) {
                        problems.append("'__as__': pin '\(pin)' cannot be written as '\(target)': \(problem)")
                    }
                }
            } else {
                problems.append("'__as__' must map pin names to the names they are written as, got \(renames.kindName)")
            }
        }
        return problems
    }
}
