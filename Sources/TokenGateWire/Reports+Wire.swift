// Protobuf conversion of the billing, report, usage-log and alert messages (ReportMessages.swift
// in TokenGateCore), so the server and the client library exchange Swift values only. Each type
// maps its fields to the generated C struct one to one; the C memory rules live in
// ProtobufC.swift.
//
// Buffer ownership: `init(copying:)` reads pointers that belong to protobuf-c's unpacked tree
// and are valid only while `ProtobufC.unpack` runs; it copies everything into Swift values.
// `cMessage(in:)` returns a struct whose pointers belong to the caller's `CArena` and live until
// `ProtobufC.pack` returns. `ExportUsageCSVChunk.encoded()` lends protobuf-c its own byte array
// for the duration of one `pack`, as the envelopes do.

import CProtobufC
import TokenGateCore
import TokenGateProtoC

// MARK: - Billing records

extension ListBillingRecordsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ListBillingRecordsRequest`.
    public static let protoName = "tokengate.v1.ListBillingRecordsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "list_billing_records")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ListBillingRecordsRequest {
        var c = Tokengate__V1__ListBillingRecordsRequest()
        tokengate__v1__list_billing_records_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ListBillingRecordsRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ListBillingRecordsRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        return c
    }
}

extension ListBillingRecordsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ListBillingRecordsResponse`.
    public static let protoName = "tokengate.v1.ListBillingRecordsResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "list_billing_records_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ListBillingRecordsResponse {
        var c = Tokengate__V1__ListBillingRecordsResponse()
        tokengate__v1__list_billing_records_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ListBillingRecordsResponse) throws(FieldError) {
        self.init(
            records: try copyMessages(count: c.n_records, c.records, field: "records")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ListBillingRecordsResponse {
        var c = Self.cEmpty()
        (c.n_records, c.records) = arena.messages(records)
        return c
    }
}

extension GenerateBillingBatchRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GenerateBillingBatchRequest`.
    public static let protoName = "tokengate.v1.GenerateBillingBatchRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "generate_billing_batch")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GenerateBillingBatchRequest {
        var c = Tokengate__V1__GenerateBillingBatchRequest()
        tokengate__v1__generate_billing_batch_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GenerateBillingBatchRequest) throws(FieldError) {
        self.init(
            period: try copyString(c.period, field: "period")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GenerateBillingBatchRequest {
        var c = Self.cEmpty()
        c.period = arena.cString(period)
        return c
    }
}

extension GenerateBillingBatchResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GenerateBillingBatchResponse`.
    public static let protoName = "tokengate.v1.GenerateBillingBatchResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "generate_billing_batch_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GenerateBillingBatchResponse {
        var c = Tokengate__V1__GenerateBillingBatchResponse()
        tokengate__v1__generate_billing_batch_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GenerateBillingBatchResponse) throws(FieldError) {
        self.init(
            generated: c.generated, alreadyStored: c.already_stored,
            records: try copyMessages(count: c.n_records, c.records, field: "records"),
            totalChargeNanoUSD: c.total_charge_nano_usd, quiet: c.quiet
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GenerateBillingBatchResponse {
        var c = Self.cEmpty()
        c.generated = generated
        c.already_stored = alreadyStored
        (c.n_records, c.records) = arena.messages(records)
        c.total_charge_nano_usd = totalChargeNanoUSD
        c.quiet = quiet
        return c
    }
}

extension VoidBillingRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.VoidBillingRequest`.
    public static let protoName = "tokengate.v1.VoidBillingRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "void_billing")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__VoidBillingRequest {
        var c = Tokengate__V1__VoidBillingRequest()
        tokengate__v1__void_billing_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__VoidBillingRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            reason: try copyString(c.reason, field: "reason"))
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__VoidBillingRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.reason = arena.cString(reason)
        return c
    }
}

extension VoidBillingResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.VoidBillingResponse`.
    public static let protoName = "tokengate.v1.VoidBillingResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "void_billing_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__VoidBillingResponse {
        var c = Tokengate__V1__VoidBillingResponse()
        tokengate__v1__void_billing_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__VoidBillingResponse) throws(FieldError) {
        guard let record: BillingRecord = try copyMessage(c.record, field: "record") else {
            throw FieldError(field: "record", problem: .missing)
        }
        self.init(record: record)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__VoidBillingResponse {
        var c = Self.cEmpty()
        c.record = arena.message(record)
        return c
    }
}

extension MarkPaidRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.MarkPaidRequest`.
    public static let protoName = "tokengate.v1.MarkPaidRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "mark_paid")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__MarkPaidRequest {
        var c = Tokengate__V1__MarkPaidRequest()
        tokengate__v1__mark_paid_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__MarkPaidRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__MarkPaidRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        return c
    }
}

extension MarkPaidResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.MarkPaidResponse`.
    public static let protoName = "tokengate.v1.MarkPaidResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "mark_paid_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__MarkPaidResponse {
        var c = Tokengate__V1__MarkPaidResponse()
        tokengate__v1__mark_paid_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__MarkPaidResponse) throws(FieldError) {
        guard let record: BillingRecord = try copyMessage(c.record, field: "record") else {
            throw FieldError(field: "record", problem: .missing)
        }
        self.init(
            record: record
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__MarkPaidResponse {
        var c = Self.cEmpty()
        c.record = arena.message(record)
        return c
    }
}

// MARK: - Shop view, statistics, reports

extension GetShopViewRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetShopViewRequest`.
    public static let protoName = "tokengate.v1.GetShopViewRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_shop_view")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetShopViewRequest {
        var c = Tokengate__V1__GetShopViewRequest()
        tokengate__v1__get_shop_view_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetShopViewRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetShopViewRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        return c
    }
}

extension ShopView: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ShopView`.
    public static let protoName = "tokengate.v1.ShopView"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "shop_view")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ShopView {
        var c = Tokengate__V1__ShopView()
        tokengate__v1__shop_view__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ShopView) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), tier: try copyString(c.tier, field: "tier"),
            period: try copyString(c.period, field: "period"), messagesThisMonth: c.messages_this_month,
            apiCostThisMonthNanoUSD: c.api_cost_this_month_nano_usd, estimatedBillNanoUSD: c.estimated_bill_nano_usd,
            recommendedTier: try copyString(c.recommended_tier, field: "recommended_tier"),
            savingNanoUSD: c.saving_nano_usd, dailySpentNanoUSD: c.daily_spent_nano_usd,
            dailyCapNanoUSD: c.daily_cap_nano_usd, dailyUsedBasisPoints: c.daily_used_basis_points,
            monthlySpentNanoUSD: c.monthly_spent_nano_usd, monthlyCapNanoUSD: c.monthly_cap_nano_usd,
            monthlyUsedBasisPoints: c.monthly_used_basis_points, includedMessages: c.included_messages,
            unlimitedMessages: c.unlimited_messages != 0
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ShopView {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.tier = arena.cString(tier)
        c.period = arena.cString(period)
        c.messages_this_month = messagesThisMonth
        c.api_cost_this_month_nano_usd = apiCostThisMonthNanoUSD
        c.estimated_bill_nano_usd = estimatedBillNanoUSD
        c.recommended_tier = arena.cString(recommendedTier)
        c.saving_nano_usd = savingNanoUSD
        c.daily_spent_nano_usd = dailySpentNanoUSD
        c.daily_cap_nano_usd = dailyCapNanoUSD
        c.daily_used_basis_points = dailyUsedBasisPoints
        c.monthly_spent_nano_usd = monthlySpentNanoUSD
        c.monthly_cap_nano_usd = monthlyCapNanoUSD
        c.monthly_used_basis_points = monthlyUsedBasisPoints
        c.included_messages = includedMessages
        c.unlimited_messages = cBool(unlimitedMessages)
        return c
    }
}

