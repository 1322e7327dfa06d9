/// Which dunder keys decide a transformation's identity, as in
/// `seamless_transformer/transformation_utils.py` (Seamless 1.x).
package enum TransformationDunder {
    /// Kept in the identity buffer (`TRANSFORMATION_LOAD_BEARING_DUNDER_KEYS`).
    package static let loadBearing: Set<String> = ["__language__", "__output__", "__as__", "__format__", "__schema__"]
    /// Travel beside the transformation, never in its identity (`TRANSFORMATION_ORTHOGONAL_DUNDER_KEYS`).
    package static let orthogonal: Set<String> = [
        "__meta__", "__env__", "__compilation__", "__record_probe__", "__code_checksum__",
        "__code_text__", "__compilers__", "__languages__",
    ]
    /// Computed by the executor, never in the identity (`TRANSFORMATION_DERIVED_DUNDER_KEYS`).
    package static let derived: Set<String> = ["__compiled__", "__header__", "__deps__"]
}

extension Transformation {
    /// The bytes whose checksum is the transformation's identity: `tf_get_buffer` in
    /// `seamless_transformer/transformation_utils.py`.
    ///
    /// Kept: the load-bearing dunders (values verbatim) and every pin as
    /// `[celltype, subcelltype, checksum]` (values verbatim). Dropped: orthogonal and derived
    /// dunders, and `META__*` keys (which are still pins for execution). Refused: any other key
    /// starting with `__`, and a pin that is not a 3-element array. The result is a `plain`
    /// buffer: canonical JSON plus `"\n"`.
    package static func identityBuffer(of dict: [String: JSONValue]) throws(TransformationError) -> [UInt8] {
        var kept = [String: JSONValue](minimumCapacity: dict.count)
        for (key, value) in dict {
            if TransformationDunder.loadBearing.contains(key) {
                kept[key] = value
                continue
            }
            if TransformationDunder.orthogonal.contains(key) || TransformationDunder.derived.contains(key)
                || key.hasPrefix("META__")
            {
                continue
            }
            if key.hasPrefix("__") { throw .unknownDunder(key) }
            guard case .array(let parts) = value, parts.count == 3 else {
                throw .badPin(name: key, reason: "expected a 3-element array, got \(value.kindName)")
            }
            kept[key] = value
        }
        var buffer = CanonicalJSON.encode(.object(kept))
        buffer.append(UInt8(ascii: "\n"))
        return buffer
    }

    /// Parses a transformation dict as a Seamless client sends it and computes its checksum.
    ///
    /// - `dunder` is the request's `tf_dunder`; orthogonal/derived dunders found in `dict` are
    ///   moved into `dunder` (the dict's `__env__` wins, as in `resolve_env_checksum`; `__meta__`
    ///   is merged with `dunder`'s keys winning, as in `merge_transformation_meta`; for other
    ///   keys `dunder` wins).
    /// - `pins` holds every non-dunder key, `META__*` ones included (Seamless materializes them
    ///   for bash); a pin whose checksum is `null` (an optional argument left out) stays in the
    ///   identity but not in `pins`, as `build_transformation_namespace_sync` skips it.
    /// - `__language__` defaults to `"python"` when absent, as in Seamless.
    /// - When `claimedChecksum` is given and differs from the computed one: `.checksumMismatch`.
    package static func parse(
        dict: [String: JSONValue], dunder: [String: JSONValue] = [:], hash: HashAlgorithm = .sha256,
        claimedChecksum: Checksum? = nil
    ) throws(TransformationError) -> Transformation {
        let buffer = try identityBuffer(of: dict)
        let checksum = hash.checksum(of: buffer)
        if let claimedChecksum, claimedChecksum != checksum {
            throw .checksumMismatch(claimed: claimedChecksum, computed: checksum)
        }

        var language = "python"
        if let value = dict["__language__"] {
            guard let text = value.stringValue else {
                throw .badDunder(key: "__language__", reason: "expected a string, got \(value.kindName)")
            }
            language = text
        }
        guard let outputValue = dict["__output__"] else { throw .missingKey("__output__") }
        let output = try parseOutput(outputValue)

        var pins: [String: Pin] = [:]
        var body: [String: JSONValue] = [:]
        for meta in [dict["__meta__"], dunder["__meta__"]] {
            if let meta, !meta.isNull, meta.objectValue == nil {
                throw .badDunder(
                    key: "__meta__", reason: "expected a dict (ncores, memory, walltime, ...), got \(meta.kindName)")
            }
        }
        var merged = dunder
        for (key, value) in dict {
            if TransformationDunder.orthogonal.contains(key) || TransformationDunder.derived.contains(key) {
                switch key {
                case "__env__":
                    merged[key] = value
                case "__meta__":
                    var meta = value.objectValue ?? [:]
                    for (metaKey, metaValue) in dunder["__meta__"]?.objectValue ?? [:] { meta[metaKey] = metaValue }
                    merged[key] = .object(meta)
                default:
                    if merged[key] == nil { merged[key] = value }
                }
                continue
            }
            body[key] = value
            if key.hasPrefix("__") { continue }
            if let pin = try parsePin(name: key, value) { pins[key] = pin }
        }
        if let env = merged["__env__"], !env.isNull {
            guard let text = env.stringValue, (try? Checksum(hex: text)) != nil else {
                throw .badDunder(
                    key: "__env__",
                    reason: "expected the checksum (64 hex characters) of a plain buffer, got \(env.kindName)")
            }
        }
        return Transformation(
            dict: body, dunder: merged, checksum: checksum, language: language, output: output, pins: pins)
    }

