// The on-disk spool's record format: a magic header, then records of a 4-byte big-endian payload
// length, a 4-byte big-endian CRC-32C of the payload, and the payload (a kind byte, then an
// encoded LogUsageRequest or an event id). Parsing tells a torn tail (a crash mid-append, cut
// off with a warning) from corruption in the middle (refused with DATA_LOSS and the offset).
import TokenGateCore
import TokenGateWire

enum SpoolRecords {
    /// The first bytes of every spool file; a file that starts otherwise is not ours.
    static let magic = Array("TGSPOOL1".utf8)
    /// Length and checksum before each payload.
    static let recordHeaderBytes = 8
    /// A LogUsageRequest travels in a request frame of at most 64 KiB, so no record is larger.
    static let recordPayloadBytesMax = 64 << 10

    enum Kind: UInt8 {
        /// An event waiting to be re-sent: the encoded LogUsageRequest follows.
        case event = 1
        /// The daemon acknowledged (or refused for good) the event whose id follows.
        case done = 2
    }

    /// What a spool file holds: the events still waiting, in the order they were spooled.
    struct Loaded {
        var events: [LogUsageRequest] = []
        /// Bytes that held valid records (the header included); a torn tail starts here.
        var validBytes = 0
        /// The file had `done` records or a torn tail, so rewriting it would shrink it.
        var worthCompacting = false
        var tornTailBytes = 0
    }

    static func eventRecord(_ request: LogUsageRequest) -> [UInt8] {
        record(kind: .event, body: request.encoded())
    }

    static func doneRecord(eventID: String) -> [UInt8] {
        record(kind: .done, body: Array(eventID.utf8))
    }

    static func record(kind: Kind, body: [UInt8]) -> [UInt8] {
        let payload = [kind.rawValue] + body
        var out: [UInt8] = []
        out.reserveCapacity(recordHeaderBytes + payload.count)
        appendUInt32(UInt32(payload.count), to: &out)
        appendUInt32(SpoolChecksum.crc32c(payload), to: &out)
        out.append(contentsOf: payload)
        return out
    }

    /// Parses a whole spool file.
    ///
    /// - Throws: `DATA_LOSS` naming the file and offset when a record in the middle is damaged
    ///   or the file is not a spool file. A damaged record followed only by zero bytes, or one
    ///   that runs past the end, is a torn tail and is reported in `tornTailBytes` instead.
    static func parse(_ bytes: [UInt8], path: String) throws(TokenGateError) -> Loaded {
        var loaded = Loaded()
        if bytes.count < magic.count {
            guard bytes.allSatisfy({ $0 == 0 }) || magic.starts(with: bytes) else { throw notSpool(path) }
            loaded.tornTailBytes = bytes.count
            loaded.worthCompacting = !bytes.isEmpty
            return loaded
        }
        guard Array(bytes[0..<magic.count]) == magic else { throw notSpool(path) }
        var waiting: [String: LogUsageRequest] = [:]
        var order: [String] = []
        var offset = magic.count
        while offset < bytes.count {
            guard let (kind, body, end) = validRecord(in: bytes, at: offset) else {
                guard isTornTail(bytes, from: offset) else {
                    throw TokenGateError(.dataLoss, "spool file \(path) is damaged at offset \(offset); move it aside to start without it (its events would then need re-sending by hand)")
                }
                loaded.tornTailBytes = bytes.count - offset
                loaded.worthCompacting = true
                break
            }
            switch kind {
            case .event:
                let request: LogUsageRequest
                do {
                    request = try LogUsageRequest.decode(body)
                } catch {
                    throw TokenGateError(.dataLoss, "spool file \(path) holds an undecodable event at offset \(offset): \(error.message)")
                }
                if waiting.updateValue(request, forKey: request.eventID) == nil { order.append(request.eventID) }
            case .done:
                waiting[String(decoding: body, as: UTF8.self)] = nil
                loaded.worthCompacting = true
            }
            offset = end
        }
        loaded.validBytes = offset
        loaded.events = order.compactMap { waiting[$0] }
        return loaded
    }

    // MARK: - Private

    /// The record at `offset` when its length, checksum and kind are valid.
    private static func validRecord(in bytes: [UInt8], at offset: Int) -> (Kind, [UInt8], Int)? {
        guard bytes.count - offset >= recordHeaderBytes else { return nil }
        let length = Int(readUInt32(bytes, at: offset))
        let checksum = readUInt32(bytes, at: offset + 4)
        let start = offset + recordHeaderBytes
        guard length >= 1, length <= recordPayloadBytesMax, length <= bytes.count - start else { return nil }
        let payload = Array(bytes[start..<start + length])
        guard SpoolChecksum.crc32c(payload) == checksum, let kind = Kind(rawValue: payload[0]) else { return nil }
        return (kind, Array(payload[1...]), start + length)
    }

    /// A damaged record is a torn tail when it is the last thing in the file: its header is
    /// cut short, its payload reaches the end of the file, or only zero bytes follow it (a crash
    /// mid-append leaves one of these). Anything valid-looking after it means corruption.
    private static func isTornTail(_ bytes: [UInt8], from offset: Int) -> Bool {
        guard bytes.count - offset >= recordHeaderBytes else { return true }
        let length = Int(readUInt32(bytes, at: offset))
        let start = offset + recordHeaderBytes
        guard length >= 1, length <= recordPayloadBytesMax else { return bytes[start...].allSatisfy { $0 == 0 } }
        guard length < bytes.count - start else { return true }
        return bytes[(start + length)...].allSatisfy { $0 == 0 }
    }

    private static func notSpool(_ path: String) -> TokenGateError {
        TokenGateError(.dataLoss, "\(path) is not a TokenGate spool file (bad magic); point spoolDirectory at a directory of its own")
    }

    private static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value >> 24))
        out.append(UInt8(truncatingIfNeeded: value >> 16))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
        out.append(UInt8(truncatingIfNeeded: value))
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
}

/// CRC-32C (Castagnoli) of the spool's records: a small byte-at-a-time copy so the client
/// library depends only on the wire module (the store has a faster slicing-by-8 version).
enum SpoolChecksum {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        return crc
    }

    /// `crc32c(Array("123456789".utf8)) == 0xE306_9283`.
    static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return ~crc
    }
}
