// The hand-written rest of the report messages' protobuf conversion; the field mappings are
// generated (Generated/Wire.generated.swift). What stays here: `ExportUsageCSVChunk.encoded()`,
// which lends protobuf-c the chunk's own byte array for one `pack` instead of copying it into
// the arena (chunks are up to 64 KiB), and the report cases of `Fact`.
//
// Buffer ownership: the chunk's `data` buffer is borrowed only inside `withUnsafeBufferPointer`,
// which spans the whole `ProtobufC.pack`; `reportFact` reads protobuf-c's unpacked tree only
// while `ProtobufC.unpack` runs.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

extension ExportUsageCSVChunk {
    /// The protobuf bytes of this message. `data` is lent to protobuf-c, not copied.
    public func encoded() -> [UInt8] {
        data.withUnsafeBufferPointer { data in
            ProtobufC.pack { _ in
                var c = Self.cEmpty()
                c.data = ProtobufCBinaryData(len: data.count, data: UnsafeMutablePointer(mutating: data.baseAddress))
                c.rows = rows
                return c
            }
        }
    }
}

extension Fact {
    /// Decodes the alert, paid-mark and void cases of a `FactRecord` (called from `init(copying:)`).
    static func reportFact(copying c: Tokengate__V1__FactRecord) throws(FieldError) -> Fact? {
        switch c.fact_case {
        case TOKENGATE__V1__FACT_RECORD__FACT_ALERT:
            guard let alert: Alert = try copyMessage(c.alert, field: "alert") else {
                throw FieldError(field: "alert", problem: .missing)
            }
            return .alert(alert)
        case TOKENGATE__V1__FACT_RECORD__FACT_PAID_MARK:
            guard let mark: PaidMark = try copyMessage(c.paid_mark, field: "paid_mark") else {
                throw FieldError(field: "paid_mark", problem: .missing)
            }
            return .paidMark(mark)
        case TOKENGATE__V1__FACT_RECORD__FACT_VOID_RECORD:
            guard let mark: VoidMark = try copyMessage(c.void_record, field: "void_record") else {
                throw FieldError(field: "void_record", problem: .missing)
            }
            return .voidMark(mark)
        default:
            return nil
        }
    }
}
