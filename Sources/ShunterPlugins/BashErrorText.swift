/// The error text a Seamless jobserver answers (HTTP 500 body) when a bash transformation
/// fails, rebuilt byte for byte.
///
/// In Seamless it is assembled in two places: `execute_bash.py` raises
/// `SeamlessStreamTransformationError` with the "Bash transformer exception" block, and
/// `worker.py:_execute_transformation_request` appends what the worker captured on its
/// standard output and error. While the job runs, `execute_bash` echoes each line of the job's
/// stdout that is not blank (`line.strip() != ""`), decoding it as UTF-8 and dropping invalid
/// bytes; the job's stderr is copied (raw) only when the return code is non-zero. So:
/// - non-zero exit: exception block + stdout section (if any) + stderr section (if any);
/// - zero exit but no/empty RESULT: exception block + stdout section (if any), never stderr.
enum BashErrorText {
    static let stars = "*************************************************"

    /// `Error: Return code 3`, `Error: Result file/folder RESULT does not exist`, ...
    static func exception(_ error: String, command: String) -> String {
        """

        Bash transformer exception
        ==========================

        Error: \(error)

        \(stars)
        * Command
        \(stars)
        \(command)
        \(stars)

        """
    }

    /// The worker's appended section; empty when there is nothing to show.
    static func section(_ title: String, _ text: String) -> String {
        guard !text.isEmpty else { return "" }
        return "\n\(stars)\n* \(title)\n\(stars)\n\(text)\n\(stars)\n"
    }

    /// What `execute_bash` echoed of the job's stdout: the non-blank lines, in order.
    static func echoedStdout(_ bytes: [UInt8]) -> String {
        var out = ""
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
            let line = bytes[start..<end]
            start = end
            // line.decode(), or on failure line.decode(errors="ignore")
            let text = String(validating: line, as: UTF8.self) ?? decodeDroppingInvalid(line)
            if text.unicodeScalars.allSatisfy(isPythonWhitespace) { continue }
            out += text
        }
        return out
    }

    /// `bytes.decode("utf-8", errors="replace")`, as the worker decodes the captured stderr.
    static func decodeReplacing(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// `bytes.decode("utf-8", errors="ignore")`.
    static func decodeDroppingInvalid(_ bytes: ArraySlice<UInt8>) -> String {
        String(String(decoding: bytes, as: UTF8.self).unicodeScalars.filter { $0 != "\u{FFFD}" }.map(Character.init))
    }

    /// Python's `str.isspace` for one code point (what `strip()` removes).
    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0: return true
        default: return scalar.value > 0xFF && scalar.properties.isWhitespace
        }
    }
}
