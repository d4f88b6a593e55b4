// The two envelopes every frame carries, encoded and decoded by hand instead of through
// protobuf-c. They are tiny fixed messages (varints, one string, one bytes field), and on every
// call protobuf-c's generic path cost about 2,000 instructions and three allocations each way
// (an unpacked tree, an arena, an intermediate array) — a fifth of a CanMakeRequest on both
// sides (tokengate-bench, callgrind). The bytes are exactly protobuf-c's: fields in number
// order, proto3 defaults omitted, strings cut at a NUL as protobuf-c's `strlen` would; decoding
// follows protobuf-c 1.4's scanning rules (tags of at most five bytes, length prefixes of at most
// five, unknown fields skipped, the last of a repeated field wins, a known field with the wrong
// wire type refused except the bool, which protobuf-c reads from any wire type), and the tests
// check both directions against libprotobuf-c itself on random and mutated bytes.
//
// Buffer ownership: Swift arrays and slices; a string's UTF-8 buffer is borrowed only inside
// `withCStringBytes`, and byte buffers only for one `memcmp` in `knownMethod`.

import Glibc
import TokenGateCore

/// Protobuf wire format primitives for the envelopes.
enum EnvelopeCodec {
    // MARK: - Encoding

    /// Bytes a varint of `value` takes.
    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    @inline(__always)
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        // Tags and most small numbers take one byte.
        if value < 0x80 {
            out.append(UInt8(truncatingIfNeeded: value))
            return
        }
        var value = value
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
    }

    /// Size of a varint field, or 0 when `value` is the proto3 default.
    static func varintFieldSize(_ field: UInt64, _ value: UInt64) -> Int {
        value == 0 ? 0 : varintSize(field << 3) + varintSize(value)
    }

    static func appendVarintField(_ field: UInt64, _ value: UInt64, to out: inout [UInt8]) {
        guard value != 0 else { return }
        appendVarint(field << 3, to: &out)
        appendVarint(value, to: &out)
    }

    /// Size of a length-delimited field of `count` bytes, or 0 when empty.
    static func delimitedFieldSize(_ field: UInt64, count: Int) -> Int {
        count == 0 ? 0 : varintSize(field << 3) + varintSize(UInt64(count)) + count
    }

    static func appendDelimitedField<Bytes: Collection<UInt8>>(_ field: UInt64, _ bytes: Bytes, to out: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        appendVarint(field << 3 | 2, to: &out)
        appendVarint(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// Calls `body` with a string's bytes as protobuf-c packs them: up to the first NUL. The
    /// buffer is valid only inside `body`.
    static func withCStringBytes<Result>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        var string = string
        return string.withUTF8 { utf8 in
            // memchr, not firstIndex(of:): this runs on every string of every hot message.
            guard let base = utf8.baseAddress, let nul = memchr(base, 0, utf8.count) else { return body(utf8) }
            return body(UnsafeBufferPointer(start: base, count: base.distance(to: nul.assumingMemoryBound(to: UInt8.self))))
        }
    }

    /// Appends the 4-byte big-endian frame length (DESIGN.md §5).
    static func appendFrameLength(_ length: Int, to out: inout [UInt8]) {
        precondition(UInt64(length) <= UInt64(UInt32.max), "frame payload of \(length) bytes cannot be framed")
        let value = UInt32(length)
        out.append(UInt8(truncatingIfNeeded: value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    // MARK: - Decoding

    /// Why decoding stopped.
    enum Failure: Error {
        case malformed
        case field(FieldError)
    }

    /// One field as it sits in the bytes: `raw` is everything after the tag (with a length
    /// prefix, for length-delimited fields), `value` the payload.
    struct RawField {
        var number: UInt32
        var type: UInt8
        var raw: Range<Int>
        var value: Range<Int>
    }

    /// Walks the fields of one message with protobuf-c's scanning rules: a tag of at most five
    /// bytes (field 0 refused), varints ending within ten bytes, length
    /// prefixes of at most five bytes, wire types 0, 1, 2 and 5 only.
    struct Reader {
        let bytes: ArraySlice<UInt8>
        var position: Int

        init(_ bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            position = bytes.startIndex
        }

        var isAtEnd: Bool { position == bytes.endIndex }

        mutating func next() throws(Failure) -> RawField {
            let (number, type) = try tag()
            let start = position
            let remaining = bytes.endIndex - position
            switch type {
            case 0:
                var length = 0
                while true {
                    guard length < min(remaining, 10) else { throw .malformed }
                    length += 1
                    if bytes[start + length - 1] & 0x80 == 0 { break }
                }
                position += length
            case 1, 5:
                let width = type == 1 ? 8 : 4
                guard remaining >= width else { throw .malformed }
                position += width
            case 2:
                let (length, prefix) = try lengthPrefix(remaining)
                guard UInt64(prefix) + UInt64(length) <= UInt64(remaining) else { throw .malformed }
                position += prefix + Int(length)
                return RawField(number: number, type: type, raw: start..<position, value: (start + prefix)..<position)
            default:
                throw .malformed
            }
            return RawField(number: number, type: type, raw: start..<position, value: start..<position)
        }

        private mutating func tag() throws(Failure) -> (UInt32, UInt8) {
            let first = bytes[position]
            var number = UInt32(first & 0x7F) >> 3
            let type = first & 7
            position += 1
            if first & 0x80 == 0 {
                guard number != 0 else { throw .malformed }
                return (number, type)
            }
            var shift: UInt32 = 4
            for _ in 1..<5 {
                guard position < bytes.endIndex else { throw .malformed }
                let byte = bytes[position]
                position += 1
                number |= UInt32(truncatingIfNeeded: UInt64(byte & 0x7F) << UInt64(shift))
                if byte & 0x80 == 0 {
                    guard number != 0 else { throw .malformed }
                    return (number, type)
                }
                shift += 7
            }
            throw .malformed
        }

        private func lengthPrefix(_ remaining: Int) throws(Failure) -> (UInt32, Int) {
            var length: UInt32 = 0
            for index in 0..<min(remaining, 5) {
                let byte = bytes[position + index]
                length |= UInt32(truncatingIfNeeded: UInt64(byte & 0x7F) << UInt64(7 * index))
                if byte & 0x80 == 0 { return (length, index + 1) }
            }
            throw .malformed
        }

        /// A varint field's value (bits past the 64th dropped, as protobuf-c does).
        func varint(_ field: RawField) throws(Failure) -> UInt64 {
            guard field.type == 0 else { throw .malformed }
            var value: UInt64 = 0
            for (index, position) in field.raw.enumerated() {
                value |= UInt64(bytes[position] & 0x7F) << UInt64(7 * index)
            }
            return value
        }

        /// A length-delimited field's payload.
        func delimited(_ field: RawField) throws(Failure) -> ArraySlice<UInt8> {
            guard field.type == 2 else { throw .malformed }
            return bytes[field.value]
        }

        /// A bool field as protobuf-c reads it: true when any byte of it (of any wire type,
        /// length prefix included) has a non-zero low seven bits.
        func boolean(_ field: RawField) -> Bool {
            bytes[field.raw].contains { $0 & 0x7F != 0 }
        }
    }

    /// A string field: cut at a NUL (as protobuf-c's C string is read), validated as UTF-8.
    static func string(_ bytes: ArraySlice<UInt8>, field: String) throws(Failure) -> String {
        let text = bytes.firstIndex(of: 0).map { bytes[..<$0] } ?? bytes
        if text.isEmpty { return "" }
        guard let string = String(validating: text, as: UTF8.self) else {
            throw .field(FieldError(field: field, problem: .invalidUTF8))
        }
        return string
    }

    /// The method paths, so that decoding a known one shares its string instead of allocating.
    private static let knownMethods: [(bytes: [UInt8], path: String)] = MethodPath.all.map { (Array($0.utf8), $0) }

    static func knownMethod(_ bytes: ArraySlice<UInt8>) -> String? {
        bytes.withUnsafeBytes { candidate in
            for known in knownMethods where known.bytes.count == candidate.count {
                let equal = known.bytes.withUnsafeBytes { memcmp($0.baseAddress!, candidate.baseAddress!, candidate.count) == 0 }
                if equal { return known.path }
            }
            return nil
        }
    }
}

// MARK: - The envelopes

extension RequestEnvelope {
    /// Appends the envelope, preceded by its 4-byte frame length when `framed`.
    func append(to out: inout [UInt8], framed: Bool) {
        EnvelopeCodec.withCStringBytes(method) { method in
            let size = EnvelopeCodec.varintFieldSize(1, callID)
                + EnvelopeCodec.delimitedFieldSize(2, count: method.count)
                + EnvelopeCodec.varintFieldSize(3, UInt64(deadlineMs))
                + EnvelopeCodec.delimitedFieldSize(4, count: payload.count)
            out.reserveCapacity(out.count + (framed ? 4 : 0) + size)
            if framed { EnvelopeCodec.appendFrameLength(size, to: &out) }
            EnvelopeCodec.appendVarintField(1, callID, to: &out)
            EnvelopeCodec.appendDelimitedField(2, method, to: &out)
            EnvelopeCodec.appendVarintField(3, UInt64(deadlineMs), to: &out)
            EnvelopeCodec.appendDelimitedField(4, payload, to: &out)
        }
    }

    static func decodeFields(_ bytes: ArraySlice<UInt8>) throws(EnvelopeCodec.Failure) -> RequestEnvelope {
        var reader = EnvelopeCodec.Reader(bytes)
        var envelope = RequestEnvelope(callID: 0, method: "", deadlineMs: 0, payload: ArraySlice())
        var method: ArraySlice<UInt8> = []
        while !reader.isAtEnd {
            let field = try reader.next()
            switch field.number {
            case 1: envelope.callID = try reader.varint(field)
            case 2: method = try reader.delimited(field)
            case 3: envelope.deadlineMs = UInt32(truncatingIfNeeded: try reader.varint(field))
            case 4: envelope.payload = try reader.delimited(field)
            default: break
            }
        }
        // Text is checked once the whole frame has proved well formed, as protobuf-c would.
        if let known = EnvelopeCodec.knownMethod(method) {
            envelope.method = known
        } else {
            envelope.method = try EnvelopeCodec.string(method, field: "method")
        }
        return envelope
    }
}

extension ResponseEnvelope {
    /// Appends the envelope, preceded by its 4-byte frame length when `framed`.
    func append(to out: inout [UInt8], framed: Bool) {
        EnvelopeCodec.withCStringBytes(statusMessage) { message in
            let size = EnvelopeCodec.varintFieldSize(1, callID)
                + EnvelopeCodec.varintFieldSize(2, UInt64(statusCode))
                + EnvelopeCodec.delimitedFieldSize(3, count: message.count)
                + EnvelopeCodec.delimitedFieldSize(4, count: payload.count)
                + EnvelopeCodec.varintFieldSize(5, endOfStream ? 1 : 0)
            out.reserveCapacity(out.count + (framed ? 4 : 0) + size)
            if framed { EnvelopeCodec.appendFrameLength(size, to: &out) }
            EnvelopeCodec.appendVarintField(1, callID, to: &out)
            EnvelopeCodec.appendVarintField(2, UInt64(statusCode), to: &out)
            EnvelopeCodec.appendDelimitedField(3, message, to: &out)
            EnvelopeCodec.appendDelimitedField(4, payload, to: &out)
            EnvelopeCodec.appendVarintField(5, endOfStream ? 1 : 0, to: &out)
        }
    }

    static func decodeFields(_ bytes: ArraySlice<UInt8>) throws(EnvelopeCodec.Failure) -> ResponseEnvelope {
        var reader = EnvelopeCodec.Reader(bytes)
        var envelope = ResponseEnvelope(callID: 0)
        var message: ArraySlice<UInt8> = []
        while !reader.isAtEnd {
            let field = try reader.next()
            switch field.number {
            case 1: envelope.callID = try reader.varint(field)
            case 2: envelope.statusCode = UInt32(truncatingIfNeeded: try reader.varint(field))
            case 3: message = try reader.delimited(field)
            case 4: envelope.payload = Array(try reader.delimited(field))
            case 5: envelope.endOfStream = reader.boolean(field)
            default: break
            }
        }
        envelope.statusMessage = try EnvelopeCodec.string(message, field: "status_message")
        return envelope
    }
}
