import Testing

@testable import ShunterCore

@Suite struct CelltypeCodecTests {
    @Test func int1000BufferHasTheKnownChecksums() throws {
        let buffer = try CelltypeCodec.serialize(.int(1000), as: .int)
        #expect(buffer == bytes(hex: int1000Vector.buffer))
        #expect(text(buffer) == "1000\n")
        #expect(
            HashAlgorithm.sha256.checksum(of: buffer).hex
                == "83c02ac2d48c863dab2ccf6870455aadfc2cec073b8db269b517c879d76aa6d9")
        #expect(HashAlgorithm.sha256.checksum(of: buffer).hex == int1000Vector.sha256)
        #expect(HashAlgorithm.sha3_256.checksum(of: buffer).hex == int1000Vector.sha3)
    }

    @Test func serializationMatchesSeamlessForEveryCelltype() throws {
        var compared = 0
        for vector in serializeVectors {
            let source = bytes(hex: vector.json)
            let value = try JSONParser.parse(source)
            let celltype = try Celltype(name: vector.celltype)
            let label = "\(text(source)) as \(vector.celltype)"
            if let expected = vector.expected {
                do {
                    let buffer = try CelltypeCodec.serialize(value, as: celltype)
                    #expect(
                        hex(buffer) == expected,
                        "\(label): got \(text(buffer).debugDescription), Seamless: \(text(bytes(hex: expected)).debugDescription)"
                    )
                    compared += 1
                } catch {
                    Issue.record(
                        "\(label): Seamless gives \(text(bytes(hex: expected)).debugDescription), Shunter fails: \(error)"
                    )
                }
            } else {
                #expect(throws: CelltypeCodecError.self, "\(label): Seamless fails with \(vector.error ?? "")") {
                    try CelltypeCodec.serialize(value, as: celltype)
                }
            }
        }
        #expect(compared > 300)
    }

    @Test func deserializationMatchesSeamless() throws {
        for vector in deserializeVectors {
            let buffer = bytes(hex: vector.buffer)
            let celltype = try Celltype(name: vector.celltype)
            let label = "\(text(buffer).debugDescription) as \(vector.celltype)"
            if let expected = vector.json {
                let value = try CelltypeCodec.deserialize(buffer, as: celltype)
                #expect(text(CanonicalJSON.encodeCompact(value)) == text(bytes(hex: expected)), "\(label)")
            } else {
                #expect(throws: CelltypeCodecError.self, "\(label): Seamless fails with \(vector.error ?? "")") {
                    try CelltypeCodec.deserialize(buffer, as: celltype)
                }
            }
        }
    }

    @Test func bashResultBuffersMatchSeamless() throws {
        var gaps: [String] = []
        var compared = 0
        for vector in resultVectors {
            let file = bytes(hex: vector.file)
            let celltype = try Celltype(name: vector.celltype)
            let label = "RESULT \(text(file).debugDescription) as \(vector.celltype)"
            if let expected = vector.expected {
                do {
                    let buffer = try CelltypeCodec.resultBuffer(fromFileBytes: file, celltype: celltype)
                    #expect(
                        hex(buffer) == expected,
                        "\(label): got \(text(buffer).debugDescription), Seamless: \(text(bytes(hex: expected)).debugDescription)"
                    )
                    compared += 1
                } catch {
                    if isNumpyTextGap(file: file, celltype: vector.celltype, error: error) {
                        gaps.append(label)
                    } else {
                        Issue.record("\(label): Seamless succeeds, Shunter fails: \(error)")
                    }
                }
            } else {
                #expect(throws: CelltypeCodecError.self, "\(label): Seamless fails with \(vector.error ?? "")") {
                    try CelltypeCodec.resultBuffer(fromFileBytes: file, celltype: celltype)
                }
            }
        }
        #expect(compared > 300)
        // Only numpy's text formatting of arrays is left out; keep the list from growing unnoticed.
        #expect(gaps.count <= 50, "\(gaps)")
    }

    @Test func theTranscriptResultIsTextOf1000() throws {
        let buffer = try CelltypeCodec.resultBuffer(fromFileBytes: Array("1000\n".utf8), celltype: .text)
        #expect(text(buffer) == "1000\n")
        #expect(text(try CelltypeCodec.resultBuffer(fromFileBytes: Array("true\n".utf8), celltype: .text)) == "True\n")
        #expect(try CelltypeCodec.resultBuffer(fromFileBytes: [0xFF, 0x00], celltype: .bytes) == [0xFF, 0x00])
    }

    @Test func bashPinFilesAndVariablesMatchSeamless() throws {
        for vector in pinVectors {
            let buffer = bytes(hex: vector.buffer)
            let celltype = try Celltype(name: vector.celltype)
            let label = "pin \(vector.pin) = \(text(buffer).debugDescription) as \(vector.celltype)"
            if let expectedFile = vector.file {
                let pin = try CelltypeCodec.bashPin(name: vector.pin, buffer: buffer, celltype: celltype)
                #expect(
                    hex(pin.fileContents) == expectedFile, "\(label): file \(text(pin.fileContents).debugDescription)")
                #expect(pin.environmentValue == vector.env, "\(label)")
                #expect(try CelltypeCodec.workFileContents(buffer: buffer, celltype: celltype) == pin.fileContents)
                #expect(
                    try CelltypeCodec.environmentValue(buffer: buffer, celltype: celltype, pinName: vector.pin)
                        == vector.env)
            } else {
                #expect(throws: CelltypeCodecError.self, "\(label): Seamless fails with \(vector.error ?? "")") {
                    try CelltypeCodec.bashPin(name: vector.pin, buffer: buffer, celltype: celltype)
                }
            }
        }
    }

    @Test func npyArraysAreResavedWithNumpysCanonicalHeader() throws {
        // An .npy whose header is laid out differently (no growth padding) must come out as
        // np.save writes it: what Seamless stores is the re-saved file.
        let header = Array("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }".utf8)
        var padded = header + Array(repeating: UInt8(ascii: " "), count: 64 - ((10 + header.count + 1) % 64)) + [0x0A]
        padded = NumpyArray.magic + [1, 0, UInt8(padded.count), 0] + padded
        let data: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]
        let buffer = try CelltypeCodec.resultBuffer(fromFileBytes: padded + data, celltype: .mixed)
        let canonical = try #require(
            resultVectors.first { $0.celltype == "mixed" && bytes(hex: $0.file).starts(with: NumpyArray.magic) })
        #expect(buffer.count == 128 + 16)
        #expect(Array(buffer.suffix(16)) == data)
        #expect(text(Array(buffer[10..<128])).hasPrefix("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"))
        #expect(bytes(hex: canonical.expected!).count == 128 + 40)
    }

    @Test func shellHelpersFollowPython() {
        #expect(CelltypeCodec.shellQuote("") == "''")
        #expect(CelltypeCodec.shellQuote("abc-1.2/x") == "abc-1.2/x")
        #expect(CelltypeCodec.shellQuote("it's here") == #"'it'"'"'s here'"#)
        #expect(CelltypeCodec.isShellVariableName("a_1"))
        #expect(!CelltypeCodec.isShellVariableName("1a"))
        #expect(!CelltypeCodec.isShellVariableName("a.txt"))
        #expect(!CelltypeCodec.isShellVariableName("sub/a"))
    }
}
