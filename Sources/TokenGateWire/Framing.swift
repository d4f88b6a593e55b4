// Length-prefixed framing of the Unix-socket byte stream (DESIGN.md §5): each frame is a 4-byte
// big-endian length N, then N bytes. `FrameReader` turns whatever `read` returned into whole
// frames and rejects an oversized length as soon as its prefix arrives, before anything is
// allocated for it; `Framing.appendFrame` writes frames.
//
// Buffer ownership: `append(_: UnsafeRawBufferPointer)` copies the caller's bytes before it
// returns and keeps no pointer to them. Everything else here is plain Swift arrays.

/// A frame the reader refuses.
public enum FrameError: Error, Sendable, Equatable {
    /// The length prefix announces more payload bytes than the reader's limit allows.
    case tooLarge(length: UInt32, limit: Int)
}

/// Accumulates bytes read from a stream and yields complete frame payloads.
///
/// Memory is bounded by what the caller appends between calls to `nextFrame()`: a partial frame
/// never needs more than `4 + frameBytesMax` bytes, and consumed bytes are dropped.
public struct FrameReader: Sendable {
    /// Largest payload length (not counting the 4-byte prefix) a frame may announce.
    public let frameBytesMax: Int
    /// Bytes received; `storage[consumed...]` is not yet returned as frames.
    private var storage: [UInt8] = []
    private var consumed = 0

    private static let prefixBytes = 4

    /// Makes a reader that refuses frames with payloads over `frameBytesMax` bytes.
    public init(frameBytesMax: Int) {
        precondition(frameBytesMax >= 0 && UInt64(frameBytesMax) <= UInt64(UInt32.max), "frameBytesMax out of range")
        self.frameBytesMax = frameBytesMax
    }

    /// Bytes appended but not yet returned as frames: a partial frame waiting for the rest (and
    /// any complete frames not yet taken). A connection uses it to time out stalled peers.
    public var bufferedByteCount: Int { storage.count - consumed }

    /// Adds bytes as they came off the socket.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compactIfWorthwhile(adding: bytes.count)
        storage.append(contentsOf: bytes)
    }

    /// Adds bytes as they came off the socket.
    public mutating func append(_ bytes: [UInt8]) {
        compactIfWorthwhile(adding: bytes.count)
        storage.append(contentsOf: bytes)
    }

    /// Adds bytes as they came off the socket.
    public mutating func append(_ bytes: ArraySlice<UInt8>) {
        compactIfWorthwhile(adding: bytes.count)
        storage.append(contentsOf: bytes)
    }

    /// The payload of the next complete frame, or nil when the buffered bytes do not hold one.
    ///
    /// - Throws: `FrameError.tooLarge` as soon as a length prefix over `frameBytesMax` is
    ///   buffered. The reader does not skip it: the stream cannot be resynchronised, so the
    ///   caller should answer RESOURCE_EXHAUSTED and close the connection.
    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        guard bufferedByteCount >= Self.prefixBytes else { return nil }
        let length = storage[consumed..<consumed + Self.prefixBytes].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard UInt64(length) <= UInt64(frameBytesMax) else {
            throw .tooLarge(length: length, limit: frameBytesMax)
        }
        let payloadStart = consumed + Self.prefixBytes
        let payloadEnd = payloadStart + Int(length)
        guard payloadEnd <= storage.count else { return nil }
        let payload = Array(storage[payloadStart..<payloadEnd])
        consumed = payloadEnd
        if consumed == storage.count {
            storage.removeAll(keepingCapacity: true)
            consumed = 0
        }
        return payload
    }

    /// The payload of the next complete frame as a slice of the reader's buffer, without a
    /// copy; same rules as `nextFrame()`. Drop the slice before the next `append` (a live slice
    /// makes that append copy the buffer).
    public mutating func nextFrameSlice() throws(FrameError) -> ArraySlice<UInt8>? {
        guard bufferedByteCount >= Self.prefixBytes else { return nil }
        let length = storage[consumed..<consumed + Self.prefixBytes].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard UInt64(length) <= UInt64(frameBytesMax) else {
            throw .tooLarge(length: length, limit: frameBytesMax)
        }
        let payloadStart = consumed + Self.prefixBytes
        let payloadEnd = payloadStart + Int(length)
        guard payloadEnd <= storage.count else { return nil }
        consumed = payloadEnd
        return storage[payloadStart..<payloadEnd]
    }

    /// Drops consumed bytes before an append when moving the rest costs no more than the bytes
    /// already consumed, so each byte is moved O(1) times on average (no O(n²) shuffling).
    private mutating func compactIfWorthwhile(adding byteCount: Int) {
        guard consumed > 0, consumed >= bufferedByteCount else { return }
        storage.removeSubrange(0..<consumed)
        consumed = 0
    }
}

/// Writing frames.
public enum Framing {
    /// Appends a frame holding `payload` to `out`. The same as the generic version below, made
    /// concrete so that callers in other modules get a specialised copy (the generic one went
    /// through unspecialised `append(contentsOf:)` and cost about 1,200 instructions per frame).
    public static func appendFrame(_ payload: [UInt8], to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 4 + payload.count)
        EnvelopeCodec.appendFrameLength(payload.count, to: &out)
        out.append(contentsOf: payload)
    }

    /// Appends a frame holding `payload` to `out`: the 4-byte big-endian length, then the bytes.
    /// The payload must fit a `UInt32` length; the caller enforces its own response limit.
    public static func appendFrame(_ payload: some Collection<UInt8>, to out: inout [UInt8]) {
        let count = payload.count
        precondition(UInt64(count) <= UInt64(UInt32.max), "frame payload of \(count) bytes cannot be framed")
        let length = UInt32(count)
        out.reserveCapacity(out.count + 4 + count)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: payload)
    }
}
