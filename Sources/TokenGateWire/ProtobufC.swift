// The one place where Swift values meet protobuf-c: a generic decode path (check the length,
// unpack, copy into Swift values, free, validate) and a generic encode path (build the C struct
// in an arena, size, pack). Every message conversion in this module goes through these two
// functions, so the rules about C memory are written down once.
//
// Buffer ownership:
// - Decoding: `protobuf_c_message_unpack` builds its message tree in an `UnpackArena` (a stack
//   scratch buffer, then heap blocks) that lives only inside `ProtobufC.unpack`; the arena is
//   dropped in a `defer` in that same scope, after `init(copying:)` has copied every string,
//   byte field and nested message into Swift values. No pointer into the tree survives the call.
// - Encoding: every C string, nested struct and pointer array is allocated in a `CArena` that
//   `ProtobufC.pack` creates and deallocates around one call to `protobuf_c_message_pack`; the
//   arena starts in a stack scratch buffer that lives exactly as long as that call. The bytes
//   are packed straight into a Swift `[UInt8]` the caller then owns.
// - The caller's input `[UInt8]` is only borrowed for the duration of `unpack`.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

/// Bounds on what the wire module will hand to protobuf-c.
public enum WireLimits {
    /// Largest protobuf message (envelope, method payload or stored fact) that is decoded at all.
    /// protobuf-c's allocations grow with the input, so this caps them even for callers that do
    /// not frame their input (log replay); socket frames have their own, smaller limits.
    public static let messageBytesMax = 16 * 1024 * 1024
}

// MARK: - Conversion protocols

/// A Swift value that can be copied out of an unpacked protobuf-c struct.
protocol CMessageDecodable {
    /// The generated C struct, e.g. `Tokengate__V1__LogUsageRequest`.
    associatedtype CMessage
    /// Full protobuf name, e.g. `tokengate.v1.LogUsageRequest`.
    static var protoName: String { get }
    /// A C struct after the generated `..._init()`: descriptor set, every field at its default.
    static func cEmpty() -> CMessage
    /// Copies and validates every field. Pointers in `c` are valid only during this call.
    init(copying c: CMessage) throws(FieldError)
}

/// A Swift value that can build its protobuf-c struct for packing.
protocol CMessageEncodable: CMessageDecodable {
    /// Builds the C struct; every pointer in it is allocated in `arena`.
    func cMessage(in arena: inout CArena) -> CMessage
}

extension CMessageDecodable {
    /// The generated descriptor, read from an initialised struct so generic code can reach it.
    static var cDescriptor: UnsafePointer<ProtobufCMessageDescriptor> {
        var empty = cEmpty()
        return withUnsafePointer(to: &empty) { pointer in
            UnsafeRawPointer(pointer).load(as: ProtobufCMessage.self).descriptor
        }
    }
}

// MARK: - Errors

/// A field that failed validation, named by its path inside the message being decoded.
struct FieldError: Error {
    enum Problem {
        case invalidUTF8
        /// A string field holding NUL, which protobuf-c's C strings would silently cut at.
        case controlCharacter
        case unknownEnum(enumName: String, value: Int32)
        case missing
        case duplicate
        /// Present but not a valid value; the text says why (e.g. a period that is not YYYY-MM).
        case invalid(String)
    }

    var field: String
    var problem: Problem

    /// The same error with `parent` prepended to the field path (`alerts[1]` + `kind`).
    func nested(under parent: String) -> FieldError {
        FieldError(field: parent + "." + field, problem: problem)
    }

    /// A sentence for a person: `log_usage.shop_id is not valid UTF-8`.
    func describe(in message: String) -> String {
        let path = message + "." + field
        switch problem {
        case .invalidUTF8:
            return "\(path) is not valid UTF-8"
        case .controlCharacter:
            return "\(path) holds the control character U+0000; ids and texts may not hold control characters"
        case .unknownEnum(let enumName, let value) where value == 0:
            return "\(path) is unspecified (\(enumName) 0)"
        case .unknownEnum(let enumName, let value):
            return "\(path) has unknown \(enumName) value \(value)"
        case .missing:
            return "\(path) is missing"
        case .duplicate:
            return "\(path) repeats an earlier entry"
        case .invalid(let reason):
            return "\(path) is invalid: \(reason)"
        }
    }
}

/// Why a generic decode failed; each caller words it for its own context.
enum DecodeFailure: Error {
    case tooLarge(byteCount: Int)
    case undecodable
    case field(FieldError)
}

