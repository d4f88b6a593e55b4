// Two builds of one program. Built normally, it replays saved inputs through a fuzz target:
// `tokengate-fuzz-wire TARGET FILE_OR_DIR...` (CI replays the regression corpus this way). Built
// by scripts/fuzz.sh with `-sanitize=fuzzer` and `-DFUZZING`, libFuzzer drives the target named
// by $TOKENGATE_FUZZ_TARGET through `LLVMFuzzerTestOneInput`. Buffer ownership: libFuzzer owns
// `data` for the duration of one call; it is copied into an array before use.
import Foundation

#if FUZZING
private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["TOKENGATE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set TOKENGATE_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point under this name; libFuzzer's driver takes over.
@_cdecl("tokengate_fuzz_wire_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return runFuzzerDriver(&count, &vector) { data, size in testOneInput(data, size) }
}
#else
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: tokengate-fuzz-wire \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE_OR_DIR...")
            exit(2)
        }
        var replayed = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                target.run(Array(data))
                replayed += 1
            }
        }
        print("tokengate-fuzz-wire: replayed \(replayed) inputs through \(name) with no failure")
    }
}
#endif
