/// Image names as jobs give them (`__env__` → `docker.name`), checked before they reach an
/// engine's command line or a file name, and mapped to file names in an image directory.
///
/// The name comes from whoever submitted the transformation, so it is never trusted: only the
/// characters of Docker references are accepted, and nothing that could climb out of an image
/// directory or read as a command-line option.
package enum ContainerImageName {
    /// Checks that `name` is a plausible image reference (`ubuntu`, `ubuntu:24.04`,
    /// `rpbs/tool:1.2`, `host:5000/ns/tool@sha256:…`). Returns why not, nil when it is fine.
    package static func problem(with name: String) -> String? {
        if name.isEmpty { return "the image name is empty" }
        if name.utf8.count > 255 { return "the image name is longer than 255 characters" }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@+")
        if let bad = name.first(where: { !allowed.contains($0) }) {
            return "the image name '\(name)' contains '\(bad)'; image names use letters, digits and . _ - / : @ +"
        }
        if let first = name.first, !(first.isLetter || first.isNumber) {
            return "the image name '\(name)' must start with a letter or a digit"
        }
        if name.split(separator: "/", omittingEmptySubsequences: false).contains(where: {
            $0.isEmpty || $0 == "." || $0 == ".."
        }) {
            return "the image name '\(name)' has an empty, '.' or '..' path component"
        }
        return nil
    }

    /// The file name stem an image is stored under in an image directory: the name with its
    /// tag (`latest` when none is given, as Docker reads it), every `/`, `:` and `@` replaced
    /// by `_`. `ubuntu:24.04` → `ubuntu_24.04` (what `apptainer pull docker://ubuntu:24.04`
    /// names its file), `rpbs/tool` → `rpbs_tool_latest`.
    package static func fileStem(_ name: String) -> String {
        String(withTag(name).map { $0 == "/" || $0 == ":" || $0 == "@" ? "_" : $0 })
    }

    /// `name` with `:latest` added when it has neither a tag nor a digest. A `:` before the
    /// last `/` is a registry port, not a tag.
    package static func withTag(_ name: String) -> String {
        if name.contains("@") { return name }
        let lastComponent = name.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        return lastComponent.contains(":") ? name : name + ":latest"
    }
}
