/// What a transformation asks of the machine it runs on: the decoded `__env__` buffer
/// (a `plain` buffer whose checksum the transformation carries).
///
/// Seamless writes it in `seamless_transformer/environment.py:Environment._to_lowlevel`, with
/// only the keys that were set: `which` (list of binaries), `conda` (the environment.yml,
/// parsed to a mapping), `conda_environment` (a name), `powers` (a dict), `docker` (a dict with
/// at least `name`), e.g. `{"docker": {"name": "ubuntu:24.04"}, "conda_environment": "numpy"}`.
package struct TransformationEnvironment: Sendable, Hashable {
    /// `docker.name`: the container image to run in.
    package var image: String?
    /// `conda_environment`: the name of an existing environment.
    package var condaEnvironment: String?
    /// `conda`: an inline environment.yml, as a JSON object.
    package var condaSpec: JSONValue?
    /// `which`: binaries that must be on `PATH` where the job runs.
    package var which: [String]? = nil
    /// `powers`: platform-specific execution privileges, as given.
    package var powers: JSONValue? = nil
    /// The whole decoded value, for plugins that read more of it.
    package var raw: JSONValue

    package init(
        image: String? = nil, condaEnvironment: String? = nil, condaSpec: JSONValue? = nil,
        raw: JSONValue = .object([:])
    ) {
        self.image = image
        self.condaEnvironment = condaEnvironment
        self.condaSpec = condaSpec
        self.raw = raw
    }

    /// Decodes the value of an `__env__` buffer (parse the buffer with `JSONParser` first).
    ///
    /// A value that is not an object counts as no environment, as in
    /// `seamless_transformer/run.py:run_transformation_dict` (`if not isinstance(env_dict,
    /// dict): env_dict = {}`). Keys of the wrong type are refused, naming the key.
    package init(json: JSONValue) throws(TransformationError) {
        self.init(raw: json)
        guard let object = json.objectValue else { return }
        if let docker = object["docker"], !docker.isNull {
            guard let dockerObject = docker.objectValue else {
                throw .badDunder(
                    key: "__env__.docker", reason: "expected an object with 'name', got \(docker.kindName)")
            }
            guard let name = dockerObject["name"]?.stringValue else {
                throw .badDunder(key: "__env__.docker", reason: "expected a string 'name' (the image)")
            }
            image = name
        }
        if let value = object["conda_environment"], !value.isNull {
            guard let name = value.stringValue else {
                throw .badDunder(key: "__env__.conda_environment", reason: "expected a string, got \(value.kindName)")
            }
            condaEnvironment = name.isEmpty ? nil : name
        }
        if let value = object["conda"], !value.isNull {
            guard value.objectValue != nil else {
                throw .badDunder(
                    key: "__env__.conda", reason: "expected an environment.yml mapping, got \(value.kindName)")
            }
            condaSpec = value
        }
        if let value = object["which"], !value.isNull {
            guard let items = value.arrayValue else {
                throw .badDunder(key: "__env__.which", reason: "expected a list of binary names, got \(value.kindName)")
            }
            var names: [String] = []
            for item in items {
                guard let name = item.stringValue else {
                    throw .badDunder(key: "__env__.which", reason: "expected strings, got \(item.kindName)")
                }
                names.append(name)
            }
            which = names
        }
        if let value = object["powers"], !value.isNull {
            powers = value
        }
    }

    /// The conda environment as handlers match it (`match.environment`): `conda_environment`,
    /// else the `name` of an inline `conda` spec, else `inline` for an unnamed one.
    package var environmentName: String? {
        if let condaEnvironment { return condaEnvironment }
        guard let condaSpec else { return nil }
        return condaSpec["name"]?.stringValue ?? "inline"
    }

    /// Parses and decodes an `__env__` buffer.
    package init(buffer: [UInt8]) throws(TransformationError) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(buffer)
        } catch {
            throw .badDunder(key: "__env__", reason: "the environment buffer is not JSON: \(error.description)")
        }
        try self.init(json: value)
    }
}
