import Hummingbird
import ShunterEnvironments

/// What the broker's conda environments are: the built ones and the builds under way.
///
/// ```
/// GET /environments   {"builds_run": N, "building": [identity...], "defined": [name...],
///                      "environments": [{label, identity, kind, manager, prefix, origin, created, lastUsed}]}
/// ```
package func addEnvironmentRoutes<Context: RequestContext>(to router: Router<Context>, store: EnvironmentStore) {
    router.get("/environments") { _, _ -> Response in
        try PlainResponse.encoded(
            .ok,
            EnvironmentListing(
                builds_run: await store.buildsRun, building: await store.buildsUnderWay,
                defined: store.catalog.names(), environments: await store.inventory()))
    }
}

/// The body of `GET /environments`.
struct EnvironmentListing: Encodable {
    var builds_run: Int
    var building: [String]
    var defined: [String]
    var environments: [EnvironmentSummary]
}
