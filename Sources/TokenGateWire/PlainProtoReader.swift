// A cursor for the direct decoders of the hot messages (UsageFactDecoder, HotMessageDecoder):
// it reads the "plain shape" the project's own encoders write and gives nil for anything else,
// which the caller then hands to protobuf-c, so that every input still decodes exactly as
// protobuf-c decodes it.
//
// Buffer ownership: the reader borrows the caller's bytes inside the caller's
// `withUnsafeBufferPointer` and must not outlive it; every read is checked against `end`, and
// `end` is within the buffer, so it never reads outside it (debug builds also check the
// buffer's subscripts).

/// A cursor over `offset..<end` of borrowed bytes.
struct PlainProtoReader {
    /// Protobuf wire types of the plain shape.
    static let varint: UInt64 = 0
    static let lengthDelimited: UInt64 = 2

    let bytes: UnsafeBufferPointer<UInt8>
    var offset: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    /// The bytes of `array`, read by `body`.
    static func reading<T>(_ array: [UInt8], _ body: (inout PlainProtoReader) -> T) -> T {
        array.withUnsafeBufferPointer { buffer in
            var reader = PlainProtoReader(buffer)
            return body(&reader)
        }
    }

    /// The bytes of `slice`, read by `body`; offsets count from the slice's first byte.
    static func reading<T>(_ slice: ArraySlice<UInt8>, _ body: (inout PlainProtoReader) -> T) -> T {
        slice.withUnsafeBufferPointer { buffer in
            var reader = PlainProtoReader(buffer)
            return body(&reader)
        }
    }

    /// A base-128 varint of at most 10 bytes that fits in 64 bits.
    @inline(__always)
    mutating func varint() -> UInt64? {
        // Tags, flags, enums and small counts take one byte.
        if offset < end, bytes[offset] < 0x80 {
            defer { offset += 1 }
            return UInt64(bytes[offset])
        }
        return longVarint()
    }

    /// `varint()` for a value of more than one byte.
    private mutating func longVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end && shift < 64 {
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 { return nil }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    /// A length prefix that stays inside the reader's range.
    mutating func length() -> Int? {
        guard let length = varint(), length <= UInt64(end - offset) else { return nil }
        return Int(length)
    }

    /// The range of a string field of ASCII without NUL, the ids and names the daemon writes.
    /// Anything else (other UTF-8 needs validating; protobuf-c's C strings end at a NUL) is left
    /// to protobuf-c. Its bytes are checked in one branch-free pass.
    mutating func asciiRange() -> Range<Int>? {
        guard let length = length() else { return nil }
        let range = offset..<(offset + length)
        offset += length
        var high: UInt8 = 0
        var low: UInt8 = 0xFF
        for index in range {
            high |= bytes[index]
            low = min(low, bytes[index])
        }
        return high < 0x80 && low > 0 ? range : nil
    }

    /// A string field of ASCII without NUL (see `asciiRange`). ASCII is valid UTF-8, so
    /// decoding it cannot repair anything.
    mutating func string() -> String? {
        guard let range = asciiRange() else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// A field key: its number (1...`fieldsMax`, not seen before, marked in `seen`) and wire type.
    mutating func key(fieldsMax: UInt64, seen: inout UInt32) -> (UInt64, UInt64)? {
        guard let key = varint() else { return nil }
        let field = key >> 3
        guard field >= 1 && field <= fieldsMax, seen & (1 << UInt32(field)) == 0 else { return nil }
        seen |= 1 << UInt32(field)
        return (field, key & 7)
    }

    /// A bool written as 0 or 1.
    mutating func bool() -> Bool? {
        switch varint() {
        case 0: false
        case 1: true
        default: nil
        }
    }

    /// An enum number the Swift type knows, written as a non-negative int32.
    mutating func enumValue<E: RawRepresentable<Int32>>(as _: E.Type) -> E? {
        guard let value = varint(), let number = Int32(exactly: value) else { return nil }
        return E(rawValue: number)
    }
}
