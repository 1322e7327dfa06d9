import Testing

@testable import ShunterHandlers

@Suite struct HandlerMatcherTests {
    let handlers = [
        HandlerConfig(
            name: "bash-local", plugin: "bash", backend: "local",
            match: MatchRules(languages: ["bash"], image: .none, environment: .none)),
        HandlerConfig(
            name: "ubuntu", plugin: "container-bash", backend: "docker",
            match: MatchRules(languages: ["bash"], image: .patterns(["ubuntu:*", "rpbs/*"]), environment: .none)),
        HandlerConfig(
            name: "anything-bash", plugin: "bash", backend: "slurm",
            match: MatchRules(languages: ["bash"], image: .any, environment: .any)),
        HandlerConfig(
            name: "py-envs", plugin: "python", backend: "slurm",
            match: MatchRules(languages: ["python"], image: .none, environment: .patterns(["sci-??", "ml*"]))),
    ]

    @Test func firstMatchAndCandidatesFollowTheConfiguredOrder() {
        let matcher = HandlerMatcher(handlers: handlers)
        #expect(matcher.firstMatch(JobTraits(language: "bash"))?.name == "bash-local")
        #expect(matcher.candidates(JobTraits(language: "bash")).map(\.name) == ["bash-local", "anything-bash"])
        #expect(
            matcher.candidates(JobTraits(language: "bash", image: "ubuntu:24.04")).map(\.name) == [
                "ubuntu", "anything-bash",
            ])
        #expect(matcher.firstMatch(JobTraits(language: "bash", image: "alpine:3"))?.name == "anything-bash")
        #expect(matcher.firstMatch(JobTraits(language: "python", environment: "sci-01"))?.name == "py-envs")
        #expect(matcher.firstMatch(JobTraits(language: "python", environment: "sci-001")) == nil)
        #expect(matcher.firstMatch(JobTraits(language: "python", environment: "mlflow"))?.name == "py-envs")
        #expect(matcher.firstMatch(JobTraits(language: "python")) == nil)
        #expect(matcher.candidateIndices(JobTraits(language: "bash", environment: "x")) == [2])
    }

    @Test func explainGivesEveryReason() {
        let explained = HandlerMatcher(handlers: handlers).explain(JobTraits(language: "python", image: "alpine:3"))
        #expect(explained.map(\.accepted) == [false, false, false, false])
        #expect(
            explained.map(\.reason) == [
                "language python not in [bash]; job asks for image alpine:3 but this handler takes no image",
                "language python not in [bash]; image alpine:3 matches none of [ubuntu:*, rpbs/*]",
                "language python not in [bash]",
                "job asks for image alpine:3 but this handler takes no image; job has no environment but this handler needs one matching [sci-??, ml*]",
            ])
        let accepted = HandlerMatcher(handlers: handlers).explain(JobTraits(language: "bash", image: "rpbs/tool:1"))
        #expect(accepted.map(\.accepted) == [false, true, true, false])
        #expect(accepted[1].reason == "accepts language bash, image rpbs/tool:1, no environment")
    }

    @Test func languagesNilAcceptsAnyLanguage() {
        let matcher = HandlerMatcher(handlers: [HandlerConfig(name: "all", plugin: "bash", backend: "local")])
        #expect(matcher.firstMatch(JobTraits(language: "fortran"))?.name == "all")
        #expect(
            MatchRules().refusal(JobTraits(language: "x", image: "i"))
                == "job asks for image i but this handler takes no image")
    }

    @Test(arguments: [
        ("ubuntu:*", "ubuntu:24.04", true), ("ubuntu:*", "ubuntu", false), ("rpbs/*", "rpbs/a/b:1", true),
        ("*", "", true), ("?", "", false), ("a?c", "abc", true), ("a?c", "abbc", false), ("*b*b*", "abxxb", true),
        ("*b*b*", "abxx", false), ("exact", "exact", true), ("exact", "Exact", false), ("a*", "a*", true),
        ("*.sif", "x.sif.bak", false), ("**x", "yyx", true), ("ü?", "üß", true),
    ])
    func wildcards(pattern: String, name: String, matches: Bool) {
        #expect(WildcardPattern(pattern).matches(name) == matches)
    }

    @Test func matchingIsFastEnoughToRunPerJob() {
        let many = (0..<100).map { index in
            HandlerConfig(
                name: "h\(index)", plugin: "container-bash", backend: "docker",
                match: MatchRules(
                    languages: ["bash"], image: .patterns(["registry\(index)/*", "x*y*z*"]), environment: .none))
        }
        let matcher = HandlerMatcher(handlers: many)
        let traits = JobTraits(language: "bash", image: "registry99/some/image:latest")
        let clock = ContinuousClock()
        var found = 0
        let elapsed = clock.measure {
            for _ in 0..<1000 where matcher.firstMatch(traits)?.name == "h99" { found += 1 }
        }
        #expect(found == 1000)
        // Speed is the benchmarks' business; this only shows the figure.
        print("1000 matches over 100 handlers: \(elapsed)")
    }
}
