/// What a transformation asks of the machine it runs on: the decoded `__env__` buffer
/// (a `plain` buffer whose checksum the transformation carries).
///
/// Seamless writes e.g. `{"docker": {"name": "ubuntu:24.04"}, "conda_environment": "numpy"}`.
public struct TransformationEnvironment: Sendable, Hashable {
    /// `docker.name`: the container image to run in.
    public var image: String?
    /// `conda_environment`: the name of an existing environment.
    public var condaEnvironment: String?
    /// `conda`: an inline environment.yml, as a JSON object.
    public var condaSpec: JSONValue?
    /// The whole decoded value, for plugins that read more of it.
    public var raw: JSONValue

    public init(image: String? = nil, condaEnvironment: String? = nil, condaSpec: JSONValue? = nil, raw: JSONValue = .object([:])) {
        self.image = image
        self.condaEnvironment = condaEnvironment
        self.condaSpec = condaSpec
        self.raw = raw
    }
}
