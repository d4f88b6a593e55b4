// Tests of the billing, report, usage-log and alert codecs: every message survives a round trip
// with every field set, the CSV chunk's bytes match the protobuf spec, bad input is
// INVALID_ARGUMENT naming the field, and the alert and paid-mark facts round-trip through the
// log codec.

import TokenGateCore
import TokenGateWire
import XCTest

enum ReportSamples {
    static let filter = UsageFilter(shopID: Samples.unicode, fromUnixMs: 1_751_241_600_000, toUnixMs: Int64.max)
    static let totals = GroupTotals(
        key: "chat_message", events: UInt64.max, inputTokens: 1, outputTokens: 2, cachedInputTokens: 3, totalTokens: 4,
        costNanoUSD: Int64.min, averageCostNanoUSD: -7)
    static let event = UsageEvent(
        eventID: "evt-1", shopID: Samples.unicode, userID: "u", conversationID: "c", operationType: "suggestion",
        model: "gemini-2.5-pro", inputTokens: 5, outputTokens: 6, cachedInputTokens: 1, occurredAtUnixMs: 1_751_241_600_123,
        costNanoUSD: 42, metadata: Samples.metadata, recordedAtUnixMs: 1_751_241_600_124)
    static let summary = ShopMonthSummary(
        shopID: "s", period: "2025-06", messages: 9, inputTokens: 8, outputTokens: 7, totalTokens: 15, costNanoUSD: 6,
        averageTokensPerMessage: 2, averageCostPerMessageNanoUSD: 1)
    static let shopView = ShopView(
        shopID: Samples.unicode, tier: "professional", period: "2025-06", messagesThisMonth: 1, apiCostThisMonthNanoUSD: 2,
        estimatedBillNanoUSD: 3, recommendedTier: "starter", savingNanoUSD: 4, dailySpentNanoUSD: 5, dailyCapNanoUSD: 6,
        dailyUsedBasisPoints: 7, monthlySpentNanoUSD: 8, monthlyCapNanoUSD: 9, monthlyUsedBasisPoints: 10,
        includedMessages: 11, unlimitedMessages: true)
}

final class ReportsWireTests: XCTestCase {
    private func assertRoundTrip<M: WireMessage & Equatable>(_ message: M, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = message.encoded()
        XCTAssertFalse(bytes.isEmpty, "\(M.protoName) encoded to nothing", file: file, line: line)
        XCTAssertEqual(try M.decode(bytes), message, "\(M.protoName)", file: file, line: line)
    }

    func testEveryReportMessageRoundTripsWithEveryFieldSet() {
        let record = Samples.billingRecord
        assertRoundTrip(ListBillingRecordsRequest(shopID: Samples.unicode))
        assertRoundTrip(ListBillingRecordsResponse(records: [record, record]))
        assertRoundTrip(GenerateBillingBatchRequest(period: "2025-06"))
        assertRoundTrip(GenerateBillingBatchResponse(generated: 3, alreadyStored: UInt32.max, records: [record], totalChargeNanoUSD: -1))
        assertRoundTrip(MarkPaidRequest(shopID: "s", period: "2025-06"))
        assertRoundTrip(MarkPaidResponse(record: record))
        assertRoundTrip(GetShopViewRequest(shopID: Samples.unicode))
        assertRoundTrip(ReportSamples.shopView)
        assertRoundTrip(GetStatisticsRequest(filter: ReportSamples.filter))
        assertRoundTrip(GetStatisticsResponse(totals: ReportSamples.totals, byOperation: [ReportSamples.totals], byShop: [ReportSamples.totals]))
        assertRoundTrip(GetMonthlySummaryRequest(period: "2025-06", shopID: "s"))
        assertRoundTrip(GetMonthlySummaryResponse(shops: [ReportSamples.summary]))
        assertRoundTrip(GetMonthlyReportRequest(period: "2025-06"))
        assertRoundTrip(GetMonthlyReportResponse(period: "2025-06", totals: ReportSamples.totals, byOperation: [], byShop: [ReportSamples.totals]))
        assertRoundTrip(GetHighCostShopsRequest(thresholdNanoUSD: 1_000_000_000, top: 5))
        assertRoundTrip(GetHighCostShopsResponse(shops: [HighCostShop(
            shopID: "s", messages: 1, tokens: 2, costNanoUSD: 3, projectedMonthlyCostNanoUSD: Int64.max)]))
        assertRoundTrip(GetProjectionsRequest(shopID: "s"))
        assertRoundTrip(GetProjectionsResponse(projections: [Projection(
            shopID: "s", period: "2028-02", messagesThisMonth: 1, spentNanoUSD: 2, dailyRunRateNanoUSD: 3, daysLeft: 4,
            projectedMonthEndNanoUSD: 14)]))
        assertRoundTrip(QueryUsageLogsRequest(filter: ReportSamples.filter, pageSize: 10, cursor: "u1a.00ff00ff"))
        assertRoundTrip(QueryUsageLogsResponse(events: [ReportSamples.event, ReportSamples.event], nextCursor: "u1b.0"))
        assertRoundTrip(ExportUsageCSVRequest(filter: ReportSamples.filter))
        assertRoundTrip(ExportUsageCSVChunk(data: Array("a,\"b\"\r\n".utf8) + [0, 255], rows: 1))
        assertRoundTrip(ListAlertsRequest(shopID: "s", limit: 7))
        assertRoundTrip(ListAlertsResponse(alerts: Samples.alerts))
        assertRoundTrip(WatchAlertsRequest(shopID: Samples.unicode))
        for alert in Samples.alerts { assertRoundTrip(alert) }
    }

