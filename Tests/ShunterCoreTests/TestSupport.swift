@testable import ShunterCore

/// Decodes the lowercase hex the vector generator writes.
func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var high: UInt8?
    for char in hex.utf8 {
        let nibble: UInt8 = char <= 0x39 ? char - 0x30 : char - 0x61 + 10
        if let h = high {
            out.append(h << 4 | nibble)
            high = nil
        } else {
            high = nibble
        }
    }
    return out
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// Cases where Seamless's result depends on numpy's own text formatting of an array
/// (`str(array)`, `int(array)`): Shunter refuses them with a "not reproduced" error instead.
func isNumpyTextGap(file: [UInt8], celltype: String, error: any Error) -> Bool {
    let isArray = file.starts(with: NumpyArray.magic) || String(validating: file, as: UTF8.self) == nil
    return isArray && ["text", "python", "ipython", "yaml", "str", "int", "float"].contains(celltype)
        && "\(error)".contains("not reproduced")
}
