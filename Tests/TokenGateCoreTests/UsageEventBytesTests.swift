// Applying a usage event in its bytes form (`UsageEventBytes`, recovery's path) must leave a
// shop exactly as applying the same event with Strings does: same stored events in the same
// order, same duplicates refused, same day and month totals and per-operation report rows,
// also where String equality (canonical equivalence) and byte equality disagree.

import XCTest

@testable import TokenGateCore

final class UsageEventBytesTests: XCTestCase {
    private static let day: UnixMillis = 1_764_000_000_000

    private func event(
        _ id: String, operation: String = "chat_message", user: String = "user-1", day: Int64 = 0,
        input: UInt64 = 2_062
    ) -> UsageEvent {
        UsageEvent(
            eventID: id, shopID: "shop-1", userID: user, conversationID: "conv-\(id.count)", operationType: operation,
            model: "gemini-2.5-flash", inputTokens: input, outputTokens: 201, cachedInputTokens: 3,
            occurredAtUnixMs: Self.day + day * 86_400_000, costNanoUSD: 1_121_100 + Int64(id.utf8.count),
            metadata: UsageMetadata(messageLength: 180, historyLength: 6, knowledgeBaseSize: 40_000),
            recordedAtUnixMs: Self.day + day * 86_400_000 + 7)
    }

    /// `event` with its text laid out in one buffer between filler bytes, as in a log segment.
    private func bytesForm(_ event: UsageEvent) -> (event: UsageEventBytes, buffer: [UInt8]) {
        var buffer: [UInt8] = Array("filler".utf8)
        var ranges: [Range<Int>] = []
        for text in [event.eventID, event.shopID, event.userID, event.conversationID, event.operationType, event.model] {
            let start = buffer.count
            buffer += Array(text.utf8)
            ranges.append(start..<buffer.count)
            buffer += [0xFF, 0x00]
        }
        var form = UsageEventBytes()
        (form.eventID, form.shopID, form.userID) = (ranges[0], ranges[1], ranges[2])
        (form.conversationID, form.operationType, form.model) = (ranges[3], ranges[4], ranges[5])
        form.inputTokens = event.inputTokens
        form.outputTokens = event.outputTokens
        form.cachedInputTokens = event.cachedInputTokens
        form.occurredAtUnixMs = event.occurredAtUnixMs
        form.costNanoUSD = event.costNanoUSD
        form.messageLength = event.metadata.messageLength
        form.historyLength = event.metadata.historyLength
        form.knowledgeBaseSize = event.metadata.knowledgeBaseSize
        form.recordedAtUnixMs = event.recordedAtUnixMs
        return (form, buffer)
    }

    private func assertSameState(_ a: ShopState, _ b: ShopState, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.eventStore.count, b.eventStore.count, file: file, line: line)
        for position in 0..<min(a.eventStore.count, b.eventStore.count) {
            XCTAssertEqual(a.event(at: position), b.event(at: position), file: file, line: line)
        }
        XCTAssertEqual(a.dailyCost, b.dailyCost, file: file, line: line)
        XCTAssertEqual(a.monthly, b.monthly, file: file, line: line)
        for month in Set(a.reportIndex.monthByOperation.keys).union(b.reportIndex.monthByOperation.keys) {
            XCTAssertEqual(
                a.reportIndex.monthByOperation[month]?.dictionary, b.reportIndex.monthByOperation[month]?.dictionary,
                "\(month)", file: file, line: line)
        }
        for day in a.dailyCost.keys {
            XCTAssertEqual(a.reportIndex.dayByOperation(day), b.reportIndex.dayByOperation(day), file: file, line: line)
            XCTAssertEqual(a.reportIndex.dayEventPositions(day), b.reportIndex.dayEventPositions(day), file: file, line: line)
        }
    }

    /// A recovery batch holds one of these per event and reads them out of order: keep it small.
    func testTheBytesFormStaysSmall() {
        // 120 since issue 17 added a late event's billing period (8 bytes).
        XCTAssertLessThanOrEqual(MemoryLayout<UsageEventBytes>.stride, 120)
        var form = UsageEventBytes()
        form.model = 7..<UsageEventBytes.offsetMax
        XCTAssertEqual(form.model, 7..<UsageEventBytes.offsetMax)
    }

    func testTheBytesFormRoundTripsToTheEvent() {
        let sample = event("0f8fad5b-d9cb-469f-a165-70867728950e")
        let (form, buffer) = bytesForm(sample)
        XCTAssertEqual(form.event(in: buffer), sample)
    }

    func testApplyingBytesEqualsApplyingStrings() {
        var events = [
            event("0f8fad5b-d9cb-469f-a165-70867728950e"),
            event("0f8fad5b-d9cb-469f-a165-70867728950f", day: 1),
            event("0F8FAD5B-D9CB-469F-A165-70867728950E", operation: "summary"),  // not packed
            event("plain-id", user: "a user id longer than fifteen bytes", day: 40),
            event("0f8fad5b-d9cb-469f-a165-70867728950e", input: 1),  // duplicate id: refused
            event("plain-id", input: 1),  // duplicate unpacked id: refused
            event("wide", input: UInt64(UInt32.max) + 1),
            event(""),
        ]
        // U+037E GREEK QUESTION MARK is canonically equivalent to ";": as Strings the two
        // operation types are one report row, as bytes they differ.
        events.append(event("greek", operation: "chat\u{037E}"))
        events.append(event("ascii", operation: "chat;"))
        var strings = ShopState(shopID: "shop-1")
        var bytes = ShopState(shopID: "shop-1")
        for sample in events {
            strings.apply(usage: sample)
            if sample.operationType.utf8.contains(where: { $0 >= 0x80 }) {
                bytes.apply(usage: sample)  // recovery's decoder gives only ASCII in bytes form
            } else {
                let (form, buffer) = bytesForm(sample)
                bytes.apply(usage: form, in: buffer)
            }
        }
        XCTAssertEqual(bytes.eventStore.count, events.count - 2)
        assertSameState(strings, bytes)
        let month = DayKey(unixMs: Self.day).month
        XCTAssertEqual(bytes.reportIndex.monthByOperation[month]?.dictionary["chat;"]?.messages, 2)
    }
}
