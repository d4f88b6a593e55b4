from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ALERT_KIND_DAILY_CAP: AlertKind
ALERT_KIND_DAILY_THRESHOLD: AlertKind
ALERT_KIND_HIGH_DAILY_COST: AlertKind
ALERT_KIND_MONTHLY_CAP: AlertKind
ALERT_KIND_MONTHLY_THRESHOLD: AlertKind
ALERT_KIND_UNSPECIFIED: AlertKind
DECISION_ALLOW: Decision
DECISION_DENY: Decision
DECISION_REASON_DAILY_CAP_REACHED: DecisionReason
DECISION_REASON_MESSAGE_TOKEN_LIMIT: DecisionReason
DECISION_REASON_MONTHLY_CAP_REACHED: DecisionReason
DECISION_REASON_RATE_LIMITED: DecisionReason
DECISION_REASON_SHOP_SUSPENDED: DecisionReason
DECISION_REASON_TIER_SPEND_CAP_REACHED: DecisionReason
DECISION_REASON_UNKNOWN_SHOP: DecisionReason
DECISION_REASON_UNSPECIFIED: DecisionReason
DECISION_REASON_WITHIN_BUDGET: DecisionReason
DECISION_UNSPECIFIED: Decision
DESCRIPTOR: _descriptor.FileDescriptor
LIMIT_KIND_INPUT_TOKENS: LimitKind
LIMIT_KIND_OUTPUT_TOKENS: LimitKind
LIMIT_KIND_TOTAL_TOKENS: LimitKind
LIMIT_KIND_UNSPECIFIED: LimitKind
RESERVATION_OUTCOME_ALREADY_ENDED: ReservationOutcome
RESERVATION_OUTCOME_NONE: ReservationOutcome
RESERVATION_OUTCOME_SETTLED: ReservationOutcome
RESERVATION_OUTCOME_UNKNOWN: ReservationOutcome
RESERVATION_OUTCOME_UNSPECIFIED: ReservationOutcome
SERVING_STATUS_NOT_SERVING: ServingStatus
SERVING_STATUS_SERVING: ServingStatus
SERVING_STATUS_UNSPECIFIED: ServingStatus
UNKNOWN_SHOP_POLICY_DEFAULT_TIER: UnknownShopPolicy
UNKNOWN_SHOP_POLICY_DENY: UnknownShopPolicy
UNKNOWN_SHOP_POLICY_UNSPECIFIED: UnknownShopPolicy

class Alert(_message.Message):
    __slots__ = ["actual_nano_usd", "kind", "message", "period", "raised_at_unix_ms", "shop_id", "threshold_nano_usd"]
    ACTUAL_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    actual_nano_usd: int
    kind: AlertKind
    message: str
    period: str
    raised_at_unix_ms: int
    shop_id: str
    threshold_nano_usd: int
    def __init__(self, shop_id: _Optional[str] = ..., kind: _Optional[_Union[AlertKind, str]] = ..., period: _Optional[str] = ..., threshold_nano_usd: _Optional[int] = ..., actual_nano_usd: _Optional[int] = ..., raised_at_unix_ms: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ApplyOptimizationRequest(_message.Message):
    __slots__ = ["estimated_input_tokens", "history_length", "max_output_tokens", "model", "operation_type", "shop_id"]
    ESTIMATED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OPERATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    estimated_input_tokens: int
    history_length: int
    max_output_tokens: int
    model: str
    operation_type: str
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., operation_type: _Optional[str] = ..., model: _Optional[str] = ..., history_length: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., estimated_input_tokens: _Optional[int] = ...) -> None: ...

class ApplyOptimizationResponse(_message.Message):
    __slots__ = ["estimated_cost_after_nano_usd", "estimated_cost_before_nano_usd", "history_length", "max_output_tokens", "model", "optimized", "reasons"]
    ESTIMATED_COST_AFTER_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_BEFORE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZED_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    estimated_cost_after_nano_usd: int
    estimated_cost_before_nano_usd: int
    history_length: int
    max_output_tokens: int
    model: str
    optimized: bool
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, optimized: bool = ..., model: _Optional[str] = ..., history_length: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., reasons: _Optional[_Iterable[str]] = ..., estimated_cost_before_nano_usd: _Optional[int] = ..., estimated_cost_after_nano_usd: _Optional[int] = ...) -> None: ...

class AssignShopTierRequest(_message.Message):
    __slots__ = ["effective_from_unix_ms", "shop_id", "tier"]
    EFFECTIVE_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    effective_from_unix_ms: int
    shop_id: str
    tier: str
    def __init__(self, shop_id: _Optional[str] = ..., tier: _Optional[str] = ..., effective_from_unix_ms: _Optional[int] = ...) -> None: ...

class AssignShopTierResponse(_message.Message):
    __slots__ = ["previous_tier", "shop_id", "tier"]
    PREVIOUS_TIER_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    previous_tier: str
    shop_id: str
    tier: str
    def __init__(self, shop_id: _Optional[str] = ..., tier: _Optional[str] = ..., previous_tier: _Optional[str] = ...) -> None: ...

