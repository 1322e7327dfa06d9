import ShunterHandlers

/// The images a container handler agrees to run, and the reason it gives when it refuses one.
///
/// How it relates to `match.image`: the match rule *routes* (a job whose image it does not
/// accept goes on to the next handler, and a job no handler accepts is refused with every
/// handler's reason); the allow-list is the handler's *policy* on the image it would actually
/// run (the job's, or `container-bash.default_image` for a job that names none). A handler
/// written with `match: {image: any}` and an allow-list therefore takes every container job
/// and fails the ones whose image is not allowed with a message naming it, instead of letting
/// them fall through to a later catch-all handler.
///
/// Without `container-bash.allowed_images`, the allow-list is the `match.image` patterns when
/// there are some (so the two never disagree), and every image otherwise.
package struct ImageAllowList: Sendable, Hashable {
    /// nil: every image.
    package let patterns: [WildcardPattern]?
    /// Where the list comes from, for messages: "container-bash.allowed_images at FILE:L:C".
    package let origin: String

    package init(patterns: [WildcardPattern]?, origin: String) {
        self.patterns = patterns
        self.origin = origin
    }

    /// The allow-list of a handler: its `container-bash.allowed_images` (read from `options`,
    /// the plugin's section), else its `match.image` patterns, else everything.
    package init(options: OptionReader, handler: HandlerConfig) throws(ConfigError) {
        if let texts = try options.stringList("allowed_images") {
            let location = options.location(of: "allowed_images")
            guard !texts.isEmpty else {
                throw ConfigError(
                    "'\(options.path).allowed_images' is empty: the handler could run no image; remove it to allow every image",
                    at: location)
            }
            self.init(
                patterns: texts.map(WildcardPattern.init), origin: "\(options.path).allowed_images at \(location)")
        } else if case .patterns(let texts) = handler.match.image {
            self.init(
                patterns: texts.map(WildcardPattern.init), origin: "match.image of the handler at \(handler.source)")
        } else {
            self.init(patterns: nil, origin: "no allow-list")
        }
    }

    package func allows(_ image: String) -> Bool {
        patterns?.contains { $0.matches(image) } ?? true
    }

    /// Why `handler` refuses `image`, nil when it allows it.
    package func refusal(of image: String, handler: String) -> String? {
        guard let patterns, !allows(image) else { return nil }
        return "handler '\(handler)' refuses image '\(image)': it is not in the handler's allow-list "
            + "[\(patterns.map(\.text).joined(separator: ", "))] (\(origin)); use an allowed image or ask the broker's admin to allow this one"
    }
}