extension UsageFilter: CMessageEncodable {
    static let protoName = "tokengate.v1.UsageFilter"

    static func cEmpty() -> Tokengate__V1__UsageFilter {
        var c = Tokengate__V1__UsageFilter()
        tokengate__v1__usage_filter__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__UsageFilter) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), fromUnixMs: c.from_unix_ms, toUnixMs: c.to_unix_ms
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__UsageFilter {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.from_unix_ms = fromUnixMs
        c.to_unix_ms = toUnixMs
        return c
    }
}

extension GroupTotals: CMessageEncodable {
    static let protoName = "tokengate.v1.GroupTotals"

    static func cEmpty() -> Tokengate__V1__GroupTotals {
        var c = Tokengate__V1__GroupTotals()
        tokengate__v1__group_totals__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GroupTotals) throws(FieldError) {
        self.init(
            key: try copyString(c.key, field: "key"), events: c.events, inputTokens: c.input_tokens,
            outputTokens: c.output_tokens, cachedInputTokens: c.cached_input_tokens, totalTokens: c.total_tokens,
            costNanoUSD: c.cost_nano_usd, averageCostNanoUSD: c.average_cost_nano_usd
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GroupTotals {
        var c = Self.cEmpty()
        c.key = arena.cString(key)
        c.events = events
        c.input_tokens = inputTokens
        c.output_tokens = outputTokens
        c.cached_input_tokens = cachedInputTokens
        c.total_tokens = totalTokens
        c.cost_nano_usd = costNanoUSD
        c.average_cost_nano_usd = averageCostNanoUSD
        return c
    }
}

extension GetStatisticsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetStatisticsRequest`.
    public static let protoName = "tokengate.v1.GetStatisticsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_statistics")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetStatisticsRequest {
        var c = Tokengate__V1__GetStatisticsRequest()
        tokengate__v1__get_statistics_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetStatisticsRequest) throws(FieldError) {
        self.init(
            filter: try copyMessage(c.filter, field: "filter") ?? UsageFilter()
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetStatisticsRequest {
        var c = Self.cEmpty()
        c.filter = arena.message(filter)
        return c
    }
}

extension GetStatisticsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetStatisticsResponse`.
    public static let protoName = "tokengate.v1.GetStatisticsResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_statistics_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetStatisticsResponse {
        var c = Tokengate__V1__GetStatisticsResponse()
        tokengate__v1__get_statistics_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetStatisticsResponse) throws(FieldError) {
        self.init(
            totals: try copyMessage(c.totals, field: "totals") ?? GroupTotals(key: ""),
            byOperation: try copyMessages(count: c.n_by_operation, c.by_operation, field: "by_operation"),
            byShop: try copyMessages(count: c.n_by_shop, c.by_shop, field: "by_shop")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetStatisticsResponse {
        var c = Self.cEmpty()
        c.totals = arena.message(totals)
        (c.n_by_operation, c.by_operation) = arena.messages(byOperation)
        (c.n_by_shop, c.by_shop) = arena.messages(byShop)
        return c
    }
}

extension ShopMonthSummary: CMessageEncodable {
    static let protoName = "tokengate.v1.ShopMonthSummary"

    static func cEmpty() -> Tokengate__V1__ShopMonthSummary {
        var c = Tokengate__V1__ShopMonthSummary()
        tokengate__v1__shop_month_summary__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ShopMonthSummary) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            messages: c.messages, inputTokens: c.input_tokens, outputTokens: c.output_tokens,
            totalTokens: c.total_tokens, costNanoUSD: c.cost_nano_usd,
            averageTokensPerMessage: c.average_tokens_per_message,
            averageCostPerMessageNanoUSD: c.average_cost_per_message_nano_usd
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ShopMonthSummary {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.messages = messages
        c.input_tokens = inputTokens
        c.output_tokens = outputTokens
        c.total_tokens = totalTokens
        c.cost_nano_usd = costNanoUSD
        c.average_tokens_per_message = averageTokensPerMessage
        c.average_cost_per_message_nano_usd = averageCostPerMessageNanoUSD
        return c
    }
}

extension GetMonthlySummaryRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetMonthlySummaryRequest`.
    public static let protoName = "tokengate.v1.GetMonthlySummaryRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_monthly_summary")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetMonthlySummaryRequest {
        var c = Tokengate__V1__GetMonthlySummaryRequest()
        tokengate__v1__get_monthly_summary_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetMonthlySummaryRequest) throws(FieldError) {
        self.init(
            period: try copyString(c.period, field: "period"), shopID: try copyString(c.shop_id, field: "shop_id")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetMonthlySummaryRequest {
        var c = Self.cEmpty()
        c.period = arena.cString(period)
        c.shop_id = arena.cString(shopID)
        return c
    }
}

extension GetMonthlySummaryResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetMonthlySummaryResponse`.
    public static let protoName = "tokengate.v1.GetMonthlySummaryResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_monthly_summary_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetMonthlySummaryResponse {
        var c = Tokengate__V1__GetMonthlySummaryResponse()
        tokengate__v1__get_monthly_summary_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetMonthlySummaryResponse) throws(FieldError) {
        self.init(
            shops: try copyMessages(count: c.n_shops, c.shops, field: "shops")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetMonthlySummaryResponse {
        var c = Self.cEmpty()
        (c.n_shops, c.shops) = arena.messages(shops)
        return c
    }
}

extension GetMonthlyReportRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetMonthlyReportRequest`.
    public static let protoName = "tokengate.v1.GetMonthlyReportRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_monthly_report")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetMonthlyReportRequest {
        var c = Tokengate__V1__GetMonthlyReportRequest()
        tokengate__v1__get_monthly_report_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetMonthlyReportRequest) throws(FieldError) {
        self.init(
            period: try copyString(c.period, field: "period")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetMonthlyReportRequest {
        var c = Self.cEmpty()
        c.period = arena.cString(period)
        return c
    }
}

extension GetMonthlyReportResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetMonthlyReportResponse`.
    public static let protoName = "tokengate.v1.GetMonthlyReportResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_monthly_report_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetMonthlyReportResponse {
        var c = Tokengate__V1__GetMonthlyReportResponse()
        tokengate__v1__get_monthly_report_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetMonthlyReportResponse) throws(FieldError) {
        self.init(
            period: try copyString(c.period, field: "period"),
            totals: try copyMessage(c.totals, field: "totals") ?? GroupTotals(key: ""),
            byOperation: try copyMessages(count: c.n_by_operation, c.by_operation, field: "by_operation"),
            byShop: try copyMessages(count: c.n_by_shop, c.by_shop, field: "by_shop")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetMonthlyReportResponse {
        var c = Self.cEmpty()
        c.period = arena.cString(period)
        c.totals = arena.message(totals)
        (c.n_by_operation, c.by_operation) = arena.messages(byOperation)
        (c.n_by_shop, c.by_shop) = arena.messages(byShop)
        return c
    }
}

extension GetHighCostShopsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetHighCostShopsRequest`.
    public static let protoName = "tokengate.v1.GetHighCostShopsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_high_cost_shops")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetHighCostShopsRequest {
        var c = Tokengate__V1__GetHighCostShopsRequest()
        tokengate__v1__get_high_cost_shops_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetHighCostShopsRequest) throws(FieldError) {
        self.init(
            thresholdNanoUSD: c.threshold_nano_usd, top: c.top
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetHighCostShopsRequest {
        var c = Self.cEmpty()
        c.threshold_nano_usd = thresholdNanoUSD
        c.top = top
        return c
    }
}

extension HighCostShop: CMessageEncodable {
    static let protoName = "tokengate.v1.HighCostShop"

    static func cEmpty() -> Tokengate__V1__HighCostShop {
        var c = Tokengate__V1__HighCostShop()
        tokengate__v1__high_cost_shop__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__HighCostShop) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), messages: c.messages, tokens: c.tokens,
            costNanoUSD: c.cost_nano_usd, projectedMonthlyCostNanoUSD: c.projected_monthly_cost_nano_usd
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__HighCostShop {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.messages = messages
        c.tokens = tokens
        c.cost_nano_usd = costNanoUSD
        c.projected_monthly_cost_nano_usd = projectedMonthlyCostNanoUSD
        return c
    }
}

extension GetHighCostShopsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetHighCostShopsResponse`.
    public static let protoName = "tokengate.v1.GetHighCostShopsResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_high_cost_shops_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetHighCostShopsResponse {
        var c = Tokengate__V1__GetHighCostShopsResponse()
        tokengate__v1__get_high_cost_shops_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetHighCostShopsResponse) throws(FieldError) {
        self.init(
            shops: try copyMessages(count: c.n_shops, c.shops, field: "shops")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetHighCostShopsResponse {
        var c = Self.cEmpty()
        (c.n_shops, c.shops) = arena.messages(shops)
        return c
    }
}

extension GetProjectionsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetProjectionsRequest`.
    public static let protoName = "tokengate.v1.GetProjectionsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_projections")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetProjectionsRequest {
        var c = Tokengate__V1__GetProjectionsRequest()
        tokengate__v1__get_projections_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetProjectionsRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetProjectionsRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        return c
    }
}

extension Projection: CMessageEncodable {
    static let protoName = "tokengate.v1.Projection"

    static func cEmpty() -> Tokengate__V1__Projection {
        var c = Tokengate__V1__Projection()
        tokengate__v1__projection__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__Projection) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            messagesThisMonth: c.messages_this_month, spentNanoUSD: c.spent_nano_usd,
            dailyRunRateNanoUSD: c.daily_run_rate_nano_usd, daysLeft: c.days_left,
            projectedMonthEndNanoUSD: c.projected_month_end_nano_usd
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__Projection {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.messages_this_month = messagesThisMonth
        c.spent_nano_usd = spentNanoUSD
        c.daily_run_rate_nano_usd = dailyRunRateNanoUSD
        c.days_left = daysLeft
        c.projected_month_end_nano_usd = projectedMonthEndNanoUSD
        return c
    }
}

extension GetProjectionsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.GetProjectionsResponse`.
    public static let protoName = "tokengate.v1.GetProjectionsResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "get_projections_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__GetProjectionsResponse {
        var c = Tokengate__V1__GetProjectionsResponse()
        tokengate__v1__get_projections_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__GetProjectionsResponse) throws(FieldError) {
        self.init(
            projections: try copyMessages(count: c.n_projections, c.projections, field: "projections")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__GetProjectionsResponse {
        var c = Self.cEmpty()
        (c.n_projections, c.projections) = arena.messages(projections)
        return c
    }
}

// MARK: - Usage logs

extension QueryUsageLogsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.QueryUsageLogsRequest`.
    public static let protoName = "tokengate.v1.QueryUsageLogsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "query_usage_logs")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__QueryUsageLogsRequest {
        var c = Tokengate__V1__QueryUsageLogsRequest()
        tokengate__v1__query_usage_logs_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__QueryUsageLogsRequest) throws(FieldError) {
        self.init(
            filter: try copyMessage(c.filter, field: "filter") ?? UsageFilter(), pageSize: c.page_size,
            cursor: try copyString(c.cursor, field: "cursor")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__QueryUsageLogsRequest {
        var c = Self.cEmpty()
        c.filter = arena.message(filter)
        c.page_size = pageSize
        c.cursor = arena.cString(cursor)
        return c
    }
}

extension QueryUsageLogsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.QueryUsageLogsResponse`.
    public static let protoName = "tokengate.v1.QueryUsageLogsResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "query_usage_logs_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__QueryUsageLogsResponse {
        var c = Tokengate__V1__QueryUsageLogsResponse()
        tokengate__v1__query_usage_logs_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__QueryUsageLogsResponse) throws(FieldError) {
        self.init(
            events: try copyMessages(count: c.n_events, c.events, field: "events"),
            nextCursor: try copyString(c.next_cursor, field: "next_cursor")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__QueryUsageLogsResponse {
        var c = Self.cEmpty()
        (c.n_events, c.events) = arena.messages(events)
        c.next_cursor = arena.cString(nextCursor)
        return c
    }
}

extension ExportUsageCSVRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ExportUsageCsvRequest`.
    public static let protoName = "tokengate.v1.ExportUsageCsvRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "export_usage_csv")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ExportUsageCsvRequest {
        var c = Tokengate__V1__ExportUsageCsvRequest()
        tokengate__v1__export_usage_csv_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ExportUsageCsvRequest) throws(FieldError) {
        self.init(
            filter: try copyMessage(c.filter, field: "filter") ?? UsageFilter()
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ExportUsageCsvRequest {
        var c = Self.cEmpty()
        c.filter = arena.message(filter)
        return c
    }
}

// MARK: - Alerts

extension ListAlertsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ListAlertsRequest`.
    public static let protoName = "tokengate.v1.ListAlertsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "list_alerts")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ListAlertsRequest {
        var c = Tokengate__V1__ListAlertsRequest()
        tokengate__v1__list_alerts_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ListAlertsRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), limit: c.limit
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ListAlertsRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.limit = limit
        return c
    }
}

extension ListAlertsResponse: WireMessage, CMessageEncodable {
    /// `tokengate.v1.ListAlertsResponse`.
    public static let protoName = "tokengate.v1.ListAlertsResponse"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "list_alerts_response")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__ListAlertsResponse {
        var c = Tokengate__V1__ListAlertsResponse()
        tokengate__v1__list_alerts_response__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ListAlertsResponse) throws(FieldError) {
        self.init(
            alerts: try copyMessages(count: c.n_alerts, c.alerts, field: "alerts")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__ListAlertsResponse {
        var c = Self.cEmpty()
        (c.n_alerts, c.alerts) = arena.messages(alerts)
        return c
    }
}

extension WatchAlertsRequest: WireMessage, CMessageEncodable {
    /// `tokengate.v1.WatchAlertsRequest`.
    public static let protoName = "tokengate.v1.WatchAlertsRequest"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "watch_alerts")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }

