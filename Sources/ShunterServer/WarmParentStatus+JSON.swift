import ShunterBackends
import ShunterCore

extension WarmParentStatus {
    /// One entry of `GET /status`'s `warm_parents` (docs/python-plugin.md).
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "kind": .string(kind), "interpreter": .string(interpreter), "pid": .int(Int64(pid)), "ready": .bool(ready),
            "running": .int(Int64(running)), "jobs_started": .int(Int64(jobsStarted)),
        ]
        object["resident_bytes"] = residentBytes.map { .int($0) } ?? .null
        object["proportional_bytes"] = proportionalBytes.map { .int($0) } ?? .null
        return .object(object)
    }
}
