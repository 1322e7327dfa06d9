import Testing

@testable import ShunterHandlers

@Suite struct ConfigParsingTests {
    let here = SourceLocation(file: "x.yaml", line: 2, column: 5)

    @Test(arguments: [
        ("30s", 30_000), ("5m", 300_000), ("1h", 3_600_000), ("1h30m", 5_400_000), ("90", 90_000),
        ("1d", 86_400_000), ("250ms", 250), ("1m30s", 90_000), ("1.5h", 5_400_000), ("0", 0), ("2d12h", 216_000_000),
    ])
    func durations(text: String, milliseconds: Int64) {
        #expect(ConfigParsing.duration(parsing: text) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["", "h", "30x", "30m1h", "1h1h", "-5s", "1:30", "5 m s", "ms"])
    func notDurations(text: String) {
        #expect(ConfigParsing.duration(parsing: text) == nil)
    }

    @Test func durationFromNumbersAndTheErrorMessage() throws {
        #expect(try ConfigParsing.duration(.int(90, here), key: "t") == .seconds(90))
        #expect(try ConfigParsing.duration(.double(0.5, here), key: "t") == .milliseconds(500))
        #expect {
            _ = try ConfigParsing.duration(.list([], here), key: "timeout")
        } throws: { error in
            (error as? ConfigError)?.description
                == "x.yaml:2:5: 'timeout' must be a duration such as 30s, 5m, 1h30m or 1d, got a list"
        }
    }

    @Test(arguments: ["1e300", "99999999999999d", "9.3e15", "inf", "106752d", "9999999999999999999999h"])
    func durationsOutOfRange(text: String) {
        #expect(ConfigParsing.duration(parsing: text) == nil)
        let error = #expect(throws: ConfigError.self) {
            try ConfigParsing.duration(.string(text, here), key: "timeout")
        }
        #expect(
            error?.description
                == "x.yaml:2:5: 'timeout' is too long: the text '\(text)'; the longest duration accepted is 36500d (100 years)"
        )
    }

    @Test func durationNumbersOutOfRange() {
        #expect(throws: ConfigError.self) { try ConfigParsing.duration(.double(1e300, here), key: "timeout") }
        #expect(throws: ConfigError.self) { try ConfigParsing.duration(.double(9.3e15, here), key: "timeout") }
        #expect(throws: ConfigError.self) { try ConfigParsing.duration(.int(Int.max, here), key: "timeout") }
        #expect(throws: ConfigError.self) { try ConfigParsing.duration(.double(.nan, here), key: "timeout") }
        #expect((try? ConfigParsing.duration(.string("36500d", here), key: "t")) == .seconds(36_500 * 86_400))
    }

    @Test func sizesOutOfRange() {
        #expect(ConfigParsing.byteSize(parsing: "inf") == nil, "a word, not a size")
        for text in ["99999999999T", "1e300", "10000000000000000000"] {
            #expect(ConfigParsing.byteSize(parsing: text) == nil, "\(text)")
            let error = #expect(throws: ConfigError.self) {
                try ConfigParsing.byteSize(.string(text, here), key: "docker.memory")
            }
            #expect(error?.description.contains("the largest size accepted is 1048576T") == true)
        }
        #expect(throws: ConfigError.self) { try ConfigParsing.byteSize(.int(Int.max, here), key: "docker.memory") }
    }

    @Test(arguments: [
        ("512M", Int64(536_870_912)), ("2G", 2_147_483_648), ("2g", 2_147_483_648), ("64K", 65_536),
        ("1.5G", 1_610_612_736), ("2GB", 2_147_483_648), ("2GiB", 2_147_483_648), ("1000", 1000),
        ("1T", 1_099_511_627_776),
    ])
    func sizes(text: String, bytes: Int64) {
        #expect(ConfigParsing.byteSize(parsing: text) == bytes)
    }

    @Test(arguments: ["", "G", "2X", "-1G", "two G", "B"])
    func notSizes(text: String) {
        #expect(ConfigParsing.byteSize(parsing: text) == nil)
    }

    @Test func formatting() {
        #expect(ConfigParsing.format(.seconds(5400)) == "1h30m")
        #expect(ConfigParsing.format(.milliseconds(250)) == "250ms")
        #expect(ConfigParsing.format(.seconds(86_400)) == "1d")
        #expect(ConfigParsing.format(.zero) == "0s")
        #expect(ConfigParsing.format(bytes: 2_147_483_648) == "2G")
        #expect(ConfigParsing.format(bytes: 1000) == "1000")
    }

    @Test func stringListAndMapping() throws {
        #expect(try ConfigParsing.stringList(.string("bash", here), key: "k") == ["bash"])
        #expect(
            try ConfigParsing.stringList(.list([.string("a", here), .string("b", here)], here), key: "k") == ["a", "b"])
        let map = ConfigValue.map([("partition", .string("short", here)), ("qos", .int(1, here))], here)
        #expect {
            _ = try ConfigParsing.mapping(map, key: "slurm", accepted: ["partition", "qoss"], context: "in 'slurm'")
        } throws: { error in
            (error as? ConfigError)?.description
                == "x.yaml:2:5: unknown key 'qos' in 'slurm'; accepted keys: partition, qoss (did you mean 'qoss'?)"
        }
    }

    @Test func editDistanceSuggestsOnlyNearMisses() {
        #expect(EditDistance.between("backnd", "backend") == 1)
        #expect(EditDistance.closest(to: "backnd", among: ["name", "backend", "match"]) == "backend")
        #expect(EditDistance.closest(to: "Backend", among: ["backend"]) == "backend")
        #expect(EditDistance.closest(to: "zzz", among: ["name", "backend"]) == nil)
    }
}
