import ShunterHandlers

/// A backend whose engine may be missing from the machine (Docker, Apptainer, Slurm).
///
/// Building such a backend never fails because the engine is missing: a broker whose default
/// handlers name Docker must still start on a machine without it. Instead the broker asks at
/// startup and logs a warning for each enabled handler whose engine is unusable; jobs that
/// reach such a handler fail with `BackendError.unavailable`.
package protocol AvailabilityReporting: Backend {
    /// Why jobs of this backend cannot run on this machine now, nil when they can.
    func availabilityProblem() async -> String?
}

package enum BackendAvailability {
    /// One warning per handler whose backend reports a problem (or cannot even be built from
    /// its section), in handler order, for the broker to log at startup.
    package static func warnings(
        for handlers: [HandlerConfig], backends: [BackendDescriptor] = BackendRegistry.builtIn,
        context: BackendContext = BackendContext()
    ) async -> [String] {
        var warnings: [String] = []
        for handler in handlers {
            guard let descriptor = BackendRegistry.descriptor(named: handler.backend, in: backends) else { continue }
            let backend: any Backend
            do {
                backend = try descriptor.make(handler, context)
            } catch {
                warnings.append(
                    "handler '\(handler.name)' (\(handler.source)): backend \(handler.backend) cannot be set up: \(error)"
                )
                continue
            }
            guard let reporting = backend as? any AvailabilityReporting else { continue }
            if let problem = await reporting.availabilityProblem() {
                warnings.append(
                    "handler '\(handler.name)' (\(handler.source)): backend \(handler.backend) is not usable on this machine: "
                        + "\(problem); jobs this handler takes will fail. Install the engine or set 'enabled: false' in \(handler.source.file)"
                )
            }
        }
        return warnings
    }
}
