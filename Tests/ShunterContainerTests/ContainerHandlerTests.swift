import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterPlugins
import Testing

/// What an admin configures: allow-lists, default images, the shipped handler files, and
/// the startup warning for a missing engine. None of these need an engine.
@Suite("Container handlers: images allowed, refused and mapped")
struct ContainerHandlerTests {
    @Test("an allow-list refuses an image, naming the handler, the list and where it is written")
    func allowListRefuses() async throws {
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let handler = try ContainerJobs.dockerHandler(
            containerBash: "  allowed_images: [\"shunter-test/*\", \"ubuntu:24.04\"]")
        let job = try await jobs.job(code: "echo 1 > RESULT", image: "evil/miner:1", handler: handler)
        do {
            _ = try await ContainerJobs.plugin(handler).prepare(job)
            Issue.record("the refused image was prepared")
        } catch let failure as JobFailure {
            #expect(failure.kind == .badInput)
            #expect(
                failure.message.contains("handler 'docker-test' refuses image 'evil/miner:1'"), "\(failure.message)")
            #expect(failure.message.contains("[shunter-test/*, ubuntu:24.04]"))
            #expect(failure.message.contains("container-bash.allowed_images at test-handler.yaml:7:"))
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: jobs.root) == [], "no work directory for a refused job")
        // Allowed images pass.
        let plugin = try ContainerBashPlugin(handler: handler)
        #expect(
            try plugin.image(for: TransformationEnvironment(image: "shunter-test/busybox:1"))
                == "shunter-test/busybox:1")
        #expect(try plugin.image(for: TransformationEnvironment(image: "ubuntu:24.04")) == "ubuntu:24.04")
        #expect(throws: JobFailure.self) { try plugin.image(for: TransformationEnvironment(image: "ubuntu:22.04")) }
    }

    @Test("without allowed_images, the match.image patterns are the allow-list")
    func matchPatternsAreTheDefaultAllowList() throws {
        let handler = try ContainerJobs.handler(
            """
            name: rpbs
            plugin: container-bash
            backend: docker
            match: {image: ["rpbs/*"]}
            """)
        let plugin = try ContainerBashPlugin(handler: handler)
        #expect(try plugin.image(for: TransformationEnvironment(image: "rpbs/tool:2")) == "rpbs/tool:2")
        #expect {
            try plugin.image(for: TransformationEnvironment(image: "other/tool"))
        } throws: { error in
            "\(error)".contains("handler 'rpbs' refuses image 'other/tool'")
                && "\(error)".contains("match.image of the handler at test-handler.yaml:1:1")
        }
        // With match.image: any and no list, every (well-formed) image goes.
        let open = try ContainerBashPlugin(handler: try ContainerJobs.dockerHandler())
        #expect(try open.image(for: TransformationEnvironment(image: "anything/at:all")) == "anything/at:all")
    }

    @Test("the default image serves jobs without one, and must itself be allowed")
    func defaultImage() throws {
        let handler = try ContainerJobs.dockerHandler(
            containerBash: "  default_image: shunter-test/busybox:1\n  allowed_images: \"shunter-test/*\"")
        let plugin = try ContainerBashPlugin(handler: handler)
        #expect(try plugin.image(for: nil) == "shunter-test/busybox:1")
        #expect(try plugin.image(for: TransformationEnvironment(image: "shunter-test/other")) == "shunter-test/other")

        let outside = try ContainerJobs.dockerHandler(
            containerBash: "  default_image: ubuntu:24.04\n  allowed_images: \"shunter-test/*\"")
        #expect {
            try ContainerBashPlugin(handler: outside)
        } throws: { error in
            "\(error)".hasPrefix("test-handler.yaml:7:")
                && "\(error)".contains("not allowed by the handler's own allow-list")
        }
        let nothingToRun = try ContainerJobs.handler(
            "name: x\nplugin: container-bash\nbackend: docker\nmatch: {image: none}\n")
        #expect {
            try ContainerBashPlugin(handler: nothingToRun)
        } throws: { error in
            "\(error)".contains("could run nothing")
        }
        let noImage = try ContainerBashPlugin(handler: try ContainerJobs.dockerHandler())
        #expect {
            try noImage.image(for: nil)
        } throws: { error in
            "\(error)".contains("the job names no image") && "\(error)".contains("container-bash.default_image")
        }
    }

    @Test("prepare hands the backend the image and the __meta__ request; reattach gives the same execution")
    func prepareAndReattach() async throws {
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        let handler = try ContainerJobs.dockerHandler()
        let job = try await jobs.job(
            code: "echo $a > RESULT", pins: [("a", "int", [UInt8](text: "1\n"))], meta: ["ncores": .int(3)],
            image: "shunter-test/busybox:1", handler: handler)
        let plugin = try ContainerJobs.plugin(handler)
        let prepared = try await plugin.prepare(job)
        #expect(prepared.execution.image == "shunter-test/busybox:1")
        #expect(prepared.execution.resources.cores == 3)
        #expect(prepared.execution.command.first == "/bin/sh")
        #expect(prepared.execution.environment["a"] == "1")
        #expect(prepared.execution.environment["PATH"] == nil, "the host's PATH does not enter the image")
        let again = try await plugin.reattach(job, workDirectory: prepared.workDirectory)
        #expect(again.execution.image == prepared.execution.image)
        #expect(again.execution.command == prepared.execution.command)
        #expect(again.execution.environment == prepared.execution.environment)
    }

    @Test(
        "malformed image names never reach an engine",
        arguments: ["../etc", "-rm", "a b", "x//y", "/abs", "ok;rm", "a/./b", ""])
    func malformedImageNames(_ name: String) throws {
        #expect(ContainerImageName.problem(with: name) != nil)
        let plugin = try ContainerBashPlugin(handler: try ContainerJobs.dockerHandler())
        #expect(throws: JobFailure.self) { try plugin.image(for: TransformationEnvironment(image: name)) }
    }

    @Test("image names map to files in an image directory")
    func imageFileNames() {
        #expect(ContainerImageName.problem(with: "registry.example.org:5000/rpbs/tool@sha256:abc") == nil)
        #expect(ContainerImageName.fileStem("ubuntu:24.04") == "ubuntu_24.04")
        #expect(ContainerImageName.fileStem("rpbs/tool") == "rpbs_tool_latest")
        #expect(ContainerImageName.fileStem("host:5000/ns/tool") == "host_5000_ns_tool_latest")
        #expect(ContainerImageName.fileStem("host:5000/ns/tool:1.2") == "host_5000_ns_tool_1.2")
        #expect(ContainerImageName.fileStem("ns/tool@sha256:ab12") == "ns_tool_sha256_ab12")
    }

    @Test("the shipped handler files are valid and build")
    func shippedHandlers() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let loader = HandlerLoader(catalog: JobPluginRegistry.catalog())
        for file in ["30-docker.yaml", "31-apptainer.yaml"] {
            let text = try String(contentsOfFile: "\(root)/handlers/\(file)", encoding: .utf8)
            // Enabled, so the loader hands it back and its sections are read by the real code.
            let loaded = loader.parse(
                yaml: text.replacingOccurrences(of: "enabled: false", with: "enabled: true"), file: file)
            #expect(loaded.errors == [], "\(file): \(loaded.errors)")
            let handler = try #require(loaded.handlers.first)
            _ = try ContainerJobs.plugin(handler)
            _ = try ContainerJobs.backend(handler)
        }
    }

    @Test("an engine that is not installed gives a startup warning, not an error")
    func missingEngineWarning() async throws {
        let handlers = [
            try ContainerJobs.handler(
                "name: d\nplugin: container-bash\nbackend: docker\nmatch: {image: any}\ndocker: {executable: /nonexistent/docker}\n"
            ),
            try ContainerJobs.handler(
                "name: a\nplugin: container-bash\nbackend: apptainer\nmatch: {image: any}\napptainer: {executable: /nonexistent/apptainer}\n"
            ),
            try ContainerJobs.handler("name: b\nplugin: bash\nbackend: local\n"),
        ]
        let warnings = await BackendAvailability.warnings(for: handlers)
        #expect(warnings.count == 2, "\(warnings)")
        #expect(
            warnings.first?.contains("handler 'd' (test-handler.yaml:1:1): backend docker is not usable") == true,
            "\(warnings)")
        #expect(warnings.first?.contains("enabled: false") == true)
        #expect(warnings.last?.contains("handler 'a'") == true)
        // And a job that reaches such a handler fails with a reason, it does not hang.
        let jobs = try ContainerJobs()
        defer { jobs.cleanUp() }
        await #expect(throws: BackendError.self) {
            _ = try await jobs.run(try await jobs.job(code: "echo 1 > RESULT", image: "x", handler: handlers[0]))
        }
    }
}
