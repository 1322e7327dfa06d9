/// A Numpy array as a `.npy` file holds it: enough of the header to write the file again the
/// way `np.save` does, and the raw data bytes.
///
/// Seamless never passes `.npy` bytes through: it loads them (`np.load`) and saves them again
/// (`np.save`), so a result's checksum is that of the *re-written* file, whose header numpy
/// lays out canonically (sorted keys, 21 spare spaces, padding to 64 bytes).
struct NumpyArray: Sendable {
    /// Numpy's dtype string, e.g. `<i8`, `|u1`, `<f8`, `|S3`, `<U2`.
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]
    var data: [UInt8]

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    var elementCount: Int { shape.reduce(1, *) }

    /// Bytes per element, from the dtype string (`U` counts 4 bytes per character).
    static func itemSize(descr: String) -> Int? {
        var body = Substring(descr)
        if let first = body.first, "<>|=".contains(first) { body = body.dropFirst() }
        guard let kind = body.first, let count = Int(body.dropFirst()) else { return nil }
        switch kind {
        case "b", "i", "u", "f", "c", "S", "V": return count
        case "U": return count * 4
        default: return nil
        }
    }

    /// The dtype string as `np.save` writes it: byte order `|` when it does not matter (one-byte
    /// items, `S`, `V`, `b`), `<` for native (`=`) order on this little-endian machine.
    static func canonicalDescr(_ descr: String) -> String? {
        var body = Substring(descr)
        var order: Character = "="
        if let first = body.first, "<>|=".contains(first) {
            order = first
            body = body.dropFirst()
        }
        guard let kind = body.first, let count = Int(body.dropFirst()), count > 0 else { return nil }
        if count == 1 && kind != "U" || "SVb".contains(kind) { return "|" + body }
        switch order {
        case "=", "|": return "<" + body
        default: return String(order) + body
        }
    }

    /// What `np.load` then `np.save` makes of `bytes`, or nil when `np.load` would not load it
    /// as an array (not `.npy`, truncated, object dtype). Structured dtypes (a list `descr`)
    /// are not modelled and throw.
    static func load(_ bytes: [UInt8]) throws(PythonText.Unsupported) -> NumpyArray? {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { return nil }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { return nil }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            return nil
        }
        guard bytes.count >= headerStart + headerLength else { return nil }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = quotedValue(of: "descr", in: header) else {
            throw PythonText.Unsupported(reason: "a .npy file with a structured dtype is not supported")
        }
        guard let fortran = literalValue(of: "fortran_order", in: header),
            let shape = shapeValue(in: header)
        else { return nil }
        guard let normalized = canonicalDescr(descr), let itemSize = itemSize(descr: normalized) else {
            // Object arrays: np.load refuses them without allow_pickle, so Seamless does not
            // see an array either.
            if descr.contains("O") { return nil }
            throw PythonText.Unsupported(reason: "numpy dtype '\(descr)' is not supported")
        }
        let dataStart = headerStart + headerLength
        let count = shape.reduce(1, *) * itemSize
        guard bytes.count - dataStart >= count else { return nil }
        return NumpyArray(
            descr: normalized, fortranOrder: fortran == "True", shape: shape,
            data: Array(bytes[dataStart..<(dataStart + count)]))
    }

    /// The element of a one-element numeric array, as Python's `int()`/`float()`/`bool()` see it.
    var singleScalar: PythonValue? {
        guard elementCount == 1, descr.count >= 3, descr.first != ">" else { return nil }
        let kind = descr[descr.index(after: descr.startIndex)]
        guard let size = Int(descr.dropFirst(2)), data.count == size else { return nil }
        var bits: UInt64 = 0
        for (index, byte) in data.enumerated() where index < 8 { bits |= UInt64(byte) << (8 * UInt64(index)) }
        switch (kind, size) {
        case ("b", 1): return .bool(bits != 0)
        case ("u", 1...7):
            return .int(Int64(bits))
        case ("i", 1...7):
            // Sign-extend from the item size.
            let negative = bits >> (UInt64(size) * 8 - 1) != 0
            return .int(negative ? Int64(bits) - (Int64(1) << (Int64(size) * 8)) : Int64(bits))
        case ("i", 8): return .int(Int64(bitPattern: bits))
        case ("u", 8): return bits <= UInt64(Int64.max) ? .int(Int64(bits)) : .bigInt(String(bits))
        case ("f", 8): return .float(Double(bitPattern: bits))
        case ("f", 4): return .float(Double(Float(bitPattern: UInt32(bits))))
        default: return nil
        }
    }

    /// `np.save(file, array, allow_pickle=False)`.
    func npyBytes() -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var header =
            "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        if !shape.isEmpty {
            // numpy leaves room to grow the array in place along its growth axis.
            let axis = fortranOrder ? shape[shape.count - 1] : shape[0]
            header += String(repeating: " ", count: max(0, 21 - String(axis).count))
        }
        var headerBytes = Array(header.utf8)
        let withNewline = headerBytes.count + 1
        var prefixLength = 10
        var padding = 64 - ((prefixLength + withNewline) % 64)
        var major: UInt8 = 1
        if withNewline + padding >= 65536 {
            major = 2
            prefixLength = 12
            padding = 64 - ((prefixLength + withNewline) % 64)
        }
        headerBytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        headerBytes.append(UInt8(ascii: "\n"))
        var out = NumpyArray.magic
        out.append(major)
        out.append(0)
        let length = headerBytes.count
        out.append(UInt8(length & 0xFF))
        out.append(UInt8((length >> 8) & 0xFF))
        if major == 2 {
            out.append(UInt8((length >> 16) & 0xFF))
            out.append(UInt8((length >> 24) & 0xFF))
        }
        out.reserveCapacity(out.count + headerBytes.count + data.count)
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: data)
        return out
    }

    // MARK: header parsing (the header is a Python dict literal)

    private static func valueStart(of key: String, in header: String) -> Substring? {
        let pattern = Array("'\(key)':".utf8)
        let utf8 = Array(header.utf8)
        guard utf8.count >= pattern.count else { return nil }
        for start in 0...(utf8.count - pattern.count) where Array(utf8[start..<(start + pattern.count)]) == pattern {
            let rest = String(decoding: utf8[(start + pattern.count)...], as: UTF8.self)
            return Substring(rest).drop(while: { $0 == " " })
        }
        return nil
    }

    private static func quotedValue(of key: String, in header: String) -> String? {
        guard let rest = valueStart(of: key, in: header), let quote = rest.first, quote == "'" || quote == "\"" else {
            return nil
        }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: quote) else { return nil }
        return String(body[..<end])
    }

    private static func literalValue(of key: String, in header: String) -> String? {
        guard let rest = valueStart(of: key, in: header) else { return nil }
        if rest.hasPrefix("True") { return "True" }
        if rest.hasPrefix("False") { return "False" }
        return nil
    }

    private static func shapeValue(in header: String) -> [Int]? {
        guard let rest = valueStart(of: "shape", in: header), rest.first == "(",
            let end = rest.firstIndex(of: ")")
        else { return nil }
        let inner = rest[rest.index(after: rest.startIndex)..<end]
        var shape: [Int] = []
        for part in inner.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: " ")
            if trimmed.isEmpty { continue }
            guard let value = Int(trimmed), value >= 0 else { return nil }
            shape.append(value)
        }
        return shape
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var result = self
        while result.first == set { result = result.dropFirst() }
        while result.last == set { result = result.dropLast() }
        return result
    }
}
