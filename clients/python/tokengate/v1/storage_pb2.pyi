from tokengate.v1 import tokengate_pb2 as _tokengate_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConfigChangeRecord(_message.Message):
    __slots__ = ["set_limits", "set_optimization_rules", "set_price", "set_rate_limit", "set_shadow_mode", "set_unknown_shop_policy", "upsert_tier"]
    SET_LIMITS_FIELD_NUMBER: _ClassVar[int]
    SET_OPTIMIZATION_RULES_FIELD_NUMBER: _ClassVar[int]
    SET_PRICE_FIELD_NUMBER: _ClassVar[int]
    SET_RATE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SET_SHADOW_MODE_FIELD_NUMBER: _ClassVar[int]
    SET_UNKNOWN_SHOP_POLICY_FIELD_NUMBER: _ClassVar[int]
    UPSERT_TIER_FIELD_NUMBER: _ClassVar[int]
    set_limits: _tokengate_pb2.SetLimitsRequest
    set_optimization_rules: _tokengate_pb2.SetOptimizationRulesRequest
    set_price: _tokengate_pb2.SetPriceRequest
    set_rate_limit: _tokengate_pb2.SetRateLimitRequest
    set_shadow_mode: _tokengate_pb2.SetShadowModeRequest
    set_unknown_shop_policy: _tokengate_pb2.SetUnknownShopPolicyRequest
    upsert_tier: _tokengate_pb2.UpsertTierRequest
    def __init__(self, set_price: _Optional[_Union[_tokengate_pb2.SetPriceRequest, _Mapping]] = ..., upsert_tier: _Optional[_Union[_tokengate_pb2.UpsertTierRequest, _Mapping]] = ..., set_limits: _Optional[_Union[_tokengate_pb2.SetLimitsRequest, _Mapping]] = ..., set_rate_limit: _Optional[_Union[_tokengate_pb2.SetRateLimitRequest, _Mapping]] = ..., set_optimization_rules: _Optional[_Union[_tokengate_pb2.SetOptimizationRulesRequest, _Mapping]] = ..., set_shadow_mode: _Optional[_Union[_tokengate_pb2.SetShadowModeRequest, _Mapping]] = ..., set_unknown_shop_policy: _Optional[_Union[_tokengate_pb2.SetUnknownShopPolicyRequest, _Mapping]] = ...) -> None: ...

class FactRecord(_message.Message):
    __slots__ = ["alert", "billing", "config_change", "month_aggregate", "paid_mark", "tier_assignment", "usage", "void_record"]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    BILLING_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CHANGE_FIELD_NUMBER: _ClassVar[int]
    MONTH_AGGREGATE_FIELD_NUMBER: _ClassVar[int]
    PAID_MARK_FIELD_NUMBER: _ClassVar[int]
    TIER_ASSIGNMENT_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    VOID_RECORD_FIELD_NUMBER: _ClassVar[int]
    alert: _tokengate_pb2.Alert
    billing: _tokengate_pb2.BillingRecord
    config_change: ConfigChangeRecord
    month_aggregate: MonthAggregateRecord
    paid_mark: PaidMarkRecord
    tier_assignment: TierAssignmentRecord
    usage: _tokengate_pb2.UsageEventRecord
    void_record: VoidRecord
    def __init__(self, usage: _Optional[_Union[_tokengate_pb2.UsageEventRecord, _Mapping]] = ..., billing: _Optional[_Union[_tokengate_pb2.BillingRecord, _Mapping]] = ..., tier_assignment: _Optional[_Union[TierAssignmentRecord, _Mapping]] = ..., config_change: _Optional[_Union[ConfigChangeRecord, _Mapping]] = ..., alert: _Optional[_Union[_tokengate_pb2.Alert, _Mapping]] = ..., paid_mark: _Optional[_Union[PaidMarkRecord, _Mapping]] = ..., month_aggregate: _Optional[_Union[MonthAggregateRecord, _Mapping]] = ..., void_record: _Optional[_Union[VoidRecord, _Mapping]] = ...) -> None: ...

class MonthAggregateRecord(_message.Message):
    __slots__ = ["cached_input_tokens", "cost_nano_usd", "input_tokens", "messages", "output_tokens", "period", "shop_id"]
    CACHED_INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_NANO_USD_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    cached_input_tokens: int
    cost_nano_usd: int
    input_tokens: int
    messages: int
    output_tokens: int
    period: str
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., messages: _Optional[int] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., cached_input_tokens: _Optional[int] = ..., cost_nano_usd: _Optional[int] = ...) -> None: ...

class PaidMarkRecord(_message.Message):
    __slots__ = ["paid_at_unix_ms", "period", "shop_id"]
    PAID_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    paid_at_unix_ms: int
    period: str
    shop_id: str
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., paid_at_unix_ms: _Optional[int] = ...) -> None: ...

class TierAssignmentRecord(_message.Message):
    __slots__ = ["effective_from_unix_ms", "shop_id", "tier"]
    EFFECTIVE_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    effective_from_unix_ms: int
    shop_id: str
    tier: str
    def __init__(self, shop_id: _Optional[str] = ..., tier: _Optional[str] = ..., effective_from_unix_ms: _Optional[int] = ...) -> None: ...

class VoidRecord(_message.Message):
    __slots__ = ["period", "reason", "shop_id", "voided_at_unix_ms", "voided_by_uid"]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SHOP_ID_FIELD_NUMBER: _ClassVar[int]
    VOIDED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    VOIDED_BY_UID_FIELD_NUMBER: _ClassVar[int]
    period: str
    reason: str
    shop_id: str
    voided_at_unix_ms: int
    voided_by_uid: int
    def __init__(self, shop_id: _Optional[str] = ..., period: _Optional[str] = ..., reason: _Optional[str] = ..., voided_at_unix_ms: _Optional[int] = ..., voided_by_uid: _Optional[int] = ...) -> None: ...