// MARK: - Generic decode and encode

enum ProtobufC {
    /// Decodes `bytes` as `M`: check the length, unpack, copy, free, validate. protobuf-c
    /// allocates the unpacked tree from an `UnpackArena` (stack first, heap past it), so the
    /// tree costs no malloc per field and is dropped whole instead of walked by `free_unpacked`.
    static func unpack<M: CMessageDecodable>(
        _ bytes: [UInt8], as _: M.Type, refuseEmbeddedNUL: Bool = false
    ) -> Result<M, DecodeFailure> {
        guard bytes.count <= WireLimits.messageBytesMax else { return .failure(.tooLarge(byteCount: bytes.count)) }
        let descriptor = M.cDescriptor
        return withUnsafeTemporaryAllocation(byteCount: UnpackArena.scratchBytes, alignment: UnpackArena.alignment) { scratch in
            var arena = UnpackArena(scratch: scratch)
            defer { arena.deallocateAll() }
            return withUnsafeMutablePointer(to: &arena) { arenaPointer in
                var allocator = ProtobufCAllocator(
                    alloc: UnpackArena.allocate, free: UnpackArena.free, allocator_data: UnsafeMutableRawPointer(arenaPointer))
                return bytes.withUnsafeBufferPointer { buffer -> Result<M, DecodeFailure> in
                    if refuseEmbeddedNUL, let field = EmbeddedNUL.field(in: buffer, descriptor: descriptor) {
                        return .failure(.field(FieldError(field: field, problem: .controlCharacter)))
                    }
                    // An empty message is valid protobuf; give protobuf-c a real pointer regardless.
                    var emptyInput: UInt8 = 0
                    let unpacked = withUnsafePointer(to: &emptyInput) { empty in
                        protobuf_c_message_unpack(descriptor, &allocator, buffer.count, buffer.baseAddress ?? empty)
                    }
                    guard let unpacked else { return .failure(.undecodable) }
                    let c = UnsafeRawPointer(unpacked).load(as: M.CMessage.self)
                    do throws(FieldError) {
                        return .success(try M(copying: c))
                    } catch {
                        return .failure(.field(error))
                    }
                }
            }
        }
    }

    /// Packs the C struct that `build` makes; everything `build` allocates in the arena is freed
    /// after packing. The arena starts in `CArena.scratchBytes` of stack, so a typical message
    /// packs with one heap allocation: its result.
    static func pack<C>(_ build: (inout CArena) -> C) -> [UInt8] {
        withUnsafeTemporaryAllocation(byteCount: CArena.scratchBytes, alignment: CArena.alignmentMax) { scratch in
            var arena = CArena(scratch: scratch)
            defer { arena.deallocateAll() }
            var c = build(&arena)
            return withUnsafePointer(to: &c) { pointer in
                let message = UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
                let size = protobuf_c_message_get_packed_size(message)
                guard size > 0 else { return [] }
                return [UInt8](unsafeUninitializedCapacity: size) { buffer, initializedCount in
                    initializedCount = protobuf_c_message_pack(message, buffer.baseAddress!)
                    precondition(initializedCount == size, "protobuf-c packed \(initializedCount) of \(size) bytes")
                }
            }
        }
    }

    /// Packs a Swift value through its C struct.
    static func pack<M: CMessageEncodable>(_ message: M) -> [UInt8] {
        pack { arena in message.cMessage(in: &arena) }
    }
}

// MARK: - Arena for unpacking

/// The memory protobuf-c unpacks one message into: a stack scratch buffer, then heap blocks.
/// protobuf-c's `free` calls are ignored; everything goes at once in `deallocateAll()`.
struct UnpackArena {
    /// Enough for every hot message and a stored usage event; bigger messages spill to the heap.
    /// No more than 1 KiB: `withUnsafeTemporaryAllocation` puts larger buffers on the heap.
    static let scratchBytes = 1024
    /// Every allocation is aligned to this (the largest alignment a C field needs).
    static let alignment = 16

    private var cursor: UnsafeMutableRawPointer?
    private var remaining: Int
    private var heapBlocks: [UnsafeMutableRawPointer] = []

    init(scratch: UnsafeMutableRawBufferPointer) {
        cursor = scratch.baseAddress
        remaining = scratch.baseAddress == nil ? 0 : scratch.count
    }