class BillingRecord(_message.Message):
    __slots__ = ["api_cost_nano_usd", "base_charge_nano_usd", "generated_at_unix_ms", "messages_used", "overage_charge_nano_usd", "paid", "period", "preview", "shop_id", "tier", "tokens_used", "total_charge_nano_usd", "void_reason", "voided_at_unix_ms", "voided_by_uid"]
    API_COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    BASE_CHARGE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    GENERATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_USED_FIELD_NUMBER: _ClassVar[int]
    OVERAGE_CHARGE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_USED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHARGE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    VOIDED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    VOIDED_BY_UID_FIELD_NUMBER: _ClassVar[int]
    VOID_REASON_FIELD_NUMBER: _ClassVar[int]
    api_cost_nano_usd: int
    base_charge_nano_usd: int
    generated_at_unix_ms: int
    messages_used: int
    overage_charge_nano_usd: int
    paid: bool
    period: str
    preview: bool
    shop_id: str
    tier: str
    tokens_used: int
    total_charge_nano_usd: int
    void_reason: str
    voided_at_unix_ms: int
    voided_by_uid: int
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., tier: _Optional[str] = ..., messages_used: _Optional[int] = ..., tokens_used: _Optional[int] = ..., api_cost_nano_usd: _Optional[int] = ..., base_charge_nano_usd: _Optional[int] = ..., overage_charge_nano_usd: _Optional[int] = ..., total_charge_nano_usd: _Optional[int] = ..., paid: bool = ..., generated_at_unix_ms: _Optional[int] = ..., preview: bool = ..., void_reason: _Optional[str] = ..., voided_at_unix_ms: _Optional[int] = ..., voided_by_uid: _Optional[int] = ...) -> None: ...

class CanMakeRequestRequest(_message.Message):
    __slots__ = ["estimated_input_tokens", "max_output_tokens", "model", "operation_type", "request_id", "reserve", "shop_id"]
    ESTIMATED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OPERATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVE_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    estimated_input_tokens: int
    max_output_tokens: int
    model: str
    operation_type: str
    request_id: str
    reserve: bool
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., operation_type: _Optional[str] = ..., model: _Optional[str] = ..., estimated_input_tokens: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., request_id: _Optional[str] = ..., reserve: bool = ...) -> None: ...

class CanMakeRequestResponse(_message.Message):
    __slots__ = ["daily_remaining_nano_usd", "daily_used_basis_points", "decision", "estimated_cost_nano_usd", "message", "monthly_remaining_nano_usd", "monthly_used_basis_points", "reason", "request_id", "reservation_expires_unix_ms", "reservation_id", "shadow_denied", "shadow_reason", "warning"]
    DAILY_REMAINING_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DAILY_USED_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_REMAINING_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_USED_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_EXPIRES_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    SHADOW_DENIED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_REASON_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    daily_remaining_nano_usd: int
    daily_used_basis_points: int
    decision: Decision
    estimated_cost_nano_usd: int
    message: str
    monthly_remaining_nano_usd: int
    monthly_used_basis_points: int
    reason: DecisionReason
    request_id: str
    reservation_expires_unix_ms: int
    reservation_id: str
    shadow_denied: bool
    shadow_reason: DecisionReason
    warning: bool
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reason: _Optional[_Union[DecisionReason, str]] = ..., warning: bool = ..., message: _Optional[str] = ..., daily_remaining_nano_usd: _Optional[int] = ..., monthly_remaining_nano_usd: _Optional[int] = ..., daily_used_basis_points: _Optional[int] = ..., monthly_used_basis_points: _Optional[int] = ..., estimated_cost_nano_usd: _Optional[int] = ..., reservation_id: _Optional[str] = ..., reservation_expires_unix_ms: _Optional[int] = ..., request_id: _Optional[str] = ..., shadow_denied: bool = ..., shadow_reason: _Optional[_Union[DecisionReason, str]] = ...) -> None: ...