    static func cEmpty() -> Tokengate__V1__WatchAlertsRequest {
        var c = Tokengate__V1__WatchAlertsRequest()
        tokengate__v1__watch_alerts_request__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__WatchAlertsRequest) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id")
        )
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__WatchAlertsRequest {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        return c
    }
}


extension ExportUsageCSVChunk: WireMessage, CMessageDecodable {
    /// `tokengate.v1.ExportUsageCsvChunk`.
    public static let protoName = "tokengate.v1.ExportUsageCsvChunk"
    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "export_usage_csv_chunk")
    }

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

    static func cEmpty() -> Tokengate__V1__ExportUsageCsvChunk {
        var c = Tokengate__V1__ExportUsageCsvChunk()
        tokengate__v1__export_usage_csv_chunk__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__ExportUsageCsvChunk) throws(FieldError) {
        self.init(data: copyBytes(c.data), rows: c.rows)
    }
}

/// Alerts are streamed by WatchAlerts, so `Alert` is a method message too (its field mapping
/// is in Messages+Wire.swift).
extension Alert: WireMessage {
    /// Decodes and validates protobuf bytes; the kind must be a known one.
    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {
        try WireCodec.decode(bytes, fieldPrefix: "alert")
    }
    /// The protobuf bytes of this message.
    public func encoded() -> [UInt8] { ProtobufC.pack(self) }
}

