import Testing

@testable import ShunterCore

@Suite struct TransformationTests {
    private func dict(_ hexText: String) throws -> [String: JSONValue] {
        try #require(try JSONParser.parse(bytes(hex: hexText)).objectValue)
    }

    @Test func identityAndChecksumMatchSeamlessClientDicts() throws {
        for vector in transformationVectors {
            let tfDict = try dict(vector.dict)
            #expect(try Transformation.identityBuffer(of: tfDict) == bytes(hex: vector.identity))
            let parsed = try Transformation.parse(dict: tfDict, dunder: [:], hash: .sha256, claimedChecksum: nil)
            #expect(parsed.checksum.hex == vector.checksum)
        }
    }

    @Test func theTranscriptTransformationIsEchoAToResult() throws {
        let vector = try #require(transformationVectors.first)
        #expect(vector.checksum.hasPrefix("8feb426e"))
        let claimed = try Checksum(hex: vector.checksum)
        let tf = try Transformation.parse(
            dict: try dict(vector.dict), dunder: [:], hash: .sha256, claimedChecksum: claimed)
        #expect(tf.language == "bash")
        #expect(tf.output == .init(name: "result", celltype: .text, subcelltype: nil))
        #expect(
            tf.pins["a"]
                == .init(
                    celltype: "int", subcelltype: nil,
                    checksum: try Checksum(hex: "83c02ac2d48c863dab2ccf6870455aadfc2cec073b8db269b517c879d76aa6d9")))
        #expect(tf.pins["code"]?.celltype == "text")
        #expect(tf.pins["code"]?.subcelltype == "transformer")
        // __meta__ is orthogonal: moved out of the dict into dunder.
        #expect(tf.dict["__meta__"] == nil)
        #expect(tf.meta["local"] == .bool(false))
    }

    @Test func refusesAMismatchedClaimedChecksum() throws {
        let vector = try #require(transformationVectors.first)
        let wrong = try Checksum(hex: String(repeating: "ab", count: 32))
        #expect(
            throws: TransformationError.checksumMismatch(claimed: wrong, computed: try Checksum(hex: vector.checksum))
        ) {
            try Transformation.parse(dict: try dict(vector.dict), dunder: [:], hash: .sha256, claimedChecksum: wrong)
        }
    }

    @Test func sha3ChangesTheChecksumButNotTheIdentityBytes() throws {
        let vector = try #require(transformationVectors.first)
        let tf = try Transformation.parse(
            dict: try dict(vector.dict), dunder: [:], hash: .sha3_256, claimedChecksum: nil)
        #expect(tf.checksum == HashAlgorithm.sha3_256.checksum(of: bytes(hex: vector.identity)))
        #expect(tf.checksum.hex != vector.checksum)
    }

    @Test func metaPinsAreExecutionPinsButNotIdentity() throws {
        let vector = transformationVectors[4]
        let tfDict = try dict(vector.dict)
        #expect(tfDict["META__ncores"] != nil)
        let tf = try Transformation.parse(dict: tfDict, dunder: [:], hash: .sha256, claimedChecksum: nil)
        #expect(tf.pins["META__ncores"]?.celltype == "int")
        #expect(!text(bytes(hex: vector.identity)).contains("META__"))
        #expect(tf.dunder["__code_checksum__"] != nil)
    }

    @Test func dunderMergeFollowsSeamless() throws {
        var tfDict = try dict(transformationVectors[0].dict)
        let envA = String(repeating: "a", count: 64)
        let envB = String(repeating: "b", count: 64)
        tfDict["__env__"] = .string(envA)
        tfDict["__meta__"] = .object(["cores": .int(1), "local": .bool(true)])
        let tf = try Transformation.parse(
            dict: tfDict, dunder: ["__env__": .string(envB), "__meta__": .object(["cores": .int(4)])],
            hash: .sha256, claimedChecksum: nil)
        #expect(tf.environmentChecksum?.hex == envA)
        #expect(tf.meta == ["cores": .int(4), "local": .bool(true)])
        #expect(tf.checksum.hex == transformationVectors[0].checksum)
    }

    @Test func refusesUnknownDundersAndBadPins() throws {
        var tfDict = try dict(transformationVectors[0].dict)
        tfDict["__bogus__"] = .int(1)
        #expect(throws: TransformationError.unknownDunder("__bogus__")) {
            try Transformation.identityBuffer(of: tfDict)
        }
        tfDict["__bogus__"] = nil
        tfDict["b"] = .array([.string("int"), .null])
        #expect(throws: TransformationError.self) { try Transformation.identityBuffer(of: tfDict) }
        tfDict["b"] = .array([.string("int"), .null, .string("xyz")])
        #expect {
            try Transformation.parse(dict: tfDict, dunder: [:], hash: .sha256, claimedChecksum: nil)
        } throws: { error in
            guard case .badPin(let name, _) = error as? TransformationError else { return false }
            return name == "b"
        }
        tfDict["b"] = nil
        tfDict["__output__"] = nil
        #expect(throws: TransformationError.missingKey("__output__")) {
            try Transformation.parse(dict: tfDict, dunder: [:], hash: .sha256, claimedChecksum: nil)
        }
    }

    @Test func deepOutputsAreRefusedByName() throws {
        var tfDict = try dict(transformationVectors[0].dict)
        tfDict["__output__"] = .array([.string("result"), .string("deepfolder"), .null])
        #expect {
            try Transformation.parse(dict: tfDict, dunder: [:], hash: .sha256, claimedChecksum: nil)
        } throws: { error in
            "\(error)".contains("deepfolder") && "\(error)".contains("not supported")
        }
    }

    @Test func optionalPinWithNullChecksumStaysInIdentityOnly() throws {
        var tfDict = try dict(transformationVectors[0].dict)
        tfDict["opt"] = .array([.string("int"), .null, .null])
        let tf = try Transformation.parse(dict: tfDict, dunder: [:], hash: .sha256, claimedChecksum: nil)
        #expect(tf.pins["opt"] == nil)
        #expect(tf.checksum.hex != transformationVectors[0].checksum)
    }

    @Test func environmentDecodesWhatSeamlessWrites() throws {
        let buffer = bytes(hex: environmentVector.buffer)
        #expect(HashAlgorithm.sha256.checksum(of: buffer).hex == environmentVector.checksum)
        let env = try TransformationEnvironment(buffer: buffer)
        #expect(env.image == "rpbs/tool:1.0")
        #expect(env.condaEnvironment == "numpy-env")
        #expect(env.which == ["gcc", "make"])
        #expect(env.condaSpec?["dependencies"] == .array([.string("numpy")]))
        #expect(env.raw["docker"]?["options"] == .array([.string("--rm")]))
        // Re-serializing the decoded value as plain gives back the same buffer.
        #expect(try CelltypeCodec.serialize(env.raw, as: .plain) == buffer)
        #expect(try TransformationEnvironment(json: .array([])).image == nil)
        #expect(throws: TransformationError.self) {
            try TransformationEnvironment(json: .object(["docker": .string("x")]))
        }
    }
}
