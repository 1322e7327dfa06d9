/// Why a value or buffer cannot be turned into (or read as) a buffer of a celltype the way
/// Seamless would: Seamless itself fails there too, or the case is one Shunter does not
/// reproduce (said so in the reason).
package struct CelltypeCodecError: Error, Sendable, Equatable, CustomStringConvertible {
    package let celltype: String
    package let reason: String

    package init(celltype: String, reason: String) {
        self.celltype = celltype
        self.reason = reason
    }

    package var description: String { "celltype '\(celltype)': \(reason)" }
}

/// What a bash job's work directory gets for one input pin (`execute_bash.py:write_bash_job`).
package struct BashPinMaterialization: Sendable, Equatable {
    /// The bytes of the file named after the pin, relative to the work directory (a pin name
    /// may contain `/`: create the parent directories; `..` and absolute names are refused by
    /// Seamless).
    package var fileContents: [UInt8]
    /// The value of the environment variable named after the pin, or nil when the pin is not
    /// exported. Seamless sets it in the job's environment even when the pin name is not a
    /// valid shell name; only valid names also get an `export` line in `transform.sh`
    /// (`CelltypeCodec.isShellVariableName`).
    package var environmentValue: String?

    package init(fileContents: [UInt8], environmentValue: String?) {
        self.fileContents = fileContents
        self.environmentValue = environmentValue
    }
}

