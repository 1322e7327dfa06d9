import ShunterBackends
import ShunterCore
import ShunterHandlers
import ShunterStore

/// Why the broker refused a transformation before journaling it: a client's mistake, said as
/// a sentence the client can act on. Nothing was journaled and nothing ran.
package struct AdmissionRefusal: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable {
        /// The request itself is wrong (a pin name, a celltype, a `__meta__` value): HTTP 400.
        case invalid
        /// The request is well formed but this broker cannot run it (no handler takes it, an
        /// input buffer is missing): HTTP 422.
        case unrunnable
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }
}

/// What the broker checks before it journals a job: everything that would fail the job for a
/// reason in the request, found without running it. A job journaled is run again after every
/// restart, so a request that can only fail must not be journaled.
enum JobAdmission {
    static func check(
        _ transformation: Transformation, traits: JobTraits, matcher: HandlerMatcher, buffers: any BufferStore
    ) async throws(AdmissionRefusal) {
        var problems = transformation.admissionProblems()
        do {
            _ = try ResourceRequest(meta: transformation.meta, defaults: ResourceRequest())
        } catch {
            problems.append(error.description)
        }
        if !problems.isEmpty {
            throw AdmissionRefusal(.invalid, "the transformation cannot run: " + problems.joined(separator: "; "))
        }
        if let refusal = noHandler(traits, matcher: matcher) { throw refusal }
        try await checkBuffers(of: transformation, in: buffers)
    }

    /// Nil when some handler takes jobs like this one.
    static func noHandler(_ traits: JobTraits, matcher: HandlerMatcher) -> AdmissionRefusal? {
        guard matcher.candidateIndices(traits).isEmpty else { return nil }
        if matcher.handlers.isEmpty {
            return AdmissionRefusal(.unrunnable, "this broker has no job handlers; add one to its handlers directory")
        }
        // Every handler names its languages (the loader fills in the plugin's): say the simple thing.
        let languages = matcher.handlers.compactMap(\.match.languages)
        if languages.count == matcher.handlers.count, !languages.contains(where: { $0.contains(traits.language) }) {
            let served = Array(Set(languages.joined())).sorted()
            return AdmissionRefusal(
                .unrunnable,
                "no job handler of this broker runs __language__ '\(traits.language)'; its handlers run: "
                    + served.joined(separator: ", "))
        }
        let reasons = matcher.explain(traits).map { "  \($0.handler.name): \($0.reason)" }
        return AdmissionRefusal(
            .unrunnable,
            "no job handler accepts this job (\(traits.summary)); each handler's reason:\n"
                + reasons.joined(separator: "\n"))
    }

    /// Every pin's buffer must be in the store (or promised to it): the plugins read them all.
    static func checkBuffers(of transformation: Transformation, in buffers: any BufferStore)
        async throws(AdmissionRefusal)
    {
        let names = transformation.pins.keys.sorted()
        let present: [Bool]
        do {
            present = try await buffers.has(names.map { transformation.pins[$0]!.checksum })
        } catch {
            // The store did not answer: the job's own reads will say what is wrong.
            return
        }
        let missing = zip(names, present).filter { !$0.1 }.map(\.0)
        guard !missing.isEmpty else { return }
        let list = missing.map { "pin '\($0)': buffer \(transformation.pins[$0]!.checksum) is not in the buffer store" }
        throw AdmissionRefusal(
            .unrunnable,
            list.joined(separator: "; ") + "; upload each buffer first (PUT /<checksum> on this server)")
    }
}
