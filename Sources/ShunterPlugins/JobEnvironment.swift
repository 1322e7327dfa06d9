import ShunterCore
import ShunterEnvironments

/// The conda environment a job asked for in `__env__` (`conda_environment` or an inline
/// `conda` spec), made ready for the job: one place for every plugin that runs jobs in one.
enum JobEnvironment {
    enum Resolution {
        /// The job asks for no environment.
        case none
        /// Built (or found) by the broker's environment store, leased to the job.
        case ready(ReadyEnvironment)
        /// A name the store does not define: only an existing conda installation can have it.
        case undefined(name: String)
    }

    static func resolve(_ job: JobContext) async throws -> Resolution {
        guard let requested = job.environment, requested.condaEnvironment != nil || requested.condaSpec != nil else {
            return .none
        }
        guard let store = job.environments else {
            if let name = requested.condaEnvironment, requested.condaSpec == nil { return .undefined(name: name) }
            throw JobFailure(
                .environmentUnavailable,
                "the job asks for a conda environment, but this broker has no environment support")
        }
        do throws(EnvironmentError) {
            guard let spec = try store.spec(for: requested) else {
                return .undefined(name: requested.condaEnvironment ?? "")
            }
            return .ready(try await store.prepare(spec, jobID: job.jobID))
        } catch {
            throw JobFailure(.environmentUnavailable, error.description)
        }
    }

    /// The message for a name neither the store nor a conda installation provides.
    static func unknown(_ name: String, job: JobContext, hint: String) -> JobFailure {
        let base = job.environments.map { $0.unknown(name).description } ?? "unknown conda environment '\(name)'"
        return JobFailure(.environmentUnavailable, base + "; " + hint)
    }
}