// MARK: - Stored facts

extension PaidMark: CMessageEncodable {
    static let protoName = "tokengate.v1.PaidMarkRecord"

    static func cEmpty() -> Tokengate__V1__PaidMarkRecord {
        var c = Tokengate__V1__PaidMarkRecord()
        tokengate__v1__paid_mark_record__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__PaidMarkRecord) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            paidAtUnixMs: c.paid_at_unix_ms)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__PaidMarkRecord {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.paid_at_unix_ms = paidAtUnixMs
        return c
    }
}

extension VoidMark: CMessageEncodable {
    static let protoName = "tokengate.v1.VoidRecord"

    static func cEmpty() -> Tokengate__V1__VoidRecord {
        var c = Tokengate__V1__VoidRecord()
        tokengate__v1__void_record__init(&c)
        return c
    }

    init(copying c: Tokengate__V1__VoidRecord) throws(FieldError) {
        self.init(
            shopID: try copyString(c.shop_id, field: "shop_id"), period: try copyString(c.period, field: "period"),
            reason: try copyString(c.reason, field: "reason"), voidedAtUnixMs: c.voided_at_unix_ms,
            voidedByUID: c.voided_by_uid)
    }

    func cMessage(in arena: inout CArena) -> Tokengate__V1__VoidRecord {
        var c = Self.cEmpty()
        c.shop_id = arena.cString(shopID)
        c.period = arena.cString(period)
        c.reason = arena.cString(reason)
        c.voided_at_unix_ms = voidedAtUnixMs
        c.voided_by_uid = voidedByUID
        return c
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
