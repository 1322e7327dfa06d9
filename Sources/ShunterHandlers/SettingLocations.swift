/// Where each setting of a config file was written (`workdir`, `store.buffers`, `root` ...),
/// so that a problem found after parsing (a work directory that cannot be created, a journal
/// that is no database) is reported at the line an admin must edit.
///
/// Not part of a config's value: two configs with the same settings are equal wherever
/// their settings were written.
package struct SettingLocations: Sendable, Hashable {
    private var locations: [String: SourceLocation] = [:]

    package init() {}

    package subscript(setting: String) -> SourceLocation? {
        get { locations[setting] }
        set { locations[setting] = newValue }
    }

    package static func == (lhs: SettingLocations, rhs: SettingLocations) -> Bool { true }

    package func hash(into hasher: inout Hasher) {}
}