/// The exact buffer rules of Seamless 1.x per celltype; see `docs/seamless-semantics.md`.
///
/// Every rule is defined in Seamless as "deserialize to a Python value, then apply a Python
/// operation", so the codec goes through the same intermediate value (`PythonValue`) and
/// applies the same operations: `seamless/checksum/serialize.py:_serialize`,
/// `seamless/checksum/parse_buffer.py:_parse_buffer`, `seamless_transformer/execute_bash.py`.
package enum CelltypeCodec {
    // MARK: (a) value → buffer

    /// The buffer Seamless makes of `value` (as Python would hold it after `json.loads`) in
    /// `celltype`: `Buffer(value, celltype)`, i.e. `serialize.py:_serialize`.
    ///
    /// - `str`: `str(value)` (booleans stay booleans) as a JSON string, + `"\n"`
    /// - `text python ipython yaml`: `str(value)` with trailing newlines stripped, + `"\n"`
    /// - `int float bool`: `int()/float()/bool()` of the value as JSON, + `"\n"`
    /// - `plain checksum`: canonical JSON, + `"\n"`
    /// - `mixed`: Python `json.dumps(value, sort_keys=True, indent=2)` (ASCII-escaped!), + `"\n"`
    /// - `binary`: `np.save(np.array(value))`
    /// - `bytes`: `str(value)` with trailing newlines stripped (a string's own bytes)
    package static func serialize(_ value: JSONValue, as celltype: Celltype) throws(CelltypeCodecError) -> [UInt8] {
        try serialize(python: PythonValue(value), as: celltype)
    }

    /// The buffer Seamless makes of a Python `bytes` value: `bytes` and `binary` keep it as is;
    /// text celltypes decode it as UTF-8 first; `str` writes Python's `b'...'` repr.
    package static func serialize(bytes: [UInt8], as celltype: Celltype) throws(CelltypeCodecError) -> [UInt8] {
        try serialize(python: .bytes(bytes), as: celltype)
    }

    // MARK: (b) buffer → value

    /// The value Seamless reads from a buffer of `celltype` (`Buffer.get_value(celltype)`), as
    /// JSON: text celltypes give `.string` (trailing newlines stripped), `plain`/`str`/`int`/
    /// `float`/`bool`/`checksum` give their JSON value (converted as Seamless converts it, e.g.
    /// an `int` buffer `"3.5\n"` reads as 3), `mixed` gives its JSON value when it holds plain
    /// data. `bytes`, `binary` and Numpy data have no JSON value and throw.
    package static func deserialize(_ buffer: [UInt8], as celltype: Celltype) throws(CelltypeCodecError) -> JSONValue {
        let value = try deserialize(python: buffer, as: celltype)
        guard let json = value.jsonValue else {
            throw CelltypeCodecError(
                celltype: celltype.rawValue, reason: "the value is \(value.typeName) data, which has no JSON form")
        }
        return json
    }

    /// Checks that `buffer` is a valid buffer of `celltype` as far as Seamless can read it
    /// (UTF-8 for text celltypes, JSON for plain ones, `.npy` for `binary`). Code celltypes
    /// (`python`, `ipython`, `yaml`) are not parsed as code.
    package static func validate(_ buffer: [UInt8], as celltype: Celltype) throws(CelltypeCodecError) {
        _ = try deserialize(python: buffer, as: celltype)
    }

    // MARK: (c) bash jobs

    /// The result buffer of a bash transformation, from the bytes its job left in `RESULT`.
    ///
    /// Seamless reads `RESULT` with `execute_bash.py:read_data`, then makes
    /// `Buffer(result, output_celltype)`:
    /// 1. output celltype `bytes`: the file bytes, unchanged;
    /// 2. else a `.npy` file is loaded as an array (and, for `mixed`/`binary`, saved again with
    ///    numpy's canonical header);
    /// 3. else non-UTF-8 bytes become a `uint8` array;
    /// 4. else the text is parsed with Python's `json.loads` (`"3\n"` → 3, `"true"` → True,
    ///    NaN/Infinity accepted), and when that fails it stays the text itself (`"hello\n"`);
    /// 5. that value is serialized as `serialize(_:as:)` does. So a `text` output of `"3\n"` is
    ///    `"3\n"` but of `"true\n"` is `"True\n"` and of `"[1,2]"` is `"[1, 2]\n"` (Python's str).
    ///
    /// An empty file or a `null` result fails in Seamless ("Result is empty"), and so here.
    package static func resultBuffer(fromFileBytes bytes: [UInt8], celltype: Celltype) throws(CelltypeCodecError)
        -> [UInt8]
    {
        let fail = { (reason: String) in CelltypeCodecError(celltype: celltype.rawValue, reason: reason) }
        if celltype == .bytes { return bytes }
        if bytes.isEmpty { throw fail("the RESULT file is empty (numpy: No data left in file)") }
        let value: PythonValue
        do {
            if let array = try NumpyArray.load(bytes) {
                value = .ndarray(array)
            } else if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04]) || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
                throw fail("a RESULT that is a zip (.npz) archive is not supported")
            } else if let text = String(validating: bytes, as: UTF8.self) {
                value = (try? JSONParser.parsePython(bytes)) ?? .str(text)
            } else {
                value = .ndarray(NumpyArray(descr: "|u1", fortranOrder: false, shape: [bytes.count], data: bytes))
            }
        } catch let error as PythonText.Unsupported {
            throw fail(error.reason)
        } catch let error as CelltypeCodecError {
            throw error
        } catch {
            throw fail("\(error)")
        }
        if case .none = value { throw fail("the RESULT is JSON null, which Seamless refuses (Result is empty)") }
        return try serialize(python: value, as: celltype)
    }

    /// How one input pin of a bash transformation appears in the job: the file named after
    /// the pin, and possibly an environment variable of the same name.
    ///
    /// Seamless first reads the pin's buffer as its celltype (`buffer.get_value(celltype or
    /// "mixed")`: pass `.mixed` for a pin without celltype), then (`write_bash_job`):
    /// - a scalar (str, int, float, bool) becomes the file `str(value)` + `"\n"` when it does not
    ///   already end with one, so `int` 1000 → `"1000\n"`, `bool` → `"True\n"`, `float` 1e16 →
    ///   `"1e+16\n"`, text `"a\n\n"` → `"a\n"` (text buffers are read with trailing newlines
    ///   stripped); and, when the pin name has no `.` and that text is at most 1000 characters,
    ///   the variable `str(value)` without trailing newlines;
    /// - a list or dict becomes the file `json.dumps(value)` (Python's compact-with-spaces,
    ///   ASCII-escaped form, keys in buffer order, no newline), no variable;
    /// - `bytes` becomes the file as is; a Numpy array (a `binary`/`mixed` `.npy` buffer) the
    ///   raw data when it is 1-D `uint8`, else the `.npy` file re-saved; no variable;
    /// - `mixed` buffers with mixed (`\x94SEAMLESS-MIXED`) data are refused, as in Seamless.
    package static func bashPin(name: String, buffer: [UInt8], celltype: Celltype) throws(CelltypeCodecError)
        -> BashPinMaterialization
    {
        let fail = { (reason: String) in
            CelltypeCodecError(celltype: celltype.rawValue, reason: "pin '\(name)': " + reason)
        }
        let value = try deserialize(python: buffer, as: celltype)
        switch value {
        case .none, .bool, .int, .bigInt, .float, .str:
            var text: String
            do {
                text = try PythonText.str(value)
            } catch {
                throw fail(error.reason)
            }
            if text.utf8.last != 0x0A { text += "\n" }
            var variable: String?
            if !name.contains("."), text.unicodeScalars.count <= 1000 {
                var stripped = Substring(text)
                while stripped.utf8.last == 0x0A { stripped = stripped.dropLast() }
                if stripped.utf8.contains(0) {
                    throw fail("the value contains a NUL character, which cannot be in an environment variable")
                }
                variable = String(stripped)
            }
            return BashPinMaterialization(fileContents: Array(text.utf8), environmentValue: variable)
        case .list, .dict:
            do {
                return BashPinMaterialization(
                    fileContents: try PythonText.jsonDumps(value, layout: .pythonDefault), environmentValue: nil)
            } catch {
                throw fail(error.reason)
            }
        case .bytes(let bytes):
            return BashPinMaterialization(fileContents: bytes, environmentValue: nil)
        case .ndarray(let array):
            if array.descr == "|u1", array.shape.count == 1 {
                return BashPinMaterialization(fileContents: array.data, environmentValue: nil)
            }
            return BashPinMaterialization(fileContents: array.npyBytes(), environmentValue: nil)
        }
    }

    /// The bytes of the file a bash job gets for a pin; see `bashPin(name:buffer:celltype:)`.
    package static func workFileContents(buffer: [UInt8], celltype: Celltype) throws(CelltypeCodecError) -> [UInt8] {
        try bashPin(name: "pin", buffer: buffer, celltype: celltype).fileContents
    }

    /// The environment variable a bash job gets for a pin, nil when the pin is not exported
    /// (not a scalar, a `.` in its name, or longer than 1000 characters); see
    /// `bashPin(name:buffer:celltype:)`.
    package static func environmentValue(buffer: [UInt8], celltype: Celltype, pinName: String)
        throws(CelltypeCodecError) -> String?
    {
        try bashPin(name: pinName, buffer: buffer, celltype: celltype).environmentValue
    }

    /// `execute_bash.py:_is_shell_env_name`: a letter or `_`, then letters, digits or `_`
    /// (Python's Unicode-aware `isalpha`/`isalnum`). Only such pins get an `export` line in
    /// the job script.
    package static func isShellVariableName(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.dropFirst().allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    /// Python's `shlex.quote`, used for the `export NAME=VALUE` lines of `transform.sh`.
    package static func shellQuote(_ text: String) -> String {
        if text.isEmpty { return "''" }
        let safe = text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "_@%+=:,./-".utf8.contains(byte)
        }
        if safe { return text }
        return "'" + text.replacingAll("'", with: "'\"'\"'") + "'"
    }

    // MARK: the Python-level rules

    static func serialize(python value: PythonValue, as celltype: Celltype) throws(CelltypeCodecError) -> [UInt8] {
        let fail = { (reason: String) in CelltypeCodecError(celltype: celltype.rawValue, reason: reason) }
        do {
            switch celltype {
            case .str:
                var out: [UInt8] = []
                if case .bool(let flag) = value {
                    out.append(contentsOf: (flag ? "true" : "false").utf8)
                } else {
                    CanonicalJSON.appendString(try PythonText.str(value), to: &out)
                }
                out.append(0x0A)
                return out
            case .text, .python, .ipython, .yaml:
                var text = try PythonText.str(try decodedIfBytes(value, celltype))
                while text.utf8.last == 0x0A { text.removeLast() }
                return Array(text.utf8) + [0x0A]
            case .int:
                let number = try decodedIfBytes(value, celltype).pythonInt()
                return try orjsonLine(number, celltype)
            case .float:
                var out: [UInt8] = []
                try decodedIfBytes(value, celltype).pythonFloat().appendOrjsonText(to: &out)
                out.append(0x0A)
                return out
            case .bool:
                let flag = try decodedIfBytes(value, celltype).pythonBool()
                return Array((flag ? "true\n" : "false\n").utf8)
            case .plain, .checksum:
                return try orjsonLine(value, celltype)
            case .bytes:
                switch value {
                case .bytes(let bytes): return bytes
                case .ndarray(let array):
                    guard !array.fortranOrder || array.shape.count <= 1 else {
                        throw fail("tobytes() of a Fortran-ordered array is not reproduced")
                    }
                    return array.data
                default:
                    var text = try PythonText.str(value)
                    while text.utf8.last == 0x0A { text.removeLast() }
                    return Array(text.utf8)
                }
            case .mixed:
                return try mixedSerialize(value, celltype)
            case .binary:
                if case .bytes(let bytes) = value { return bytes }
                if let first = try firstOfStringArray(value, celltype) {
                    // np.array(strings) has a 'U' dtype, for which mixed serialization writes
                    // to_stream(data.tolist()[0], "pure-plain"): for one string, its first character.
                    return try mixedSerialize(first, celltype)
                }
                return try mixedSerialize(.ndarray(try numpyArray(from: value, celltype)), celltype)
            }
        } catch let error as CelltypeCodecError {
            throw error
        } catch let error as PythonText.Unsupported {
            throw fail(error.reason)
        } catch let error as PythonValue.ConversionError {
            throw fail(error.reason)
        } catch {
            throw fail("\(error)")
        }
    }

    private static func decodedIfBytes(_ value: PythonValue, _ celltype: Celltype) throws(CelltypeCodecError)
        -> PythonValue
    {
        guard case .bytes(let bytes) = value else { return value }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CelltypeCodecError(celltype: celltype.rawValue, reason: "the bytes are not UTF-8 text")
        }
        return .str(text)
    }

    /// `json_dumps_bytes(value) + b"\n"`, refusing what orjson refuses.
    private static func orjsonLine(_ value: PythonValue, _ celltype: Celltype) throws(CelltypeCodecError) -> [UInt8] {
        guard let json = value.jsonValue else {
            throw CelltypeCodecError(
                celltype: celltype.rawValue, reason: "Type is not JSON serializable: \(value.typeName)")
        }
        try checkOrjsonIntegers(json, celltype)
        var out = CanonicalJSON.encode(json)
        out.append(0x0A)
        return out
    }

    private static func checkOrjsonIntegers(_ value: JSONValue, _ celltype: Celltype) throws(CelltypeCodecError) {
        switch value {
        case .bigInt(let text):
            if text.hasPrefix("-") || UInt64(text) == nil {
                throw CelltypeCodecError(celltype: celltype.rawValue, reason: "Integer exceeds 64-bit range: \(text)")
            }
        case .array(let items):
            for item in items { try checkOrjsonIntegers(item, celltype) }
        case .object(let object):
            for item in object.values { try checkOrjsonIntegers(item, celltype) }
        default:
            break
        }
    }

    /// `seamless/util/mixed/io/serialization.py:serialize` for the values a bash result or a
    /// JSON request can hold: plain data as Python JSON, arrays as `.npy`.
    private static func mixedSerialize(_ value: PythonValue, _ celltype: Celltype) throws(CelltypeCodecError) -> [UInt8]
    {
        let fail = { (reason: String) in CelltypeCodecError(celltype: celltype.rawValue, reason: reason) }
        switch value {
        case .ndarray(let array):
            if array.descr.dropFirst().hasPrefix("U") {
                throw fail(
                    "Numpy unicode-string arrays take a special path in Seamless's mixed serialization that is not reproduced"
                )
            }
            if array.descr.hasPrefix(">") { throw fail("dtypes must be native (got '\(array.descr)')") }
            return array.npyBytes()
        case .bytes:
            throw fail("mixed serialization of a bytes value (a numpy 'S' scalar) is not reproduced")
        default:
            do {
                var out = try PythonText.jsonDumps(value, layout: .sortedIndent2)
                out.append(0x0A)
                return out
            } catch {
                throw fail(error.reason)
            }
        }
    }

    /// `np.array(value).tolist()[0]` when numpy would make a `'U'` (unicode) array of `value`:
    /// a string, or a rectangular list whose scalars include a string (numpy then turns every
    /// scalar into its `str`).
    private static func firstOfStringArray(_ value: PythonValue, _ celltype: Celltype) throws(CelltypeCodecError)
        -> PythonValue?
    {
        var hasString = false
        func scalarsOnly(_ node: PythonValue) -> Bool {
            switch node {
            case .str:
                hasString = true
                return true
            case .int, .bigInt, .float, .bool: return true
            case .list(let items): return !items.isEmpty && items.allSatisfy(scalarsOnly)
            default: return false
            }
        }
        guard scalarsOnly(value), hasString else { return nil }
        func asStrings(_ node: PythonValue) throws(CelltypeCodecError) -> PythonValue {
            switch node {
            case .list(let items):
                var out: [PythonValue] = []
                for item in items { out.append(try asStrings(item)) }
                return .list(out)
            default:
                do {
                    return .str(try PythonText.str(node))
                } catch {
                    throw CelltypeCodecError(celltype: celltype.rawValue, reason: error.reason)
                }
            }
        }
        switch value {
        case .str(let text):
            guard let first = text.unicodeScalars.first else {
                throw CelltypeCodecError(celltype: celltype.rawValue, reason: "IndexError: string index out of range")
            }
            return .str(String(first))
        case .list(let items):
            return try asStrings(items[0])
        default:
            return nil
        }
    }

    /// `np.array(value)` for JSON data: scalars and rectangular nested lists of bool, int,
    /// float (numpy's type promotion: bool < int64 < float64).
    private static func numpyArray(from value: PythonValue, _ celltype: Celltype) throws(CelltypeCodecError)
        -> NumpyArray
    {
        let fail = { (reason: String) in CelltypeCodecError(celltype: celltype.rawValue, reason: reason) }
        if case .ndarray(let array) = value { return array }
        var shape: [Int] = []
        var probe = value
        while case .list(let items) = probe {
            shape.append(items.count)
            guard let first = items.first else { break }
            probe = first
        }
        var leaves: [PythonValue] = []
        func collect(_ node: PythonValue, depth: Int) -> Bool {
            if depth == shape.count {
                if case .list = node { return false }
                leaves.append(node)
                return true
            }
            guard case .list(let items) = node, items.count == shape[depth] else { return false }
            for item in items where !collect(item, depth: depth + 1) { return false }
            return true
        }
        guard collect(value, depth: 0) else { throw fail("np.array of a ragged nested list is not reproduced") }
        // numpy's promotion for Python scalars: bool < int64 < uint64 (only when some value needs
        // it and none is negative) < float64.
        enum Kind: Int { case bool, int, uint, float }
        var kind = Kind.bool
        if leaves.isEmpty { kind = .float } // np.array([]) is float64
        var hasNegative = false
        for leaf in leaves {
            switch leaf {
            case .bool: break
            case .int(let number):
                hasNegative = hasNegative || number < 0
                kind = Kind(rawValue: max(kind.rawValue, Kind.int.rawValue))!
            case .bigInt(let text) where UInt64(text) != nil:
                kind = Kind(rawValue: max(kind.rawValue, Kind.uint.rawValue))!
            case .float: kind = .float
            default: throw fail("np.array of \(leaf.typeName) values is not reproduced (only bool, int, float)")
            }
        }
        if kind == .uint && hasNegative {
            throw fail("np.array mixing negative integers with integers beyond Int64 is not reproduced")
        }
        var data: [UInt8] = []
        func append<T: FixedWidthInteger>(_ number: T) {
            withUnsafeBytes(of: number.littleEndian) { data.append(contentsOf: $0) }
        }
        for leaf in leaves {
            switch (kind, leaf) {
            case (.bool, .bool(let flag)): data.append(flag ? 1 : 0)
            case (.int, .bool(let flag)): append(Int64(flag ? 1 : 0))
            case (.int, .int(let number)): append(number)
            case (.uint, .bool(let flag)): append(UInt64(flag ? 1 : 0))
            case (.uint, .int(let number)): append(UInt64(number))
            case (.uint, .bigInt(let text)): append(UInt64(text)!)
            case (.float, .bool(let flag)): append((flag ? 1.0 : 0.0).bitPattern)
            case (.float, .int(let number)): append(Double(number).bitPattern)
            case (.float, .bigInt(let text)): append((Double(text) ?? .nan).bitPattern)
            case (.float, .float(let number)): append(number.bitPattern)
            default: break
            }
        }
        let descr =
            switch kind {
            case .bool: "|b1"
            case .int: "<i8"
            case .uint: "<u8"
            case .float: "<f8"
            }
        return NumpyArray(descr: descr, fortranOrder: false, shape: shape, data: data)
    }

    /// `seamless/checksum/parse_buffer.py:_parse_buffer`.
    static func deserialize(python buffer: [UInt8], as celltype: Celltype) throws(CelltypeCodecError) -> PythonValue {
        let fail = { (reason: String) in CelltypeCodecError(celltype: celltype.rawValue, reason: reason) }
        switch celltype {
        case .bytes:
            return .bytes(buffer)
        case .text, .python, .ipython, .yaml:
            guard var text = String(validating: buffer, as: UTF8.self) else {
                throw fail("the buffer is not UTF-8 text")
            }
            while text.utf8.last == 0x0A { text.removeLast() }
            return .str(text)
        case .plain:
            return try orjsonLoads(buffer, celltype)
        case .str, .int, .float, .bool:
            let value = try orjsonLoads(buffer, celltype)
            do {
                switch (celltype, value) {
                case (.str, .str), (.int, .int), (.int, .bigInt), (.int, .bool), (.float, .float), (.bool, .bool):
                    return value
                case (.str, _): return .str(try PythonText.str(value))
                case (.int, _): return try value.pythonInt()
                case (.float, _): return .float(try value.pythonFloat())
                default: return .bool(try value.pythonBool())
                }
            } catch let error as PythonValue.ConversionError {
                throw fail(error.reason)
            } catch let error as PythonText.Unsupported {
                throw fail(error.reason)
            } catch {
                throw fail("\(error)")
            }
        case .checksum:
            // parse_buffer.py decodes the buffer and accepts it only when it is one checksum;
            // its fallback (mixed deserialization) receives a Buffer object and always raises
            // TypeError, so a checksum buffer as _serialize writes it (JSON + "\n") cannot be
            // read back by Seamless 1.x either.
            guard let text = String(validating: buffer, as: UTF8.self), text.unicodeScalars.count == 64,
                (try? Checksum(hex: text)) != nil
            else {
                throw fail("Seamless 1.x reads a checksum buffer only when it is exactly 64 hexadecimal characters")
            }
            return .str(text)
        case .mixed:
            return try mixedDeserialize(buffer, celltype)
        case .binary:
            let value = try mixedDeserialize(buffer, celltype)
            guard case .ndarray = value else { throw fail("a binary buffer must be a .npy array") }
            return value
        }
    }

    private static func orjsonLoads(_ buffer: [UInt8], _ celltype: Celltype) throws(CelltypeCodecError) -> PythonValue {
        // _parse_buffer_plain: decode (strict UTF-8), rstrip("\n"), orjson.loads.
        var end = buffer.count
        while end > 0, buffer[end - 1] == 0x0A { end -= 1 }
        guard String(validating: buffer, as: UTF8.self) != nil else {
            throw CelltypeCodecError(celltype: celltype.rawValue, reason: "the buffer is not UTF-8 text")
        }
        do {
            return try JSONParser.parseOrjson(buffer[0..<end])
        } catch {
            throw CelltypeCodecError(
                celltype: celltype.rawValue, reason: "the buffer is not JSON: \(error.description)")
        }
    }

    /// `seamless/util/mixed/io/serialization.py:deserialize`: `.npy` → array, Seamless mixed
    /// streams refused (not reproduced), anything else read as Python JSON.
    private static func mixedDeserialize(_ buffer: [UInt8], _ celltype: Celltype) throws(CelltypeCodecError)
        -> PythonValue
    {
        let fail = { (reason: String) in CelltypeCodecError(celltype: celltype.rawValue, reason: reason) }
        if buffer.starts(with: NumpyArray.magic) {
            let loaded: NumpyArray?
            do {
                loaded = try NumpyArray.load(buffer)
            } catch {
                throw fail(error.reason)
            }
            guard let array = loaded else { throw fail("the buffer starts like .npy but is not a loadable array") }
            return .ndarray(array)
        }
        if buffer.starts(with: [0x94] + Array("SEAMLESS-MIXED".utf8))
            || buffer.starts(with: [0x93] + Array("SEAMLESS".utf8))
        {
            throw fail("mixed data (plain with embedded arrays) is not supported")
        }
        guard String(validating: buffer, as: UTF8.self) != nil else {
            throw fail("the buffer is neither .npy nor UTF-8 JSON")
        }
        do {
            return try JSONParser.parsePython(buffer)
        } catch {
            throw fail(
                "the buffer is not JSON (Seamless would read it as a numpy bytes scalar, which is not reproduced): \(error.description)"
            )
        }
    }
}

extension String {
    fileprivate func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
