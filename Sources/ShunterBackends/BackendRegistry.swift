/// The backends this build of the broker knows. Adding a backend is one file conforming to
/// `Backend` (with a static `descriptor`) and one line here.
package enum BackendRegistry {
    package static let builtIn: [BackendDescriptor] = [
        LocalBackend.descriptor,
        SlurmBackend.descriptor,
        DockerBackend.descriptor,
        ApptainerBackend.descriptor,
    ]

    /// The descriptor for a handler's `backend:` name, nil if none has it.
    package static func descriptor(named name: String, in descriptors: [BackendDescriptor] = builtIn)
        -> BackendDescriptor?
    {
        descriptors.first { $0.name == name }
    }
}