    mutating func allocate(_ byteCount: Int) -> UnsafeMutableRawPointer {
        let rounded = (max(byteCount, 1) + Self.alignment - 1) & ~(Self.alignment - 1)
        if let cursor, rounded <= remaining {
            self.cursor = cursor + rounded
            remaining -= rounded
            return cursor
        }
        let block = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: Self.alignment)
        heapBlocks.append(block)
        return block
    }

    /// Frees the heap blocks. Pointers handed out before are dangling afterwards.
    mutating func deallocateAll() {
        for block in heapBlocks { block.deallocate() }
        heapBlocks.removeAll()
    }

    /// protobuf-c's allocation callback; `data` points at the arena.
    static let allocate: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { data, byteCount in
        data!.assumingMemoryBound(to: UnpackArena.self).pointee.allocate(byteCount)
    }

    /// protobuf-c's free callback: nothing to do until the arena goes.
    static let free: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, _ in }
}

// MARK: - Arena for packing

/// Owns the C memory of one message being packed: strings, nested structs, pointer arrays.
/// Bump-allocates from a few blocks; `deallocateAll()` frees them together. Non-copyable so that
/// no copy can free the blocks twice.
struct CArena: ~Copyable {
    private static let blockBytesMin = 1024
    /// Stack bytes `ProtobufC.pack` lends the arena first: more than any hot message needs, and
    /// no more than 1 KiB, past which `withUnsafeTemporaryAllocation` uses the heap.
    static let scratchBytes = 1024
    /// Alignment of the scratch and heap blocks (the largest any C field needs).
    static let alignmentMax = 16
    /// Heap blocks taken when the scratch ran out (an empty array allocates nothing).
    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0

    /// An arena that uses `scratch` (borrowed, never freed by the arena) before the heap.
    init(scratch: UnsafeMutableRawBufferPointer) {
        cursor = scratch.baseAddress
        remaining = scratch.baseAddress == nil ? 0 : scratch.count
    }

    /// Frees every heap block. Pointers handed out before are dangling afterwards.
    mutating func deallocateAll() {
        for block in blocks { block.deallocate() }
        blocks.removeAll()
        cursor = nil
        remaining = 0
    }

    private mutating func allocate(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        if let cursor {
            let padding = (alignment - Int(bitPattern: cursor) % alignment) % alignment
            if padding + byteCount <= remaining {
                self.cursor = cursor + padding + byteCount
                remaining -= padding + byteCount
                return cursor + padding
            }
        }
        let blockBytes = max(byteCount, Self.blockBytesMin)
        let block = UnsafeMutableRawPointer.allocate(byteCount: blockBytes, alignment: max(alignment, Self.alignmentMax))
        blocks.append(block)
        cursor = block + byteCount
        remaining = blockBytes - byteCount
        return block
    }

    /// A NUL-terminated copy of `string`. protobuf-c packs up to the first NUL, so a string
    /// with an embedded NUL is truncated there (Swift strings rarely hold one; C cannot).
    mutating func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let raw = allocate(byteCount: utf8.count + 1, alignment: 1)
            if let source = utf8.baseAddress { raw.copyMemory(from: source, byteCount: utf8.count) }
            raw.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return raw.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }

    /// A `bytes` field: an arena copy of `bytes` (no data pointer when empty).
    mutating func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let raw = allocate(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { raw.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return ProtobufCBinaryData(len: bytes.count, data: raw.assumingMemoryBound(to: UInt8.self))
    }

    /// An arena copy of `value`.
    mutating func store<T>(_ value: T) -> UnsafeMutablePointer<T> {
        let raw = allocate(byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment)
        return raw.initializeMemory(as: T.self, repeating: value, count: 1)
    }

    /// The arena-allocated C struct of a nested message.
    mutating func message<M: CMessageEncodable>(_ message: M) -> UnsafeMutablePointer<M.CMessage> {
        let c = message.cMessage(in: &self)
        return store(c)
    }

    /// A C array of `count` pointers, filled by `element(i)`; nil when empty, as protobuf-c expects.
    private mutating func pointerArray<T>(
        count: Int, _ element: (Int, inout CArena) -> UnsafeMutablePointer<T>
    ) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        guard count > 0 else { return nil }
        let raw = allocate(
            byteCount: count * MemoryLayout<UnsafeMutablePointer<T>?>.stride,
            alignment: MemoryLayout<UnsafeMutablePointer<T>?>.alignment
        )
        let array = raw.initializeMemory(as: UnsafeMutablePointer<T>?.self, repeating: nil, count: count)
        for index in 0..<count { array[index] = element(index, &self) }
        return array
    }

    /// A repeated string field: `(n_field, field)`.
    mutating func cStrings(_ strings: [String]) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        (strings.count, pointerArray(count: strings.count) { index, arena in arena.cString(strings[index]) })
    }

    /// A repeated message field: `(n_field, field)`.
    mutating func messages<M: CMessageEncodable>(
        _ messages: [M]
    ) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?) {
        (messages.count, pointerArray(count: messages.count) { index, arena in arena.message(messages[index]) })
    }
}

