// Hand-built protobuf bytes for tests, written straight from the encoding spec (tag = field
// number << 3 | wire type, base-128 varints, length-delimited payloads). Tests use them to feed
// the decoder input no encoder in this module would produce, and to pin the encoder's output
// against the spec rather than against protobuf-c itself.

/// Builds protobuf bytes one field at a time.
struct ProtobufBytes {
    var bytes: [UInt8] = []

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value != 0 { byte |= 0x80 }
            out.append(byte)
        } while value != 0
        return out
    }

    /// A varint field (wire type 0); negative Int32/Int64 values are sign-extended to 64 bits.
    func varint(_ field: UInt64, _ value: UInt64) -> ProtobufBytes {
        var copy = self
        copy.bytes += Self.varint(field << 3 | 0) + Self.varint(value)
        return copy
    }

    /// A length-delimited field (wire type 2): strings, bytes, nested messages.
    func delimited(_ field: UInt64, _ payload: [UInt8]) -> ProtobufBytes {
        var copy = self
        copy.bytes += Self.varint(field << 3 | 2) + Self.varint(UInt64(payload.count)) + payload
        return copy
    }

    func string(_ field: UInt64, _ value: String) -> ProtobufBytes { delimited(field, Array(value.utf8)) }
}

/// Bytes that are not valid UTF-8 (0xFF and 0xFE never occur in UTF-8).
let invalidUTF8: [UInt8] = [0xFF, 0xFE]

