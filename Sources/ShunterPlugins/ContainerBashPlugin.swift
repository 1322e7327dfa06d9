import Foundation
import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterStore

/// Runs `__language__: bash` transformations inside a container image, with exactly the work
/// directory, variables, `RESULT` rules and error texts of `BashPlugin` (it delegates to one):
/// a container job and a local job with the same inputs give the same result checksum.
///
/// The image is the job's (`__env__` → `docker.name`) or the handler's
/// `container-bash.default_image`, and must pass the handler's `ImageAllowList`. The backend
/// (docker, apptainer, slurm) gets it as `Execution.image`, together with the job's resource
/// request from `__meta__` (`ncores`, `memory`, ..., read by the bash plugin).
///
/// The job's environment holds the pin variables and the variables named in
/// `container-bash.pass_environment` (by default only locale and time zone): the host's
/// `PATH`, `HOME` or `TMPDIR` mean nothing inside an image, which brings its own.
package struct ContainerBashPlugin: JobPlugin {
    package static let section = "container-bash"
    package static let defaultPassedEnvironment = ["LANG", "LC_ALL", "LC_CTYPE", "TZ"]

    package static let descriptor = JobPluginDescriptor(
        component: ComponentCatalog.Component(
            name: "container-bash",
            summary: "runs bash transformations inside the job's container image (or the handler's default), "
                + "with the bash plugin's work directory and RESULT rules",
            compatibleBackends: ["docker", "apptainer", "slurm"],
            optionSection: section,
            optionKeys: [
                "default_image":
                    "image for jobs whose __env__ names none (then match.image must accept jobs without an image: any)",
                "allowed_images":
                    "image patterns (* and ?) this handler runs; others fail with a message naming the handler "
                    + "(default: the match.image patterns, or every image)",
                "shell": "bash inside the image (default /bin/bash; /bin/sh for busybox images)",
                "pass_environment": "variable names copied from the broker's environment into the job's "
                    + "(default: \(defaultPassedEnvironment.joined(separator: " ")))",
                "conda_root": "conda installation inside the image, for jobs that name a conda_environment",
            ],
            languages: ["bash"]
        ),
        build: { handler in try ContainerBashPlugin(handler: handler) }
    )

    package let handlerName: String
    package let defaultImage: String?
    package let allowList: ImageAllowList
    /// Does the work-directory and RESULT part, exactly as for local jobs.
    let bash: BashPlugin

    package init(handlerName: String, bash: BashPlugin, defaultImage: String?, allowList: ImageAllowList) {
        self.handlerName = handlerName
        self.bash = bash
        self.defaultImage = defaultImage
        self.allowList = allowList
    }

    /// Reads the handler's `container-bash:` section; a default image that is malformed or
    /// outside the allow-list is a configuration error at the line it was written.
    package init(handler: HandlerConfig, brokerEnvironment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        let section = Self.section
        let options = try OptionReader(
            section: section, of: handler, accepted: Self.descriptor.component.optionKeys.keys)
        let names = try options.stringList("pass_environment") ?? Self.defaultPassedEnvironment
        var inherited: [String: String] = [:]
        for name in names {
            if let value = brokerEnvironment[name] { inherited[name] = value }
        }
        let bash = BashPlugin(
            shell: try options.string("shell") ?? "/bin/bash", inheritedEnvironment: inherited,
            condaRoot: try options.string("conda_root"))
        let allowList = try ImageAllowList(options: options, handler: handler)
        let defaultImage = try options.string("default_image")
        if let defaultImage {
            let location = options.location(of: "default_image")
            if let problem = ContainerImageName.problem(with: defaultImage) {
                throw ConfigError("'\(section).default_image': \(problem)", at: location)
            }
            if !allowList.allows(defaultImage) {
                throw ConfigError(
                    "'\(section).default_image' \(defaultImage) is not allowed by the handler's own allow-list (\(allowList.origin))",
                    at: location)
            }
        }
        if defaultImage == nil, handler.match.image == .none {
            throw ConfigError(
                "handler '\(handler.name)' runs containers but takes only jobs without an image (match.image: none) "
                    + "and has no \(section).default_image: it could run nothing; set one of them",
                at: handler.source)
        }
        self.init(handlerName: handler.name, bash: bash, defaultImage: defaultImage, allowList: allowList)
    }

    /// The image the job runs in, or why it cannot run here.
    package func image(for environment: TransformationEnvironment?) throws -> String {
        guard let image = environment?.image ?? defaultImage else {
            throw JobFailure(
                .badInput,
                "handler '\(handlerName)' runs jobs in containers, but the job names no image (__env__ docker.name) "
                    + "and the handler has no \(Self.section).default_image")
        }
        if let problem = ContainerImageName.problem(with: image) {
            throw JobFailure(.badInput, "handler '\(handlerName)' refuses image '\(image)': \(problem)")
        }
        if let refusal = allowList.refusal(of: image, handler: handlerName) {
            throw JobFailure(.badInput, refusal)
        }
        return image
    }

    package func prepare(_ job: JobContext) async throws -> PreparedJob {
        let image = try image(for: job.environment)
        if let environment = job.environment?.condaEnvironment, !environment.isEmpty, bash.condaRoot == nil {
            throw JobFailure(
                .badInput,
                "the job asks for conda environment '\(environment)', but handler '\(handlerName)' has no "
                    + "\(Self.section).conda_root (where conda lives inside image \(image))")
        }
        if job.environment?.condaSpec != nil {
            throw JobFailure(
                .environmentUnavailable,
                "the job gives an inline conda spec (__env__.conda) and a container image: handler '\(handlerName)' "
                    + "cannot build environments inside images; put the packages in the image")
        }
        // Environments live in the image: the broker's own ones (built for this host) do not apply.
        var inImage = job
        inImage.environments = nil
        // The bash plugin also reads the resource request from __meta__.
        var prepared = try await bash.prepare(inImage)
        prepared.execution.image = image
        return prepared
    }

    /// The bash plugin's record of the execution, with the image chosen again the same way
    /// (the record is the bash plugin's and does not hold it).
    package func reattach(_ job: JobContext, workDirectory: String) async throws -> PreparedJob {
        var prepared = try await bash.reattach(job, workDirectory: workDirectory)
        prepared.execution.image = try image(for: job.environment)
        return prepared
    }

    package func collect(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws -> [UInt8] {
        try await bash.collect(job, prepared: prepared, outcome: outcome)
    }

    /// As the bash plugin stores it: a `bytes` result streamed from its file, within the work
    /// directory only.
    package func storeResult(_ job: JobContext, prepared: PreparedJob, outcome: ExecutionOutcome) async throws
        -> Checksum
    {
        try await bash.storeResult(job, prepared: prepared, outcome: outcome)
    }
}
