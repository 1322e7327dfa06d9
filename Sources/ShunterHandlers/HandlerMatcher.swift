/// Decides which handlers may take a job. Handlers are tried in their configured order; the
/// broker gives the job to the first candidate that has room.
///
/// Patterns are compiled once at init, so a match per job costs a few string comparisons.
package struct HandlerMatcher: Sendable {
    package let handlers: [HandlerConfig]
    private let rules: [CompiledRules]

    package init(handlers: [HandlerConfig]) {
        self.handlers = handlers
        self.rules = handlers.map { CompiledRules($0.match) }
    }

    /// The first handler whose rules accept the job, ignoring how busy it is.
    package func firstMatch(_ traits: JobTraits) -> HandlerConfig? {
        rules.firstIndex { $0.refusal(traits) == nil }.map { handlers[$0] }
    }

    /// Every handler that accepts the job, in order.
    package func candidates(_ traits: JobTraits) -> [HandlerConfig] {
        candidateIndices(traits).map { handlers[$0] }
    }

    /// Positions in `handlers` of every handler that accepts the job, in order.
    package func candidateIndices(_ traits: JobTraits) -> [Int] {
        rules.indices.filter { rules[$0].refusal(traits) == nil }
    }

    /// For each handler, in order: does it accept the job, and why (not).
    package func explain(_ traits: JobTraits) -> [MatchExplanation] {
        zip(handlers, rules).map { handler, rule in
            if let refusal = rule.refusal(traits) {
                return MatchExplanation(handler: handler, accepted: false, reason: refusal)
            }
            return MatchExplanation(handler: handler, accepted: true, reason: "accepts \(traits.summary)")
        }
    }
}

package struct MatchExplanation: Sendable, Hashable {
    package var handler: HandlerConfig
    package var accepted: Bool
    /// For a refusal, every rule the job fails, joined by "; ".
    package var reason: String
}

extension MatchRules {
    /// Why these rules refuse the job, or nil if they accept it. For one-off checks; the
    /// matcher keeps compiled patterns instead.
    package func refusal(_ traits: JobTraits) -> String? {
        CompiledRules(self).refusal(traits)
    }

    /// What the rules accept, in words: "language bash, no image, any environment".
    package var summary: String {
        let languages =
            languages.map { "language \($0.count == 1 ? $0[0] : "[\($0.joined(separator: ", "))]")" }
            ?? "any language"
        return "\(languages), \(image.summary(noun: "image")), \(environment.summary(noun: "environment"))"
    }
}

extension PatternRule {
    package func summary(noun: String) -> String {
        switch self {
        case .none: "no \(noun)"
        case .any: "any \(noun) or none"
        case .patterns(let patterns):
            "\(noun) \(patterns.count == 1 ? patterns[0] : "[\(patterns.joined(separator: ", "))]")"
        }
    }
}

extension JobTraits {
    /// "language bash, image ubuntu:24.04, no environment", for logs and explanations.
    package var summary: String {
        "language \(language), \(image.map { "image \($0)" } ?? "no image"), "
            + (environment.map { "environment \($0)" } ?? "no environment")
    }
}

/// `MatchRules` with its patterns compiled.
struct CompiledRules: Sendable {
    let languages: Set<String>?
    let languageList: [String]?
    let image: CompiledPatternRule
    let environment: CompiledPatternRule

    init(_ rules: MatchRules) {
        languages = rules.languages.map(Set.init)
        languageList = rules.languages
        image = CompiledPatternRule(rules.image)
        environment = CompiledPatternRule(rules.environment)
    }

    func refusal(_ traits: JobTraits) -> String? {
        var reasons: [String] = []
        if let languages, !languages.contains(traits.language), let languageList {
            reasons.append("language \(traits.language) not in [\(languageList.joined(separator: ", "))]")
        }
        if let reason = image.refusal(traits.image, noun: "image") { reasons.append(reason) }
        if let reason = environment.refusal(traits.environment, noun: "environment") { reasons.append(reason) }
        // The fast path (accept) allocates nothing: `reasons` stays empty.
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}

struct CompiledPatternRule: Sendable {
    let rule: PatternRule
    let patterns: [WildcardPattern]

    init(_ rule: PatternRule) {
        self.rule = rule
        if case .patterns(let texts) = rule { patterns = texts.map(WildcardPattern.init) } else { patterns = [] }
    }

    func refusal(_ name: String?, noun: String) -> String? {
        switch (rule, name) {
        case (.any, _), (.none, nil):
            return nil
        case (.none, let name?):
            return "job asks for \(noun) \(name) but this handler takes no \(noun)"
        case (.patterns(let texts), nil):
            return "job has no \(noun) but this handler needs one matching [\(texts.joined(separator: ", "))]"
        case (.patterns(let texts), let name?):
            if patterns.contains(where: { $0.matches(name) }) { return nil }
            return "\(noun) \(name) matches none of [\(texts.joined(separator: ", "))]"
        }
    }
}
