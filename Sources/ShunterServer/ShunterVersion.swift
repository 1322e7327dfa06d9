/// The version `shunter --version` and `/status` report.
public enum ShunterVersion {
    public static let current = "0.1.0"
}