// MARK: - Field copying helpers (decode side)

/// Copies a proto3 string field, validating UTF-8. protobuf-c never leaves one NULL after
/// unpack (absent strings point at the shared empty string), but NULL is read as "" anyway.
func copyString(_ pointer: UnsafePointer<CChar>?, field: @autoclosure () -> String) throws(FieldError) -> String {
    guard let pointer, pointer.pointee != 0 else { return "" }
    guard let string = String(validatingCString: pointer) else {
        throw FieldError(field: field(), problem: .invalidUTF8)
    }
    return string
}

/// Copies a `bytes` field.
func copyBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard let base = data.data, data.len > 0 else { return [] }
    return [UInt8](UnsafeBufferPointer(start: base, count: data.len))
}

/// Maps a C enum to its Swift enum; numbers the Swift enum has no case for are an error
/// (including 0 when the Swift enum has no `unspecified` case).
func copyEnum<C: RawRepresentable, E: RawRepresentable<Int32>>(
    _ value: C, as _: E.Type, field: @autoclosure () -> String
) throws(FieldError) -> E where C.RawValue: BinaryInteger {
    let number = Int32(truncatingIfNeeded: value.rawValue)
    guard let result = E(rawValue: number) else {
        throw FieldError(field: field(), problem: .unknownEnum(enumName: "tokengate.v1.\(E.self)", value: number))
    }
    return result
}

/// Maps a Swift enum to the generated C enum with the same number.
func cEnum<C: RawRepresentable, E: RawRepresentable<Int32>>(_ value: E) -> C where C.RawValue: BinaryInteger {
    guard let result = C(rawValue: C.RawValue(truncatingIfNeeded: value.rawValue)) else {
        preconditionFailure("generated C enum \(C.self) rejects \(value.rawValue)")
    }
    return result
}

/// Copies a repeated string field, naming the bad element (`reasons[2]`).
func copyStrings(
    count: Int, _ items: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, field: String
) throws(FieldError) -> [String] {
    guard count > 0, let items else { return [] }
    var strings: [String] = []
    strings.reserveCapacity(count)
    for index in 0..<count {
        strings.append(try copyString(items[index], field: "\(field)[\(index)]"))
    }
    return strings
}

/// Copies a repeated message field; an error inside element `i` is reported as `field[i].inner`.
func copyMessages<M: CMessageDecodable>(
    count: Int, _ items: UnsafeMutablePointer<UnsafeMutablePointer<M.CMessage>?>?, field: String
) throws(FieldError) -> [M] {
    guard count > 0, let items else { return [] }
    var messages: [M] = []
    messages.reserveCapacity(count)
    for index in 0..<count {
        guard let item = items[index] else { throw FieldError(field: "\(field)[\(index)]", problem: .missing) }
        do throws(FieldError) {
            messages.append(try M(copying: item.pointee))
        } catch {
            throw error.nested(under: "\(field)[\(index)]")
        }
    }
    return messages
}

/// Copies an optional nested message; nil when absent.
func copyMessage<M: CMessageDecodable>(
    _ pointer: UnsafeMutablePointer<M.CMessage>?, field: String
) throws(FieldError) -> M? {
    guard let pointer else { return nil }
    do throws(FieldError) {
        return try M(copying: pointer.pointee)
    } catch {
        throw error.nested(under: field)
    }
}

/// Copies a nested message the containing one cannot do without; absent is `.missing`.
func copyRequiredMessage<M: CMessageDecodable>(
    _ pointer: UnsafeMutablePointer<M.CMessage>?, field: String
) throws(FieldError) -> M {
    guard let message: M = try copyMessage(pointer, field: field) else { throw FieldError(field: field, problem: .missing) }
    return message
}

/// protobuf-c's boolean from a Swift one.
@inline(__always) func cBool(_ value: Bool) -> protobuf_c_boolean { value ? 1 : 0 }
