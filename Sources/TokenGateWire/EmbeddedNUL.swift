// protobuf-c hands string fields over as C strings, so a NUL inside one would silently cut it
// ("shop\0x" would decode as "shop"). Identifiers may not hold control characters (DESIGN §4),
// and no text field has a use for NUL, so before unpacking a request (`WireCodec.decode`),
// `ProtobufC.unpack` asks this walker, guided by the message's protobuf-c descriptor, for the
// first string field holding a NUL byte.
//
// Buffer ownership: the walker only reads the caller's borrowed buffer within its bounds and
// keeps no pointer; descriptors are protobuf-c's static tables.

import CProtobufC
import TokenGateProtoC

enum EmbeddedNUL {
    /// Nesting deeper than this is left to protobuf-c (which has its own limit).
    static let depthMax = 32

    /// The dotted path of the first string field of `bytes` (a message of `descriptor`) that holds
    /// a NUL byte, or nil. Malformed input also gives nil: protobuf-c refuses it afterwards.
    static func field(
        in bytes: UnsafeBufferPointer<UInt8>, descriptor: UnsafePointer<ProtobufCMessageDescriptor>
    ) -> String? {
        // Canonical proto3 holds no zero byte unless a string or bytes field does (zero values
        // are not written, and no varint ends in 0x00), so the walk is usually skipped.
        guard bytes.contains(0) else { return nil }
        return walk(bytes, 0, bytes.count, descriptor, depth: 0)
    }

    private static func walk(
        _ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
        _ descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int
    ) -> String? {
        var reader = PlainProtoReader(bytes, offset: start, end: end)
        while reader.offset < end {
            guard let key = reader.varint() else { return nil }
            switch key & 7 {
            case 0: guard reader.varint() != nil else { return nil }
            case 1: reader.offset += 8
            case 5: reader.offset += 4
            case 2:
                guard let length = reader.length() else { return nil }
                let range = reader.offset..<(reader.offset + length)
                reader.offset += length
                guard key >> 3 <= UInt64(UInt32.max),
                    let field = protobuf_c_message_descriptor_get_field(descriptor, UInt32(key >> 3))
                else { continue }
                let name = field.pointee.name.map { String(cString: $0) } ?? "field \(key >> 3)"
                if field.pointee.type == PROTOBUF_C_TYPE_STRING, bytes[range].contains(0) { return name }
                if field.pointee.type == PROTOBUF_C_TYPE_MESSAGE, depth < depthMax,
                    let nested = field.pointee.descriptor?.assumingMemoryBound(to: ProtobufCMessageDescriptor.self),
                    let inner = walk(bytes, range.lowerBound, range.upperBound, nested, depth: depth + 1)
                {
                    return name + "." + inner
                }
            default: return nil
            }
            if reader.offset > end { return nil }
        }
        return nil
    }
}