    private static func parseOutput(_ value: JSONValue) throws(TransformationError) -> Output {
        guard case .array(let parts) = value, parts.count >= 2 else {
            throw .badDunder(key: "__output__", reason: "expected [name, celltype, subcelltype], got \(value.kindName)")
        }
        guard let name = parts[0].stringValue else {
            throw .badDunder(key: "__output__", reason: "the output name must be a string, got \(parts[0].kindName)")
        }
        guard let celltypeName = parts[1].stringValue else {
            throw .badDunder(
                key: "__output__", reason: "the output celltype must be a string, got \(parts[1].kindName)")
        }
        guard let celltype = Celltype(rawValue: celltypeName) else {
            if ["deepcell", "deepfolder", "folder"].contains(celltypeName) {
                throw .badDunder(
                    key: "__output__", reason: "output celltype '\(celltypeName)' (a deep result) is not supported")
            }
            throw .unknownCelltype(celltypeName)
        }
        var subcelltype: String?
        if parts.count > 2 {
            if let text = parts[2].stringValue {
                subcelltype = text
            } else if !parts[2].isNull {
                throw .badDunder(
                    key: "__output__",
                    reason: "the output subcelltype must be a string or null, got \(parts[2].kindName)")
            }
        }
        return Output(name: name, celltype: celltype, subcelltype: subcelltype)
    }

    private static func parsePin(name: String, _ value: JSONValue) throws(TransformationError) -> Pin? {
        guard case .array(let parts) = value, parts.count == 3 else {
            throw .badPin(name: name, reason: "expected a 3-element array, got \(value.kindName)")
        }
        guard let celltype = parts[0].stringValue else {
            throw .badPin(name: name, reason: "the celltype must be a string, got \(parts[0].kindName)")
        }
        var subcelltype: String?
        if let text = parts[1].stringValue {
            subcelltype = text
        } else if !parts[1].isNull {
            throw .badPin(name: name, reason: "the subcelltype must be a string or null, got \(parts[1].kindName)")
        }
        if parts[2].isNull { return nil }
        guard let hex = parts[2].stringValue else {
            throw .badPin(name: name, reason: "the checksum must be a string, got \(parts[2].kindName)")
        }
        let checksum: Checksum
        do {
            checksum = try Checksum(hex: hex)
        } catch {
            throw .badPin(name: name, reason: error.description)
        }
        return Pin(celltype: celltype, subcelltype: subcelltype, checksum: checksum)
    }
}
