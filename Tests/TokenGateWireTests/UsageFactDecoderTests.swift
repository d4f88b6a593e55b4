// The direct usage-fact encoder and decoder against the general path (protobuf-c with the
// generated `UsageEvent` conversion of Wire.generated.swift): for encoded events of every shape,
// and for those bytes damaged at random (seeded), both paths must give the same bytes, the same
// Fact or the same error, and the direct path must actually take the plain shape the daemon writes.

import TokenGateCore
import XCTest

@testable import TokenGateWire
import TokenGateTestSupport

final class UsageFactDecoderTests: XCTestCase {
    private func event(_ id: String) -> UsageEvent {
        UsageEvent(
            eventID: id, shopID: "shop-1", userID: "user-000001", conversationID: "conv-00000001",
            operationType: "chat_message", model: "gemini-2.5-flash", inputTokens: 2_062, outputTokens: 201,
            cachedInputTokens: 0, occurredAtUnixMs: 1_764_000_000_000, costNanoUSD: 1_121_100,
            metadata: UsageMetadata(messageLength: 180, historyLength: 6, knowledgeBaseSize: 40_000),
            recordedAtUnixMs: 1_764_000_000_001)
    }

    private var samples: [UsageEvent] {
        var samples = [event("0f8fad5b-d9cb-469f-a165-70867728950e"), event("")]
        var negative = event("negative")
        negative.occurredAtUnixMs = -1
        negative.costNanoUSD = Int64.min
        negative.recordedAtUnixMs = Int64.max
        samples.append(negative)
        var wide = event("wide")
        wide.inputTokens = UInt64.max
        wide.metadata = UsageMetadata(messageLength: UInt32.max, historyLength: 0, knowledgeBaseSize: UInt64.max)
        samples.append(wide)
        var empty = event("ü-évènement")
        empty.shopID = ""
        empty.userID = ""
        empty.metadata = UsageMetadata()
        samples.append(empty)
        var extra = event("extra")
        extra.metadata.extra = [MetadataEntry(key: "k", value: "v")]
        samples.append(extra)
        // Issue 17: a late event carries the bill it landed on (field 14).
        var late = event("late")
        late.billingPeriod = "2026-12"
        samples.append(late)
        return samples
    }

    /// The direct encoder of usage records writes exactly protobuf-c's bytes, for the samples
    /// and for seeded events with every kind of string and number (NULs, non-ASCII, extremes).
    func testUsageRecordBytesMatchProtobufC() {
        var generator = SplitMix64(seed: 0x05A6_E0EC_0DE5)
        func text() -> String {
            let choices = ["", "shop-0000042", "ü-évènement", "a\u{0}b", "\u{0}", String(repeating: "x", count: 300)]
            return choices[Int(generator.next() % UInt64(choices.count))]
        }
        func number() -> UInt64 {
            [0, 1, 127, 128, 16_384, UInt64(UInt32.max), UInt64(Int64.max), UInt64.max, generator.next()][Int(generator.next() % 9)]
        }
        var events = samples
        for _ in 0..<2_000 {
            events.append(UsageEvent(
                eventID: text(), shopID: text(), userID: text(), conversationID: text(), operationType: text(), model: text(),
                inputTokens: number(), outputTokens: number(), cachedInputTokens: number(),
                occurredAtUnixMs: Int64(bitPattern: number()), costNanoUSD: Int64(bitPattern: number()),
                metadata: UsageMetadata(
                    messageLength: UInt32(truncatingIfNeeded: number()), historyLength: UInt32(truncatingIfNeeded: number()),
                    knowledgeBaseSize: number()),
                recordedAtUnixMs: Int64(bitPattern: number())))
        }
        for (index, event) in events.enumerated() {
            XCTAssertEqual(FactCodec.encode(.usage(event)), ProtobufC.pack(Fact.usage(event)), "event \(index): \(event)")
        }
    }