class ExportUsageCsvChunk(_message.Message):
    __slots__ = ["data", "rows"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    rows: int
    def __init__(self, data: _Optional[bytes] = ..., rows: _Optional[int] = ...) -> None: ...

class ExportUsageCsvRequest(_message.Message):
    __slots__ = ["filter"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: UsageFilter
    def __init__(self, filter: _Optional[_Union[UsageFilter, _Mapping]] = ...) -> None: ...

class GenerateBillingBatchRequest(_message.Message):
    __slots__ = ["period"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class GenerateBillingBatchResponse(_message.Message):
    __slots__ = ["already_stored", "generated", "quiet", "records", "total_charge_nano_usd"]
    ALREADY_STORED_FIELD_NUMBER: _ClassVar[int]
    GENERATED_FIELD_NUMBER: _ClassVar[int]
    QUIET_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHARGE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    already_stored: int
    generated: int
    quiet: int
    records: _containers.RepeatedCompositeFieldContainer[BillingRecord]
    total_charge_nano_usd: int
    def __init__(self, generated: _Optional[int] = ..., already_stored: _Optional[int] = ..., records: _Optional[_Iterable[_Union[BillingRecord, _Mapping]]] = ..., total_charge_nano_usd: _Optional[int] = ..., quiet: _Optional[int] = ...) -> None: ...

class GenerateBillingRequest(_message.Message):
    __slots__ = ["period", "preview", "shop_id"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    preview: bool
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., preview: bool = ...) -> None: ...

class GenerateBillingResponse(_message.Message):
    __slots__ = ["newly_stored", "recommended_tier", "recommended_total_nano_usd", "record", "saving_nano_usd"]
    NEWLY_STORED_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_TIER_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_TOTAL_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    SAVING_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    newly_stored: bool
    recommended_tier: str
    recommended_total_nano_usd: int
    record: BillingRecord
    saving_nano_usd: int
    def __init__(self, record: _Optional[_Union[BillingRecord, _Mapping]] = ..., recommended_tier: _Optional[str] = ..., recommended_total_nano_usd: _Optional[int] = ..., saving_nano_usd: _Optional[int] = ..., newly_stored: bool = ...) -> None: ...

class GetConfigurationRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetConfigurationResponse(_message.Message):
    __slots__ = ["default_tier", "fallback_price", "limits", "optimization", "prices", "reservation_ttl_ms", "shadow_denied_total", "shadow_mode", "shadow_shops", "shop_rate_limits", "tiers", "unknown_shop_policy"]
    DEFAULT_TIER_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_PRICE_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZATION_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_TTL_MS_FIELD_NUMBER: _ClassVar[int]
    SHADOW_DENIED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SHADOW_MODE_FIELD_NUMBER: _ClassVar[int]
    SHADOW_SHOPS_FIELD_NUMBER: _ClassVar[int]
    SHOP_RATE_LIMITS_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_SHOP_POLICY_FIELD_NUMBER: _ClassVar[int]
    default_tier: str
    fallback_price: PriceVersion
    limits: _containers.RepeatedCompositeFieldContainer[OperationLimitsConfig]
    optimization: OptimizationRulesConfig
    prices: _containers.RepeatedCompositeFieldContainer[PriceVersion]
    reservation_ttl_ms: int
    shadow_denied_total: int
    shadow_mode: bool
    shadow_shops: _containers.RepeatedScalarFieldContainer[str]
    shop_rate_limits: _containers.RepeatedCompositeFieldContainer[ShopRateLimit]
    tiers: _containers.RepeatedCompositeFieldContainer[TierConfig]
    unknown_shop_policy: UnknownShopPolicy
    def __init__(self, prices: _Optional[_Iterable[_Union[PriceVersion, _Mapping]]] = ..., fallback_price: _Optional[_Union[PriceVersion, _Mapping]] = ..., tiers: _Optional[_Iterable[_Union[TierConfig, _Mapping]]] = ..., default_tier: _Optional[str] = ..., limits: _Optional[_Iterable[_Union[OperationLimitsConfig, _Mapping]]] = ..., optimization: _Optional[_Union[OptimizationRulesConfig, _Mapping]] = ..., reservation_ttl_ms: _Optional[int] = ..., unknown_shop_policy: _Optional[_Union[UnknownShopPolicy, str]] = ..., shadow_mode: bool = ..., shadow_shops: _Optional[_Iterable[str]] = ..., shop_rate_limits: _Optional[_Iterable[_Union[ShopRateLimit, _Mapping]]] = ..., shadow_denied_total: _Optional[int] = ...) -> None: ...

class GetHighCostShopsRequest(_message.Message):
    __slots__ = ["threshold_nano_usd", "top"]
    THRESHOLD_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    threshold_nano_usd: int
    top: int
    def __init__(self, threshold_nano_usd: _Optional[int] = ..., top: _Optional[int] = ...) -> None: ...

class GetHighCostShopsResponse(_message.Message):
    __slots__ = ["shops"]
    SHOPS_FIELD_NUMBER: _ClassVar[int]
    shops: _containers.RepeatedCompositeFieldContainer[HighCostShop]
    def __init__(self, shops: _Optional[_Iterable[_Union[HighCostShop, _Mapping]]] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GetMetricsResponse(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class GetMonthlyReportRequest(_message.Message):
    __slots__ = ["period"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class GetMonthlyReportResponse(_message.Message):
    __slots__ = ["by_operation", "by_shop", "period", "totals"]
    BY_OPERATION_FIELD_NUMBER: _ClassVar[int]
    BY_SHOP_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    by_operation: _containers.RepeatedCompositeFieldContainer[GroupTotals]
    by_shop: _containers.RepeatedCompositeFieldContainer[GroupTotals]
    period: str
    totals: GroupTotals
    def __init__(self, period: _Optional[str] = ..., totals: _Optional[_Union[GroupTotals, _Mapping]] = ..., by_operation: _Optional[_Iterable[_Union[GroupTotals, _Mapping]]] = ..., by_shop: _Optional[_Iterable[_Union[GroupTotals, _Mapping]]] = ...) -> None: ...

class GetMonthlySummaryRequest(_message.Message):
    __slots__ = ["period", "shop_id"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    shop_id: str
    def __init__(self, period: _Optional[str] = ..., shop_id: _Optional[str] = ...) -> None: ...

class GetMonthlySummaryResponse(_message.Message):
    __slots__ = ["shops"]
    SHOPS_FIELD_NUMBER: _ClassVar[int]
    shops: _containers.RepeatedCompositeFieldContainer[ShopMonthSummary]
    def __init__(self, shops: _Optional[_Iterable[_Union[ShopMonthSummary, _Mapping]]] = ...) -> None: ...

class GetProjectionsRequest(_message.Message):
    __slots__ = ["shop_id"]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ...) -> None: ...

class GetProjectionsResponse(_message.Message):
    __slots__ = ["projections"]
    PROJECTIONS_FIELD_NUMBER: _ClassVar[int]
    projections: _containers.RepeatedCompositeFieldContainer[Projection]
    def __init__(self, projections: _Optional[_Iterable[_Union[Projection, _Mapping]]] = ...) -> None: ...

class GetShopViewRequest(_message.Message):
    __slots__ = ["shop_id"]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ...) -> None: ...

class GetStatisticsRequest(_message.Message):
    __slots__ = ["filter"]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: UsageFilter
    def __init__(self, filter: _Optional[_Union[UsageFilter, _Mapping]] = ...) -> None: ...

class GetStatisticsResponse(_message.Message):
    __slots__ = ["by_operation", "by_shop", "totals"]
    BY_OPERATION_FIELD_NUMBER: _ClassVar[int]
    BY_SHOP_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    by_operation: _containers.RepeatedCompositeFieldContainer[GroupTotals]
    by_shop: _containers.RepeatedCompositeFieldContainer[GroupTotals]
    totals: GroupTotals
    def __init__(self, totals: _Optional[_Union[GroupTotals, _Mapping]] = ..., by_operation: _Optional[_Iterable[_Union[GroupTotals, _Mapping]]] = ..., by_shop: _Optional[_Iterable[_Union[GroupTotals, _Mapping]]] = ...) -> None: ...

class GroupTotals(_message.Message):
    __slots__ = ["average_cost_nano_usd", "cached_input_tokens", "cost_nano_usd", "events", "input_tokens", "key", "output_tokens", "total_tokens"]
    AVERAGE_COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    average_cost_nano_usd: int
    cached_input_tokens: int
    cost_nano_usd: int
    events: int
    input_tokens: int
    key: str
    output_tokens: int
    total_tokens: int
    def __init__(self, key: _Optional[str] = ..., events: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_nano_usd: _Optional[int] = ..., average_cost_nano_usd: _Optional[int] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ["service"]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ["status", "warnings"]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    status: ServingStatus
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, status: _Optional[_Union[ServingStatus, str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class HighCostShop(_message.Message):
    __slots__ = ["cost_nano_usd", "messages", "projected_monthly_cost_nano_usd", "shop_id", "tokens"]
    COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_MONTHLY_COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    cost_nano_usd: int
    messages: int
    projected_monthly_cost_nano_usd: int
    shop_id: str
    tokens: int
    def __init__(self, shop_id: _Optional[str] = ..., messages: _Optional[int] = ..., tokens: _Optional[int] = ..., cost_nano_usd: _Optional[int] = ..., projected_monthly_cost_nano_usd: _Optional[int] = ...) -> None: ...

class LimitViolation(_message.Message):
    __slots__ = ["actual", "kind", "limit", "message"]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    actual: int
    kind: LimitKind
    limit: int
    message: str
    def __init__(self, kind: _Optional[_Union[LimitKind, str]] = ..., limit: _Optional[int] = ..., actual: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ["limit", "shop_id"]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    limit: int
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ["alerts"]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class ListBillingRecordsRequest(_message.Message):
    __slots__ = ["shop_id"]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ...) -> None: ...

class ListBillingRecordsResponse(_message.Message):
    __slots__ = ["records"]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[BillingRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[BillingRecord, _Mapping]]] = ...) -> None: ...

class LogUsageRequest(_message.Message):
    __slots__ = ["cached_input_tokens", "conversation_id", "event_id", "input_tokens", "metadata", "model", "occurred_at_unix_ms", "operation_type", "output_tokens", "reservation_id", "shop_id", "user_id"]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    OPERATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    cached_input_tokens: int
    conversation_id: str
    event_id: str
    input_tokens: int
    metadata: UsageMetadata
    model: str
    occurred_at_unix_ms: int
    operation_type: str
    output_tokens: int
    reservation_id: str
    shop_id: str
    user_id: str
    def __init__(self, event_id: _Optional[str] = ..., shop_id: _Optional[str] = ..., user_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., operation_type: _Optional[str] = ..., model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., occurred_at_unix_ms: _Optional[int] = ..., reservation_id: _Optional[str] = ..., metadata: _Optional[_Union[UsageMetadata, _Mapping]] = ...) -> None: ...

class LogUsageResponse(_message.Message):
    __slots__ = ["alerts", "billing_period", "cost_nano_usd", "daily_total_nano_usd", "duplicate", "event_id", "monthly_total_nano_usd", "occurred_at_unix_ms", "reservation_outcome", "violations"]
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DAILY_TOTAL_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_TOTAL_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    billing_period: str
    cost_nano_usd: int
    daily_total_nano_usd: int
    duplicate: bool
    event_id: str
    monthly_total_nano_usd: int
    occurred_at_unix_ms: int
    reservation_outcome: ReservationOutcome
    violations: _containers.RepeatedCompositeFieldContainer[LimitViolation]
    def __init__(self, event_id: _Optional[str] = ..., cost_nano_usd: _Optional[int] = ..., daily_total_nano_usd: _Optional[int] = ..., monthly_total_nano_usd: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[LimitViolation, _Mapping]]] = ..., alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ..., duplicate: bool = ..., occurred_at_unix_ms: _Optional[int] = ..., billing_period: _Optional[str] = ..., reservation_outcome: _Optional[_Union[ReservationOutcome, str]] = ...) -> None: ...

class MarkPaidRequest(_message.Message):
    __slots__ = ["period", "shop_id"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ...) -> None: ...

class MarkPaidResponse(_message.Message):
    __slots__ = ["record"]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: BillingRecord
    def __init__(self, record: _Optional[_Union[BillingRecord, _Mapping]] = ...) -> None: ...

class MetadataEntry(_message.Message):
    __slots__ = ["key", "value"]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class ModelDowngrade(_message.Message):
    __slots__ = ["from_model", "to_model"]
    FROM_MODEL_FIELD_NUMBER: _ClassVar[int]
    TO_MODEL_FIELD_NUMBER: _ClassVar[int]
    from_model: str
    to_model: str
    def __init__(self, from_model: _Optional[str] = ..., to_model: _Optional[str] = ...) -> None: ...

class OperationLimitsConfig(_message.Message):
    __slots__ = ["alert_threshold_percent", "daily_cost_cap_nano_usd", "max_input_tokens_per_message", "max_output_tokens_per_message", "max_total_tokens_per_message", "monthly_cost_cap_nano_usd", "operation_type", "shop_id"]
    ALERT_THRESHOLD_PERCENT_FIELD_NUMBER: _ClassVar[int]
    DAILY_COST_CAP_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_TOKENS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOTAL_TOKENS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_COST_CAP_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    OPERATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    alert_threshold_percent: int
    daily_cost_cap_nano_usd: int
    max_input_tokens_per_message: int
    max_output_tokens_per_message: int
    max_total_tokens_per_message: int
    monthly_cost_cap_nano_usd: int
    operation_type: str
    shop_id: str
    def __init__(self, operation_type: _Optional[str] = ..., shop_id: _Optional[str] = ..., max_input_tokens_per_message: _Optional[int] = ..., max_output_tokens_per_message: _Optional[int] = ..., max_total_tokens_per_message: _Optional[int] = ..., daily_cost_cap_nano_usd: _Optional[int] = ..., monthly_cost_cap_nano_usd: _Optional[int] = ..., alert_threshold_percent: _Optional[int] = ...) -> None: ...

class OptimizationRulesConfig(_message.Message):
    __slots__ = ["downgrades", "history_cap", "threshold_percent"]
    DOWNGRADES_FIELD_NUMBER: _ClassVar[int]
    HISTORY_CAP_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_PERCENT_FIELD_NUMBER: _ClassVar[int]
    downgrades: _containers.RepeatedCompositeFieldContainer[ModelDowngrade]
    history_cap: int
    threshold_percent: int
    def __init__(self, downgrades: _Optional[_Iterable[_Union[ModelDowngrade, _Mapping]]] = ..., threshold_percent: _Optional[int] = ..., history_cap: _Optional[int] = ...) -> None: ...

class PriceRates(_message.Message):
    __slots__ = ["cached_input_per_million_nano_usd", "input_per_million_nano_usd", "output_per_million_nano_usd"]
    CACHED_INPUT_PER_MILLION_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_PER_MILLION_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PER_MILLION_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    cached_input_per_million_nano_usd: int
    input_per_million_nano_usd: int
    output_per_million_nano_usd: int
    def __init__(self, input_per_million_nano_usd: _Optional[int] = ..., output_per_million_nano_usd: _Optional[int] = ..., cached_input_per_million_nano_usd: _Optional[int] = ...) -> None: ...

class PriceVersion(_message.Message):
    __slots__ = ["effective_from_unix_ms", "model", "prompt_tiers", "rates", "source"]
    EFFECTIVE_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TIERS_FIELD_NUMBER: _ClassVar[int]
    RATES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    effective_from_unix_ms: int
    model: str
    prompt_tiers: _containers.RepeatedCompositeFieldContainer[PromptTier]
    rates: PriceRates
    source: str
    def __init__(self, model: _Optional[str] = ..., effective_from_unix_ms: _Optional[int] = ..., rates: _Optional[_Union[PriceRates, _Mapping]] = ..., prompt_tiers: _Optional[_Iterable[_Union[PromptTier, _Mapping]]] = ..., source: _Optional[str] = ...) -> None: ...

class Projection(_message.Message):
    __slots__ = ["daily_run_rate_nano_usd", "days_left", "messages_this_month", "period", "projected_month_end_nano_usd", "shop_id", "spent_nano_usd"]
    DAILY_RUN_RATE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_THIS_MONTH_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PROJECTED_MONTH_END_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    SPENT_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    daily_run_rate_nano_usd: int
    days_left: int
    messages_this_month: int
    period: str
    projected_month_end_nano_usd: int
    shop_id: str
    spent_nano_usd: int
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., messages_this_month: _Optional[int] = ..., spent_nano_usd: _Optional[int] = ..., daily_run_rate_nano_usd: _Optional[int] = ..., days_left: _Optional[int] = ..., projected_month_end_nano_usd: _Optional[int] = ...) -> None: ...

class PromptTier(_message.Message):
    __slots__ = ["prompt_tokens_above", "rates"]
    PROMPT_TOKENS_ABOVE_FIELD_NUMBER: _ClassVar[int]
    RATES_FIELD_NUMBER: _ClassVar[int]
    prompt_tokens_above: int
    rates: PriceRates
    def __init__(self, prompt_tokens_above: _Optional[int] = ..., rates: _Optional[_Union[PriceRates, _Mapping]] = ...) -> None: ...

class QueryUsageLogsRequest(_message.Message):
    __slots__ = ["cursor", "filter", "page_size"]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    filter: UsageFilter
    page_size: int
    def __init__(self, filter: _Optional[_Union[UsageFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., cursor: _Optional[str] = ...) -> None: ...

class QueryUsageLogsResponse(_message.Message):
    __slots__ = ["events", "next_cursor"]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[UsageEventRecord]
    next_cursor: str
    def __init__(self, events: _Optional[_Iterable[_Union[UsageEventRecord, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class RateLimit(_message.Message):
    __slots__ = ["requests_per_minute", "tokens_per_minute"]
    REQUESTS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    TOKENS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    requests_per_minute: int
    tokens_per_minute: int
    def __init__(self, requests_per_minute: _Optional[int] = ..., tokens_per_minute: _Optional[int] = ...) -> None: ...

class ReleaseReservationRequest(_message.Message):
    __slots__ = ["reservation_id"]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    def __init__(self, reservation_id: _Optional[str] = ...) -> None: ...

class ReleaseReservationResponse(_message.Message):
    __slots__ = ["released_nano_usd"]
    RELEASED_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    released_nano_usd: int
    def __init__(self, released_nano_usd: _Optional[int] = ...) -> None: ...

class ReportClientMetricsRequest(_message.Message):
    __slots__ = ["client_id", "fail_closed_total", "fail_open_total", "spool_depth", "spooled_total"]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    FAIL_CLOSED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FAIL_OPEN_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SPOOLED_TOTAL_FIELD_NUMBER: _ClassVar[int]
    SPOOL_DEPTH_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    fail_closed_total: int
    fail_open_total: int
    spool_depth: int
    spooled_total: int
    def __init__(self, client_id: _Optional[str] = ..., fail_open_total: _Optional[int] = ..., fail_closed_total: _Optional[int] = ..., spooled_total: _Optional[int] = ..., spool_depth: _Optional[int] = ...) -> None: ...

class ReportClientMetricsResponse(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class RequestFrame(_message.Message):
    __slots__ = ["call_id", "deadline_ms", "method", "payload"]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    deadline_ms: int
    method: str
    payload: bytes
    def __init__(self, call_id: _Optional[int] = ..., method: _Optional[str] = ..., deadline_ms: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...

class ResponseFrame(_message.Message):
    __slots__ = ["call_id", "end_of_stream", "payload", "status_code", "status_message"]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    END_OF_STREAM_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    call_id: int
    end_of_stream: bool
    payload: bytes
    status_code: int
    status_message: str
    def __init__(self, call_id: _Optional[int] = ..., status_code: _Optional[int] = ..., status_message: _Optional[str] = ..., payload: _Optional[bytes] = ..., end_of_stream: bool = ...) -> None: ...

class SetLimitsRequest(_message.Message):
    __slots__ = ["limits"]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: OperationLimitsConfig
    def __init__(self, limits: _Optional[_Union[OperationLimitsConfig, _Mapping]] = ...) -> None: ...

class SetLimitsResponse(_message.Message):
    __slots__ = ["limits"]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    limits: OperationLimitsConfig
    def __init__(self, limits: _Optional[_Union[OperationLimitsConfig, _Mapping]] = ...) -> None: ...

class SetOptimizationRulesRequest(_message.Message):
    __slots__ = ["rules"]
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: OptimizationRulesConfig
    def __init__(self, rules: _Optional[_Union[OptimizationRulesConfig, _Mapping]] = ...) -> None: ...

class SetOptimizationRulesResponse(_message.Message):
    __slots__ = ["rules"]
    RULES_FIELD_NUMBER: _ClassVar[int]
    rules: OptimizationRulesConfig
    def __init__(self, rules: _Optional[_Union[OptimizationRulesConfig, _Mapping]] = ...) -> None: ...

class SetPriceRequest(_message.Message):
    __slots__ = ["as_fallback", "version"]
    AS_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    as_fallback: bool
    version: PriceVersion
    def __init__(self, version: _Optional[_Union[PriceVersion, _Mapping]] = ..., as_fallback: bool = ...) -> None: ...

class SetPriceResponse(_message.Message):
    __slots__ = ["version"]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: PriceVersion
    def __init__(self, version: _Optional[_Union[PriceVersion, _Mapping]] = ...) -> None: ...

class SetRateLimitRequest(_message.Message):
    __slots__ = ["rate_limit", "shop_id", "tier"]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    rate_limit: RateLimit
    shop_id: str
    tier: str
    def __init__(self, tier: _Optional[str] = ..., shop_id: _Optional[str] = ..., rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class SetRateLimitResponse(_message.Message):
    __slots__ = ["rate_limit"]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    rate_limit: RateLimit
    def __init__(self, rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class SetShadowModeRequest(_message.Message):
    __slots__ = ["enabled", "shop_id"]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., enabled: bool = ...) -> None: ...

class SetShadowModeResponse(_message.Message):
    __slots__ = ["global_enabled", "shadow_shops"]
    GLOBAL_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SHADOW_SHOPS_FIELD_NUMBER: _ClassVar[int]
    global_enabled: bool
    shadow_shops: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, global_enabled: bool = ..., shadow_shops: _Optional[_Iterable[str]] = ...) -> None: ...

class SetUnknownShopPolicyRequest(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: UnknownShopPolicy
    def __init__(self, policy: _Optional[_Union[UnknownShopPolicy, str]] = ...) -> None: ...

class SetUnknownShopPolicyResponse(_message.Message):
    __slots__ = ["policy"]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: UnknownShopPolicy
    def __init__(self, policy: _Optional[_Union[UnknownShopPolicy, str]] = ...) -> None: ...

class ShopMonthSummary(_message.Message):
    __slots__ = ["average_cost_per_message_nano_usd", "average_tokens_per_message", "cost_nano_usd", "input_tokens", "messages", "output_tokens", "period", "shop_id", "total_tokens"]
    AVERAGE_COST_PER_MESSAGE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_TOKENS_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    average_cost_per_message_nano_usd: int
    average_tokens_per_message: int
    cost_nano_usd: int
    input_tokens: int
    messages: int
    output_tokens: int
    period: str
    shop_id: str
    total_tokens: int
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., messages: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cost_nano_usd: _Optional[int] = ..., average_tokens_per_message: _Optional[int] = ..., average_cost_per_message_nano_usd: _Optional[int] = ...) -> None: ...

class ShopRateLimit(_message.Message):
    __slots__ = ["rate_limit", "shop_id"]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    rate_limit: RateLimit
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class ShopTierAssignment(_message.Message):
    __slots__ = ["shop_id", "tier"]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    shop_id: str
    tier: str
    def __init__(self, shop_id: _Optional[str] = ..., tier: _Optional[str] = ...) -> None: ...

class ShopView(_message.Message):
    __slots__ = ["api_cost_this_month_nano_usd", "daily_cap_nano_usd", "daily_spent_nano_usd", "daily_used_basis_points", "estimated_bill_nano_usd", "included_messages", "messages_this_month", "monthly_cap_nano_usd", "monthly_spent_nano_usd", "monthly_used_basis_points", "period", "recommended_tier", "saving_nano_usd", "shop_id", "tier", "unlimited_messages"]
    API_COST_THIS_MONTH_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DAILY_CAP_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DAILY_SPENT_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    DAILY_USED_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_BILL_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    INCLUDED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_THIS_MONTH_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_CAP_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_SPENT_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_USED_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_TIER_FIELD_NUMBER: _ClassVar[int]
    SAVING_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    api_cost_this_month_nano_usd: int
    daily_cap_nano_usd: int
    daily_spent_nano_usd: int
    daily_used_basis_points: int
    estimated_bill_nano_usd: int
    included_messages: int
    messages_this_month: int
    monthly_cap_nano_usd: int
    monthly_spent_nano_usd: int
    monthly_used_basis_points: int
    period: str
    recommended_tier: str
    saving_nano_usd: int
    shop_id: str
    tier: str
    unlimited_messages: bool
    def __init__(self, shop_id: _Optional[str] = ..., tier: _Optional[str] = ..., period: _Optional[str] = ..., messages_this_month: _Optional[int] = ..., api_cost_this_month_nano_usd: _Optional[int] = ..., estimated_bill_nano_usd: _Optional[int] = ..., recommended_tier: _Optional[str] = ..., saving_nano_usd: _Optional[int] = ..., daily_spent_nano_usd: _Optional[int] = ..., daily_cap_nano_usd: _Optional[int] = ..., daily_used_basis_points: _Optional[int] = ..., monthly_spent_nano_usd: _Optional[int] = ..., monthly_cap_nano_usd: _Optional[int] = ..., monthly_used_basis_points: _Optional[int] = ..., included_messages: _Optional[int] = ..., unlimited_messages: bool = ...) -> None: ...

class TierConfig(_message.Message):
    __slots__ = ["included_messages", "max_monthly_spend_nano_usd", "monthly_fee_nano_usd", "name", "no_spend_cap", "overage_per_message_nano_usd", "rate_limit", "self_serve", "unlimited_messages"]
    INCLUDED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_MONTHLY_SPEND_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    MONTHLY_FEE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NO_SPEND_CAP_FIELD_NUMBER: _ClassVar[int]
    OVERAGE_PER_MESSAGE_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SELF_SERVE_FIELD_NUMBER: _ClassVar[int]
    UNLIMITED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    included_messages: int
    max_monthly_spend_nano_usd: int
    monthly_fee_nano_usd: int
    name: str
    no_spend_cap: bool
    overage_per_message_nano_usd: int
    rate_limit: RateLimit
    self_serve: bool
    unlimited_messages: bool
    def __init__(self, name: _Optional[str] = ..., monthly_fee_nano_usd: _Optional[int] = ..., included_messages: _Optional[int] = ..., unlimited_messages: bool = ..., overage_per_message_nano_usd: _Optional[int] = ..., max_monthly_spend_nano_usd: _Optional[int] = ..., no_spend_cap: bool = ..., self_serve: bool = ..., rate_limit: _Optional[_Union[RateLimit, _Mapping]] = ...) -> None: ...

class UpsertTierRequest(_message.Message):
    __slots__ = ["effective_from_unix_ms", "tier"]
    EFFECTIVE_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    effective_from_unix_ms: int
    tier: TierConfig
    def __init__(self, tier: _Optional[_Union[TierConfig, _Mapping]] = ..., effective_from_unix_ms: _Optional[int] = ...) -> None: ...

class UpsertTierResponse(_message.Message):
    __slots__ = ["tier"]
    TIER_FIELD_NUMBER: _ClassVar[int]
    tier: TierConfig
    def __init__(self, tier: _Optional[_Union[TierConfig, _Mapping]] = ...) -> None: ...

class UsageEventRecord(_message.Message):
    __slots__ = ["billing_period", "cached_input_tokens", "conversation_id", "cost_nano_usd", "event_id", "input_tokens", "metadata", "model", "occurred_at_unix_ms", "operation_type", "output_tokens", "recorded_at_unix_ms", "shop_id", "user_id"]
    BILLING_PERIOD_FIELD_NUMBER: _ClassVar[int]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    OPERATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    billing_period: str
    cached_input_tokens: int
    conversation_id: str
    cost_nano_usd: int
    event_id: str
    input_tokens: int
    metadata: UsageMetadata
    model: str
    occurred_at_unix_ms: int
    operation_type: str
    output_tokens: int
    recorded_at_unix_ms: int
    shop_id: str
    user_id: str
    def __init__(self, event_id: _Optional[str] = ..., shop_id: _Optional[str] = ..., user_id: _Optional[str] = ..., conversation_id: _Optional[str] = ..., operation_type: _Optional[str] = ..., model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., occurred_at_unix_ms: _Optional[int] = ..., cost_nano_usd: _Optional[int] = ..., metadata: _Optional[_Union[UsageMetadata, _Mapping]] = ..., recorded_at_unix_ms: _Optional[int] = ..., billing_period: _Optional[str] = ...) -> None: ...

class UsageFilter(_message.Message):
    __slots__ = ["from_unix_ms", "shop_id", "to_unix_ms"]
    FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TO_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    from_unix_ms: int
    shop_id: str
    to_unix_ms: int
    def __init__(self, shop_id: _Optional[str] = ..., from_unix_ms: _Optional[int] = ..., to_unix_ms: _Optional[int] = ...) -> None: ...

class UsageMetadata(_message.Message):
    __slots__ = ["extra", "history_length", "knowledge_base_size", "message_length"]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    HISTORY_LENGTH_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_BASE_SIZE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    extra: _containers.RepeatedCompositeFieldContainer[MetadataEntry]
    history_length: int
    knowledge_base_size: int
    message_length: int
    def __init__(self, message_length: _Optional[int] = ..., history_length: _Optional[int] = ..., knowledge_base_size: _Optional[int] = ..., extra: _Optional[_Iterable[_Union[MetadataEntry, _Mapping]]] = ...) -> None: ...

class VoidBillingRequest(_message.Message):
    __slots__ = ["period", "reason", "shop_id"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    reason: str
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class VoidBillingResponse(_message.Message):
    __slots__ = ["record"]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: BillingRecord
    def __init__(self, record: _Optional[_Union[BillingRecord, _Mapping]] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ["shop_id"]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ...) -> None: ...

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class DecisionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class LimitKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class AlertKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ReservationOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ServingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class UnknownShopPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
