/// Text a job's record keeps (its error, its output tails): at most `limit` UTF-8 bytes, the
/// head and the tail of a longer text with a line between them saying how much was cut. A
/// failing job that prints megabytes would otherwise keep them in the journal forever, and in
/// every listing of jobs.
package enum StoredText {
    package static let limit = 64 << 10

    package static func capped(_ text: String, limit: Int = limit) -> String {
        let bytes = text.utf8
        guard bytes.count > limit else { return text }
        let marker = { (cut: Int) in
            "\n[... \(cut) bytes cut here: the record keeps the first and last part of this text ...]\n"
        }
        let room = max(0, limit - marker(bytes.count).utf8.count)
        let headCount = room / 2
        let tailCount = room - headCount
        let utf8 = Array(bytes)
        // Cut on character boundaries: never in the middle of a UTF-8 sequence.
        var headEnd = headCount
        while headEnd > 0, headEnd < utf8.count, utf8[headEnd] & 0xC0 == 0x80 { headEnd -= 1 }
        var tailStart = utf8.count - tailCount
        while tailStart < utf8.count, utf8[tailStart] & 0xC0 == 0x80 { tailStart += 1 }
        let head = String(decoding: utf8[..<headEnd], as: UTF8.self)
        let tail = String(decoding: utf8[tailStart...], as: UTF8.self)
        return head + marker(tailStart - headEnd) + tail
    }

    package static func capped(_ text: String?) -> String? {
        text.map { capped($0) }
    }
}
