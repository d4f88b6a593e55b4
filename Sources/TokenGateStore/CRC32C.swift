// CRC-32C (Castagnoli), the checksum of every log record and snapshot. It catches torn writes
// and flipped bits far better than the IEEE polynomial for the same cost, and is what other
// storage engines use, so operators' tools can check our files. The SSE4.2 crc32 instruction
// when the CPU has it (checked once), else table-driven, slicing by 8.
// Ownership: the only pointer here is the span's, lent to the C function for the length of one
// call.
import CTokenGateCRC

/// A running CRC-32C. `CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283`.
public struct CRC32C: Sendable {
    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78
    /// Bytes consumed per step of the inner loop (one table per byte).
    static let sliceBytes = 8

    private var state: UInt32 = 0xFFFF_FFFF

    /// A fresh checksum over zero bytes.
    public init() {}

    /// The CRC-32C of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes.span)
        return crc.value
    }

    /// The checksum of everything given to `update` so far.
    public var value: UInt32 { ~state }

    /// Adds bytes from an array.
    public mutating func update(_ bytes: [UInt8]) {
        update(bytes.span)
    }

    /// Adds bytes from an array slice.
    public mutating func update(_ bytes: ArraySlice<UInt8>) {
        update(bytes.span)
    }

    /// Whether the hardware instruction is used; tests compare both paths.
    static let hardwareAvailable = tokengate_crc32c_hardware_available() == 1

    /// Adds `bytes` to the checksum.
    public mutating func update(_ bytes: Span<UInt8>) {
        if Self.hardwareAvailable {
            state = bytes.withUnsafeBufferPointer { buffer in
                tokengate_crc32c_hardware_update(state, buffer.baseAddress, buffer.count)
            }
        } else {
            updateInSoftware(bytes)
        }
    }

    /// Adds `bytes` with the slicing-by-8 tables (CPUs without SSE4.2, and tests).
    mutating func updateInSoftware(_ bytes: Span<UInt8>) {
        let table = crc32cTables.span
        var crc = state
        var index = 0
        let count = bytes.count
        while count - index >= Self.sliceBytes {
            let low =
                crc
                ^ (UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8
                    | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24)
            let high =
                UInt32(bytes[index + 4]) | UInt32(bytes[index + 5]) << 8
                | UInt32(bytes[index + 6]) << 16 | UInt32(bytes[index + 7]) << 24
            crc =
                table[7 &* 256 &+ Int(low & 0xFF)] ^ table[6 &* 256 &+ Int((low >> 8) & 0xFF)]
                ^ table[5 &* 256 &+ Int((low >> 16) & 0xFF)] ^ table[4 &* 256 &+ Int(low >> 24)]
                ^ table[3 &* 256 &+ Int(high & 0xFF)] ^ table[2 &* 256 &+ Int((high >> 8) & 0xFF)]
                ^ table[1 &* 256 &+ Int((high >> 16) & 0xFF)] ^ table[Int(high >> 24)]
            index += Self.sliceBytes
        }
        while index < count {
            crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
            index += 1
        }
        state = crc
    }
}

/// Eight 256-entry tables, flat: table k maps a byte to its CRC contribution k bytes further on.
private let crc32cTables: [UInt32] = {
    var tables = [UInt32](repeating: 0, count: 8 * 256)
    for byte in 0..<256 {
        var crc = UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ CRC32C.polynomial : crc >> 1 }
        tables[byte] = crc
    }
    for slice in 1..<8 {
        for byte in 0..<256 {
            let previous = tables[(slice - 1) * 256 + byte]
            tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
        }
    }
    return tables
}()
