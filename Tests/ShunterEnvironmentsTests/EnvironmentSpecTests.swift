import Foundation
import ShunterCore
import ShunterEnvironments
import ShunterHandlers
import ShunterTestSupport
import Testing

@Suite("Environment specs: parsing, normalising, identity")
struct EnvironmentSpecTests {
    func parse(_ yaml: String, name: String = "demo") async throws -> EnvironmentSpec {
        try await withTemporaryDirectory { directory in
            let file = "\(directory)/\(name).yml"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            return try EnvironmentSpecParser.parse(file: file)
        }
    }

    @Test("the identity ignores the name, comments, layout and dependency order, not channel order")
    func identityIsNormalised() async throws {
        let base = try await parse(
            """
            name: first
            channels: [conda-forge, bioconda]
            dependencies:
              - python=3.11
              - numpy >=1.26
              - pip:
                  - requests==2.31
                  - six
            """)
        let reordered = try await parse(
            """
            # a comment
            name: second
            channels:
              - conda-forge
              - bioconda
            dependencies:
              - NumPy   >=1.26
              - pip:
                  - six
                  - requests==2.31
              - python=3.11
            """, name: "other")
        #expect(base.identity == reordered.identity)
        #expect(base.identity.count == 64)
        #expect(base.name == "demo") // the file's stem, not `name:`
        #expect(base.dependencies == ["numpy >=1.26", "python=3.11"])
        #expect(base.pip == ["requests==2.31", "six"])

        let channelsSwapped = try await parse(
            """
            channels: [bioconda, conda-forge]
            dependencies: [python=3.11, numpy >=1.26, {pip: [six, requests==2.31]}]
            """)
        #expect(channelsSwapped.identity != base.identity)
    }

    @Test("a changed package, version or variable changes the identity")
    func changesChangeIdentity() async throws {
        let spec = "channels: [conda-forge]\ndependencies: [python=3.11, numpy=1.26]\n"
        let a = try await parse(spec)
        let b = try await parse(spec.replacingOccurrences(of: "1.26", with: "2.0"))
        let c = try await parse(spec + "variables: {OMP_NUM_THREADS: 1}\n")
        #expect(Set([a.identity, b.identity, c.identity]).count == 3)
        #expect(c.variables == ["OMP_NUM_THREADS": "1"])
    }

    @Test("mistakes name file, line and column")
    func errorsHaveLocations() async throws {
        let error = await #expect(throws: ConfigErrors.self) {
            _ = try await parse(
                """
                channels: conda-forge
                dependencis:
                  - numpy
                """, name: "broken")
        }
        let text = error?.description ?? ""
        #expect(text.contains("broken.yml:1:11: 'channels' must be a list"))
        #expect(text.contains("broken.yml:2:1: unknown key 'dependencis'"))
        #expect(text.contains("did you mean 'dependencies'"))
        #expect(text.contains("needs 'dependencies'"))

        let badYAML = await #expect(throws: ConfigErrors.self) {
            _ = try await parse("dependencies:\n  - numpy\n  bad: [\n", name: "indent")
        }
        #expect(badYAML?.description.contains("indent.yml:3:") == true)
    }

    @Test("an inline spec from __env__.conda")
    func inlineSpec() throws {
        let json = try JSONParser.parse(
            Array(#"{"name": "tool", "dependencies": ["python=3.11", {"pip": ["six"]}]}"#.utf8))
        let spec = try EnvironmentSpecParser.parse(inline: json)
        #expect(spec.name == "tool")
        #expect(spec.pip == ["six"])
        #expect(spec.origin == "__env__.conda")
        let unnamed = try EnvironmentSpecParser.parse(
            inline: try JSONParser.parse(Array(#"{"dependencies": ["numpy"]}"#.utf8)))
        #expect(unnamed.label == "inline-" + unnamed.identity.prefix(12))

        #expect(throws: ConfigErrors.self) {
            _ = try EnvironmentSpecParser.parse(inline: try JSONParser.parse(Array(#"{"dependencies": [3]}"#.utf8)))
        }
    }

    @Test("environment.yml written for conda tools reads back as the same spec")
    func environmentYAMLRoundTrips() async throws {
        let spec = try await parse(
            """
            channels: [conda-forge]
            dependencies: [python=3.11, "numpy>=1.26", {pip: ["requests[socks]==2.31"]}]
            variables: {MODE: "fast \\"quoted\\""}
            """)
        let again = try await parse(spec.environmentYAML)
        #expect(again.identity == spec.identity)
    }

    @Test("the shipped conda-envs/ definitions are valid")
    func shippedDefinitionsAreValid() {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let catalog = EnvironmentCatalog(directory: root + "/conda-envs")
        #expect(catalog.names().contains("numpy-pip"))
        #expect(catalog.validate().isEmpty, "\(catalog.validate())")
    }
}
