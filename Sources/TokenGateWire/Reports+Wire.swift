// The one hand-written piece of the report messages' protobuf conversion (the field mappings are
// generated, Generated/Wire.generated.swift): `ExportUsageCSVChunk.encoded()`, a deliberate fast
// path that lends protobuf-c the chunk's own byte array for one `pack` instead of copying it
// into the arena (chunks are up to 64 KiB).
//
// Buffer ownership: the chunk's `data` buffer is borrowed only inside `withUnsafeBufferPointer`,
// which spans the whole `ProtobufC.pack`.

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
