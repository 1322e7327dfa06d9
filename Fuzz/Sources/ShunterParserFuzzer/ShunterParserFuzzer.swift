import ShunterBackends
import ShunterCore
import ShunterHandlers

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's driver (linked in by `-sanitize=fuzzer`). SwiftPM gives an executable's entry
/// point its own name and links it as `main`, in place of libFuzzer's; this one hands the
/// command line to the driver, as libFuzzer's would.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
struct ShunterParserFuzzer {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv, { start, count in testOneInput(start, count) }))
    }
}

/// libFuzzer's own `main` (which the linker may pull in as well) calls this by name.
@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    testOneInput(start, count)
}

/// One input. The first byte picks the parser; the rest is its input. Every parser must
/// return or throw: a trap (an integer conversion out of range, a `Duration` from an unchecked
/// number, a stack overflow on deep nesting) is the finding.
func testOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let selector = bytes[0]
    let input = Array(bytes.dropFirst())
    let text = String(decoding: input, as: UTF8.self)
    switch selector % 6 {
    case 0: fuzzTransformation(input)
    case 1: fuzzMeta(input)
    case 2: fuzzDurationAndSize(text)
    case 3: fuzzBrokerConfig(text)
    case 4: fuzzHandler(text)
    default: _ = try? JSONParser.parse(input)
    }
    return 0
}

/// A request body: the jobserver payload's `transformation_dict`, parsed as the server does,
/// then its `__meta__` read as the backends read it.
func fuzzTransformation(_ input: [UInt8]) {
    guard let payload = try? JSONParser.parse(input), let object = payload.objectValue else { return }
    let dict = object["transformation_dict"]?.objectValue ?? object
    let dunder = object["tf_dunder"]?.objectValue ?? [:]
    guard let transformation = try? Transformation.parse(dict: dict, dunder: dunder) else { return }
    _ = try? ResourceRequest(meta: transformation.meta, defaults: ResourceRequest())
}

/// A `__meta__` object on its own, against defaults that are themselves valid.
func fuzzMeta(_ input: [UInt8]) {
    guard let value = try? JSONParser.parse(input), let meta = value.objectValue else { return }
    let defaults = ResourceRequest(cores: 1, memoryBytes: 1 << 30, walltime: .seconds(3600))
    _ = try? ResourceRequest(meta: meta, defaults: defaults)
}

/// The duration and size syntax that config files share.
func fuzzDurationAndSize(_ text: String) {
    _ = ConfigParsing.duration(parsing: text)
    _ = ConfigParsing.byteSize(parsing: text)
}

func fuzzBrokerConfig(_ text: String) {
    _ = BrokerConfigLoader.parse(yaml: text, file: "/fuzz/shunter.yaml", environment: [:], currentDirectory: "/fuzz")
}

/// Handler YAML through the loader, then through the option parsers of the backends, where
/// `slurm.memory`, `docker.network` and their kind are read.
func fuzzHandler(_ text: String) {
    let result = HandlerLoader(catalog: fuzzCatalog).parse(yaml: text, file: "/fuzz/handlers/10-fuzz.yaml")
    for handler in result.handlers {
        switch handler.backend {
        case "slurm": _ = try? SlurmOptions(handler: handler)
        case "docker": _ = try? DockerBackend(handler: handler)
        default: break
        }
    }
}

/// The components as the broker declares them: the built-in backends, and the plugins by the
/// names and sections the handler validator checks (the plugin module itself, with its store
/// and HTTP dependencies, stays out of the fuzzer).
let fuzzCatalog = ComponentCatalog(
    plugins: [
        .init(name: "bash", summary: "bash", compatibleBackends: ["local", "slurm"], optionSection: "bash",
              optionKeys: ["shell": "", "pass_environment": "", "conda_root": ""], languages: ["bash"]),
        .init(name: "container-bash", summary: "container-bash", compatibleBackends: ["docker", "apptainer", "slurm"],
              optionSection: "container-bash", optionKeys: ["shell": "", "allowed_images": "", "default_image": ""],
              languages: ["bash"]),
        .init(name: "python", summary: "python", compatibleBackends: ["local", "slurm"], optionSection: "python",
              optionKeys: ["interpreter": "", "pass_environment": ""], languages: ["python"]),
    ],
    backends: BackendRegistry.builtIn.map(\.component))