    func testDirectDecoderMatchesProtobufC() throws {
        for sample in samples {
            let bytes = FactCodec.encode(.usage(sample))
            XCTAssertEqual(try FactCodec.decodeWithProtobufC(bytes), .usage(sample))
            XCTAssertEqual(try FactCodec.decode(bytes), .usage(sample))
            let strings = [sample.eventID, sample.shopID, sample.userID, sample.conversationID, sample.operationType, sample.model]
            let ascii = strings.allSatisfy { $0.utf8.allSatisfy { $0 < 0x80 } }
            if sample.metadata.extra.isEmpty && ascii {
                XCTAssertEqual(UsageFactDecoder.decode(bytes), .usage(sample), "plain shape decoded directly")
            } else {
                XCTAssertNil(UsageFactDecoder.decode(bytes), "metadata pairs and non-ASCII go through protobuf-c")
            }
        }
        let tier = FactCodec.encode(.tierAssignment(shopID: "s", tier: "starter"))
        XCTAssertNil(UsageFactDecoder.decode(tier))
        XCTAssertNil(FactCodec.decodeUsage(tier, tier.indices))
    }

    /// Recovery decodes a record where it lies in its log segment: the event must be the same
    /// as decoding the record's bytes on their own, whatever surrounds them.
    func testRecordInsideASegmentDecodesToTheSameEvent() throws {
        var segment: [UInt8] = [0x0A, 0xFF]
        var records: [(UsageEvent, Range<Int>)] = []
        for sample in samples {
            let bytes = FactCodec.encode(.usage(sample))
            records.append((sample, segment.count..<(segment.count + bytes.count)))
            segment += bytes + [0x0A, 0x80]
        }
        var decoded = 0
        for (sample, range) in records {
            guard let usage = FactCodec.decodeUsage(segment, range) else {
                XCTAssertNil(UsageFactDecoder.decode(Array(segment[range])), sample.eventID)
                continue
            }
            XCTAssertEqual(usage.event(in: segment), sample)
            XCTAssertEqual(UsageEventBytes.text(usage.shopID, in: segment), sample.shopID)
            decoded += 1
            // One byte more or less is not the record.
            XCTAssertNil(FactCodec.decodeUsage(segment, range.lowerBound..<(range.upperBound + 1)))
            XCTAssertNil(FactCodec.decodeUsage(segment, range.lowerBound..<(range.upperBound - 1)))
        }
        XCTAssertEqual(decoded, 5, "the plain samples (the late one too) take the fast path")
    }

    func testDamagedBytesDecodeAlikeOnBothPaths() {
        let seed = UInt64.random(in: 1...UInt64.max)
        print("UsageFactDecoderTests seed \(seed)")
        var random = SplitMix64(seed: seed)
        let encoded = samples.map { FactCodec.encode(.usage($0)) }
        for round in 0..<20_000 {
            var bytes = encoded[Int(random.next() % UInt64(encoded.count))]
            switch random.next() % 4 {
            case 0: bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            case 1: bytes.removeLast(Int(random.next() % UInt64(bytes.count)))
            case 2: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: Int(random.next() % UInt64(bytes.count)))
            default: bytes[Int(random.next() % UInt64(bytes.count))] ^= 0x80
            }
            let direct = Result { () throws(TokenGateError) -> Fact in try FactCodec.decode(bytes) }
            if let usage = FactCodec.decodeUsage(bytes, bytes.indices) {
                XCTAssertEqual(try? direct.get(), .usage(usage.event(in: bytes)), "seed \(seed) round \(round) bytes \(bytes)")
            }
            let reference = Result { () throws(TokenGateError) -> Fact in try FactCodec.decodeWithProtobufC(bytes) }
            switch (direct, reference) {
            case (.success(let a), .success(let b)):
                XCTAssertEqual(a, b, "seed \(seed) round \(round) bytes \(bytes)")
            case (.failure(let a), .failure(let b)):
                XCTAssertEqual(a, b, "seed \(seed) round \(round)")
            default:
                XCTFail("paths disagree, seed \(seed) round \(round) bytes \(bytes): \(direct) vs \(reference)")
            }
        }
    }
}