    func testAbsentNestedMessagesDecodeAsDefaultsOrAreMissing() throws {
        XCTAssertEqual(try GetStatisticsRequest.decode([]).filter, UsageFilter())
        XCTAssertEqual(try GetStatisticsResponse.decode([]).totals, GroupTotals(key: ""))
        XCTAssertThrowsError(try MarkPaidResponse.decode([])) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.invalidArgument, "mark_paid_response.record is missing"))
        }
    }

    func testCSVChunkBytesMatchTheSpec() {
        let chunk = ExportUsageCSVChunk(data: Array("h\r\n".utf8), rows: 300)
        XCTAssertEqual(chunk.encoded(), ProtobufBytes().delimited(1, Array("h\r\n".utf8)).varint(2, 300).bytes)
    }

    func testBadInputIsInvalidArgumentNamingTheField() {
        let filter = ProtobufBytes().delimited(1, [0xC3, 0x28])
        XCTAssertThrowsError(try QueryUsageLogsRequest.decode(ProtobufBytes().delimited(1, filter.bytes).bytes)) { error in
            XCTAssertEqual(error as? TokenGateError, TokenGateError(.invalidArgument, "query_usage_logs.filter.shop_id is not valid UTF-8"))
        }
        XCTAssertThrowsError(try Alert.decode(ProtobufBytes().varint(2, 99).bytes)) { error in
            XCTAssertEqual((error as? TokenGateError)?.code, .invalidArgument)
        }
    }

    func testAlertAndPaidMarkFactsRoundTrip() throws {
        let facts: [Fact] = Samples.alerts.map(Fact.alert) + [
            .paidMark(PaidMark(shopID: Samples.unicode, period: "2025-06", paidAtUnixMs: 1_751_328_000_000)),
            .paidMark(PaidMark(shopID: "", period: "", paidAtUnixMs: 0)),
        ]
        for fact in facts {
            XCTAssertEqual(try FactCodec.decode(FactCodec.encode(fact)), fact)
        }
        let mark = ProtobufBytes().string(1, "s").string(2, "2025-06").varint(3, 7)
        XCTAssertEqual(
            FactCodec.encode(.paidMark(PaidMark(shopID: "s", period: "2025-06", paidAtUnixMs: 7))),
            ProtobufBytes().delimited(6, mark.bytes).bytes)
        // Issue 17: the void record, field 8 of FactRecord, round-trips.
        let void = Fact.voidMark(VoidMark(shopID: "s", period: "2025-06", reason: "wrong tier ü", voidedAtUnixMs: 9, voidedByUID: 1000))
        let voidBytes = ProtobufBytes().string(1, "s").string(2, "2025-06").string(3, "wrong tier ü").varint(4, 9).varint(5, 1000)
        XCTAssertEqual(FactCodec.encode(void), ProtobufBytes().delimited(8, voidBytes.bytes).bytes)
        XCTAssertEqual(try FactCodec.decode(FactCodec.encode(void)), void)
        let request = VoidBillingRequest(shopID: "s", period: "2025-06", reason: "r")
        XCTAssertEqual(try VoidBillingRequest.decode(request.encoded()), request)
        var record = BillingRecord(shopID: "s", period: "2025-06", tier: "t", messagesUsed: 1, tokensUsed: 2, apiCostNanoUSD: 3,
                                   baseChargeNanoUSD: 4, overageChargeNanoUSD: 5, totalChargeNanoUSD: 6)
        (record.voidReason, record.voidedAtUnixMs, record.voidedByUID) = ("why", 7, 8)
        XCTAssertEqual(try VoidBillingResponse.decode(VoidBillingResponse(record: record).encoded()).record, record)
    }

    func testReportPathsAreDistinctAndInGRPCForm() {
        XCTAssertEqual(Set(MethodPath.reports).count, 14, "VoidBilling since issue 17")
        XCTAssertTrue(Set(MethodPath.reports).isDisjoint(with: MethodPath.all))
        XCTAssertEqual(MethodPath.exportUsageCSV, "/tokengate.v1.BudgetService/ExportUsageCsv")
        for path in MethodPath.reports { XCTAssertTrue(path.hasPrefix("/tokengate.v1.BudgetService/"), path) }
    }
}
