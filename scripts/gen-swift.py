#!/usr/bin/env python3
"""Generates TokenGate's Swift <-> protobuf-c layer from the schema (issue 22).

Reads the FileDescriptorSet that `protoc --include_source_info --include_imports
--descriptor_set_out` wrote for proto/tokengate/v1/*.proto (scripts/gen-proto.sh runs it) and
writes, for every message not listed as hand-written below:
  - Sources/TokenGateCore/Generated/Messages.generated.swift: the Swift value type (Sendable,
    Equatable; units in the names: `NanoUSD` for *_nano_usd, `UnixMillis` for *_unix_ms, UInt64
    tokens); proto comments become `///` doc comments;
  - Sources/TokenGateWire/Generated/Wire.generated.swift: `init(copying:)` from the protobuf-c
    struct (UTF-8 checked, nested errors named by path, domain rules of WireRules.swift called
    where the table below says so), `cMessage(in:)` through `CArena`, `decode`/`encoded` for
    the messages a method carries, and a registry of every message for the round-trip test;
    for a domain-shaped message (DOMAIN_SHAPED below) an internal wire-shaped type `<Proto>Wire`
    with that conversion, and the bridge through it for the public domain type;
  - Sources/TokenGateWire/Generated/Methods.generated.swift: the service's method paths.

Usage: gen-swift.py DESCRIPTOR_SET OUT_ROOT   (OUT_ROOT is the package root or a scratch copy)
Needs the official protobuf Python runtime (Debian: python3-protobuf).
"""
import os
import sys

from google.protobuf import descriptor_pb2

GENERATOR = "scripts/gen-swift.py"
PACKAGE = "tokengate.v1"

# --- The explicit override table: only where the naming rule is not enough. ---------------------

# Messages with no Swift type converting them through protobuf-c: the envelopes, which have their
# own codec (EnvelopeCodec). They still appear in the round-trip registry, as nil.
HAND_WRITTEN = {
    "RequestFrame": None,
    "ResponseFrame": None,
}

# Messages whose public Swift type is shaped by the domain, not the wire (a price version under its
# model, a tier's nil = unlimited, the downgrade map, a fact's inline cases). proto name -> domain
# type. The generator emits an internal wire-shaped type `<Proto>Wire` (every field, in schema
# order, nested domain messages as their own `...Wire`) with its protobuf-c conversion, and makes
# the domain type convert through it; the mapping between the two is pure Swift, hand-written in
# Sources/TokenGateWire/DomainMapping.swift: `init(wire:) throws(FieldError)` on the domain type
# and `init(_ domain:)` on the wire type.
DOMAIN_SHAPED = {
    "PriceVersion": "ModelPrice",
    "TierConfig": "TierSettings",
    "OperationLimitsConfig": "OperationLimitsEntry",
    "OptimizationRulesConfig": "OptimizationRules",
    "GetConfigurationResponse": "GetConfigurationResponse",
    "FactRecord": "Fact",
}


def wire_name(message_name):
    """The internal wire-shaped type of a domain-shaped message."""
    return message_name + "Wire"

# Messages whose Swift type is a hand-written domain type with behaviour of its own (Pricing.swift,
# RateLimiter.swift) but whose conversion is generated: the type's memberwise init takes the
# fields in schema order, under the names the rule gives or FIELD_NAMES says.
CONVERSION_ONLY = {"PriceRates", "PromptTier", "RateLimit"}

# (message, field) -> Swift property name, where the naming rule is not the domain type's name.
FIELD_NAMES = {
    ("PriceRates", "input_per_million_nano_usd"): "inputPerMillion",
    ("PriceRates", "output_per_million_nano_usd"): "outputPerMillion",
    ("PriceRates", "cached_input_per_million_nano_usd"): "cachedInputPerMillion",
}

# Proto message name -> Swift type name, where they differ.
SWIFT_NAMES = {
    "UsageEventRecord": "UsageEvent",
    "ConfigChangeRecord": "ConfigChange",
    "PaidMarkRecord": "PaidMark",
    "VoidRecord": "VoidMark",
    "ExportUsageCsvRequest": "ExportUsageCSVRequest",
    "ExportUsageCsvChunk": "ExportUsageCSVChunk",
}

# Per-message options:
#   required: nested messages that must be present (decode: `.missing`); the Swift field is not
#             optional and has no default. Other nested messages decode an absent value as the
#             type's empty value (`T()`), unless listed in `optional` (Swift `T?`).
#   rules:    the decoder calls `checkRules()` (hand-written in WireRules.swift) after copying.
#   hot_decode, hot_encode: `decode` / `encoded()` are hand-written fast paths
#             (HotMessages+Wire.swift); the generated conversions stay, as the general path
#             those are tested against.
#   encoded:  `encoded()` is hand-written for another reason (see the message's file).
#   defaults: init parameter defaults other than the proto3 zero (caller convenience).
#   absent:   nested messages whose absence decodes as the given value (also the init default).
#   extra_conformances: added to the struct's declaration (synthesised ones must be there).
CALLER_DEFAULTS = {"operation_type": '"chat_message"', "model": '"gemini-2.5-flash"'}
OPTIONS = {
    "CanMakeRequestRequest": {"hot_decode": True, "hot_encode": True, "defaults": CALLER_DEFAULTS},
    "CanMakeRequestResponse": {"hot_decode": True, "hot_encode": True},
    "ApplyOptimizationRequest": {"defaults": CALLER_DEFAULTS},
    "LogUsageRequest": {"hot_decode": True, "defaults": CALLER_DEFAULTS},
    "MetadataEntry": {"extra_conformances": ["Hashable"]},
    "GenerateBillingResponse": {"required": {"record"}},
    "PromptTier": {"required": {"rates"}},
    "SetPriceRequest": {"required": {"version"}},
    "SetPriceResponse": {"required": {"version"}},
    "UpsertTierRequest": {"required": {"tier"}},
    "UpsertTierResponse": {"required": {"tier"}},
    "SetLimitsRequest": {"required": {"limits"}},
    "SetLimitsResponse": {"required": {"limits"}},
    "ShopRateLimit": {"absent": {"rate_limit": ".unlimited"}},
    "MonthAggregateRecord": {"rules": True},
    "SetRateLimitRequest": {"absent": {"rate_limit": ".unlimited"}},
    "SetRateLimitResponse": {"absent": {"rate_limit": ".unlimited"}},
    "SetOptimizationRulesRequest": {"required": {"rules"}},
    "SetOptimizationRulesResponse": {"required": {"rules"}},
    "VoidBillingResponse": {"required": {"record"}},
    "MarkPaidResponse": {"required": {"record"}},
    "ExportUsageCsvChunk": {"encoded": True},
    "PriceVersion": {"required": {"rates"}},
    "TierConfig": {"optional": {"rate_limit"}},
    "GetConfigurationResponse": {"required": {"optimization"}, "optional": {"fallback_price"}},
    "UsageFilter": {"extra_conformances": ["Hashable"]},
}

# How decode errors name a message, where the rule (snake name, without `_request`) does not fit.
FIELD_PREFIXES = {"HealthCheckRequest": "health", "HealthCheckResponse": "health_response"}

# Methods whose Swift constant is not the lowerCamel of the RPC name.
METHOD_NAMES = {"ExportUsageCsv": "exportUsageCSV"}

ACRONYMS = {"id": "ID", "usd": "USD", "uid": "UID", "csv": "CSV", "url": "URL"}

# --- Naming rules --------------------------------------------------------------------------------


def camel(snake, upper_first=False):
    parts = snake.split("_")
    out = []
    for i, part in enumerate(parts):
        if part in ACRONYMS and (i > 0 or upper_first):
            out.append(ACRONYMS[part])
        elif i == 0 and not upper_first:
            out.append(part.lower())
        else:
            out.append(part[:1].upper() + part[1:].lower())
    return "".join(out)


def snake_of(camel_name):
    """protobuf-c's lower-case name of a CamelCase message: ExportUsageCsvChunk -> export_usage_csv_chunk."""
    out = []
    for i, ch in enumerate(camel_name):
        if ch.isupper() and i > 0:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def swift_name(message_name, wire_shape=False):
    """The Swift type of a message; inside a wire-shaped type, a domain-shaped message is its `...Wire`."""
    if message_name in DOMAIN_SHAPED:
        return wire_name(message_name) if wire_shape else DOMAIN_SHAPED[message_name]
    return SWIFT_NAMES.get(message_name, message_name)


def c_type(message_name):
    return "Tokengate__V1__" + message_name


def c_init(message_name):
    return "tokengate__v1__" + snake_of(message_name) + "__init"


def field_prefix(message_name):
    """How decode errors name a message: `log_usage` for LogUsageRequest, else the snake name."""
    if message_name in FIELD_PREFIXES:
        return FIELD_PREFIXES[message_name]
    s = snake_of(message_name)
    return s[: -len("_request")] if s.endswith("_request") else s


FD = descriptor_pb2.FieldDescriptorProto

# --- Schema model --------------------------------------------------------------------------------


class Schema:
    def __init__(self, descriptor_set):
        self.messages = []  # (file name, DescriptorProto, path) in schema order
        self.enums = {}  # short name -> EnumDescriptorProto
        self.comments = {}  # (file, path tuple) -> comment text
        self.methods = []  # (service, MethodDescriptorProto, comment)
        for f in descriptor_set.file:
            if f.package != PACKAGE:
                continue
            for loc in f.source_code_info.location:
                text = (loc.leading_comments or "") + (loc.trailing_comments or "")
                if text.strip():
                    self.comments[(f.name, tuple(loc.path))] = text
            for i, m in enumerate(f.message_type):
                self.messages.append((f.name, m, (4, i)))
            for e in f.enum_type:
                self.enums[e.name] = e
            for si, s in enumerate(f.service):
                for mi, m in enumerate(s.method):
                    self.methods.append((s.name, m, self.comments.get((f.name, (6, si, 2, mi)), "")))
        self.by_name = {m.name: (fname, m, path) for fname, m, path in self.messages}
        self.enum_list = []  # (file name, EnumDescriptorProto, path) in schema order
        for f in descriptor_set.file:
            if f.package == PACKAGE:
                for i, e in enumerate(f.enum_type):
                    self.enum_list.append((f.name, e, (5, i)))

    def comment(self, fname, path):
        return self.comments.get((fname, tuple(path)), "")

    def carried_by_methods(self):
        names = set()
        for _, m, _ in self.methods:
            names.add(m.input_type.rsplit(".", 1)[-1])
            names.add(m.output_type.rsplit(".", 1)[-1])
        return names


def doc_lines(text, indent):
    lines = [line.strip() for line in text.strip("\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return [f"{indent}/// {line}".rstrip() for line in lines]


def short(type_name):
    return type_name.rsplit(".", 1)[-1]


def enum_has_zero(schema, enum_name):
    """True when the Swift enum keeps the proto's zero value (hand-written Swift enums today)."""
    return enum_name in ENUMS_WITH_UNSPECIFIED


# Enums: every Swift enum is generated (Int32 raw values = wire numbers, case names from the
# value names without the enum's prefix, `description` the same names in capitals). These
# keep the proto's zero case, so 0 decodes as `.unspecified`; the others have no zero case and
# the decoders refuse 0 as unspecified (an enum without a meaning for 0 is a domain rule).
ENUMS_WITH_UNSPECIFIED = {"DecisionReason", "ReservationOutcome", "ServingStatus"}
# Enums whose Swift side stays hand-written: UnknownShopPolicy has string raw values in the
# configuration file's vocabulary (Configuration.swift). Their conversions `copy<Enum>(_:field:)`
# and `c<Enum>(_:)` are generated by case name into Wire.generated.swift.
HAND_WRITTEN_ENUMS = {"UnknownShopPolicy"}
# `description` overrides: enum -> value name -> text.
ENUM_DESCRIPTIONS = {
    "ReservationOutcome": {"RESERVATION_OUTCOME_UNSPECIFIED": "RESERVATION_OUTCOME_UNSPECIFIED"},
    "ServingStatus": {"SERVING_STATUS_UNSPECIFIED": "UNKNOWN"},
}


class Field:
    def __init__(self, schema, message, fd, comment, options, wire_shape=False):
        self.wire_shape = wire_shape
        self.fd = fd
        self.name = fd.name
        self.swift = FIELD_NAMES.get((message.name, fd.name), camel(fd.name))
        self.comment = comment
        self.repeated = fd.label == FD.LABEL_REPEATED
        self.kind = fd.type
        self.type_name = short(fd.type_name) if fd.type_name else ""
        self.required = fd.name in options.get("required", set())
        self.optional = fd.name in options.get("optional", set())
        self.caller_defaults = options.get("defaults", {})
        self.absent = options.get("absent", {}).get(fd.name)
        if fd.HasField("oneof_index") and not message_is_oneof_enum(message):
            raise SystemExit(f"gen-swift: {message.name}.{fd.name} is in a oneof; list the message in HAND_WRITTEN")

    @property
    def scalar_type(self):
        k = self.kind
        if k == FD.TYPE_STRING:
            return "String"
        if k == FD.TYPE_BYTES:
            return "[UInt8]"
        if k == FD.TYPE_BOOL:
            return "Bool"
        if k == FD.TYPE_UINT64:
            return "UInt64"
        if k == FD.TYPE_UINT32:
            return "UInt32"
        if k == FD.TYPE_INT32:
            return "Int32"
        if k == FD.TYPE_INT64:
            if self.name.endswith("_nano_usd"):
                return "NanoUSD"
            if self.name.endswith("_unix_ms"):
                return "UnixMillis"
            return "Int64"
        if k == FD.TYPE_ENUM:
            return self.type_name
        if k == FD.TYPE_MESSAGE:
            return swift_name(self.type_name, self.wire_shape)
        raise SystemExit(f"gen-swift: field {self.name}: type {k} is not supported yet")

    @property
    def swift_type(self):
        t = self.scalar_type
        if self.repeated:
            return f"[{t}]"
        if self.kind == FD.TYPE_MESSAGE and self.optional:
            return f"{t}?"
        return t

    def default(self):
        """The init parameter's default, or None when the caller must give it."""
        if self.name in self.caller_defaults:
            return self.caller_defaults[self.name]
        if self.repeated:
            return "[]"
        k = self.kind
        if k == FD.TYPE_STRING:
            return '""'
        if k == FD.TYPE_BYTES:
            return "[]"
        if k == FD.TYPE_BOOL:
            return "false"
        if k in (FD.TYPE_UINT64, FD.TYPE_UINT32, FD.TYPE_INT32, FD.TYPE_INT64):
            return "0"
        if k == FD.TYPE_ENUM:
            return ".unspecified" if self.type_name in ENUMS_WITH_UNSPECIFIED else None
        if k == FD.TYPE_MESSAGE:
            if self.absent:
                return self.absent
            if self.optional:
                return "nil"
            if self.required:
                return None
            return f"{self.scalar_type}()"
        return None


def message_is_oneof_enum(m):
    """A message that is one oneof of messages becomes a Swift enum with a case per member."""
    return (
        len(m.oneof_decl) == 1
        and all(fd.HasField("oneof_index") and fd.type == FD.TYPE_MESSAGE for fd in m.field)
        and len(m.field) > 0
    )


class Message:
    def __init__(self, schema, fname, m, path):
        self.schema = schema
        self.name = m.name
        self.domain = DOMAIN_SHAPED.get(m.name)  # the public domain type, for a domain-shaped message
        self.swift = wire_name(m.name) if self.domain else swift_name(m.name)
        self.comment = schema.comment(fname, path)
        self.options = OPTIONS.get(m.name, {})
        self.oneof = m.oneof_decl[0].name if message_is_oneof_enum(m) else None
        self.fields = [
            Field(schema, m, fd, schema.comment(fname, list(path) + [2, i]), self.options, wire_shape=bool(self.domain))
            for i, fd in enumerate(m.field)
        ]


# --- Emission ------------------------------------------------------------------------------------


def header(source):
    return f"// Generated by {GENERATOR} from {source}: DO NOT EDIT.\n"


def c_enum_constant(e, v):
    """protobuf-c's constant of an enum value: TOKENGATE__V1__UNKNOWN_SHOP_POLICY__UNKNOWN_SHOP_POLICY_DENY."""
    return f"TOKENGATE__V1__{snake_of(e.name).upper()}__{v.name}"


def enum_prefix(e):
    return snake_of(e.name).upper() + "_"


def emit_enums(schema):
    out = []
    for fname, e, path in schema.enum_list:
        if e.name in HAND_WRITTEN_ENUMS:
            continue
        prefix = enum_prefix(e)
        out.append("")
        out.extend(doc_lines(schema.comment(fname, path), "") or [f"/// `{PACKAGE}.{e.name}`; raw values are the wire numbers."])
        out.append(f"public enum {e.name}: Int32, Sendable, Codable, CaseIterable, CustomStringConvertible {{")
        cases = []
        for i, v in enumerate(e.value):
            if v.number == 0 and e.name not in ENUMS_WITH_UNSPECIFIED:
                continue
            if not v.name.startswith(prefix):
                raise SystemExit(f"gen-swift: {e.name}.{v.name} does not start with {prefix}")
            bare = v.name[len(prefix):]
            case = camel(bare.lower())
            text = ENUM_DESCRIPTIONS.get(e.name, {}).get(v.name, bare)
            cases.append((case, text))
            out.extend(doc_lines(schema.comment(fname, list(path) + [2, i]), "    "))
            out.append(f"    case {case} = {v.number}")
        out.append("")
        out.append("    /// The value's name in the schema, without the enum's prefix.")
        out.append("    public var description: String {")
        out.append("        switch self {")
        for case, text in cases:
            out.append(f'        case .{case}: "{text}"')
        out.append("        }")
        out.append("    }")
        out.append("}")
    return out


def emit_core(schema, messages, sources):
    out = [header(sources)]
    out.append("// The Swift value types of the wire messages and enums; conversions live in TokenGateWire's")
    out.append("// Wire.generated.swift, domain rules in hand-written files (see WireRules.swift).")
    out.extend(emit_enums(schema))
    for msg in messages:
        if msg.name in CONVERSION_ONLY or msg.domain:
            continue
        out.extend(emit_type(msg, "public "))
    return "\n".join(out) + "\n"


def emit_type(msg, access):
    """The Swift value type of `msg`: `public` in the core, internal for a wire-shaped type."""
    out = [""]
    if msg.domain:
        out.append(f"/// The wire shape of `{PACKAGE}.{msg.name}`; callers use `{msg.domain}` (DomainMapping.swift).")
    out.extend(doc_lines(msg.comment, "") or ([] if msg.domain else [f"/// `{PACKAGE}.{msg.name}`."]))
    if msg.oneof:
        out.append(f"{access}enum {msg.swift}: Sendable, Equatable {{")
        for f in msg.fields:
            out.extend(doc_lines(f.comment, "    "))
            out.append(f"    case {f.swift}({f.scalar_type})")
        out.append("}")
        return out
    conformances = ["Sendable", "Equatable"] + msg.options.get("extra_conformances", [])
    out.append(f"{access}struct {msg.swift}: {', '.join(conformances)} {{")
    for f in msg.fields:
        out.extend(doc_lines(f.comment, "    "))
        out.append(f"    {access}var {f.swift}: {f.swift_type}")
    params = []
    for f in msg.fields:
        d = f.default()
        params.append(f"{f.swift}: {f.swift_type}" + (f" = {d}" if d is not None else ""))
    if params:
        out.append("")
        out.append("    /// A message with every field given; omitted fields take their proto3 default.")
        out.append(f"    {access}init({', '.join(params)}) {{")
        for f in msg.fields:
            out.append(f"        self.{f.swift} = {f.swift}")
        out.append("    }")
    else:
        out.append("    /// The message (it has no fields).")
        out.append(f"    {access}init() {{}}")
    out.append("}")
    return out


def decode_expr(f):
    n = f.name
    k = f.kind
    if f.repeated:
        if k == FD.TYPE_STRING:
            return f'try copyStrings(count: c.n_{n}, c.{n}, field: "{n}")'
        if k == FD.TYPE_MESSAGE:
            return f'try copyMessages(count: c.n_{n}, c.{n}, field: "{n}")'
        raise SystemExit(f"gen-swift: repeated {n} of type {k} is not supported yet")
    if k == FD.TYPE_STRING:
        return f'try copyString(c.{n}, field: "{n}")'
    if k == FD.TYPE_BYTES:
        return f"copyBytes(c.{n})"
    if k == FD.TYPE_BOOL:
        return f"c.{n} != 0"
    if k in (FD.TYPE_UINT64, FD.TYPE_UINT32, FD.TYPE_INT32, FD.TYPE_INT64):
        return f"c.{n}"
    if k == FD.TYPE_ENUM and f.type_name in HAND_WRITTEN_ENUMS:
        return f'try copy{f.type_name}(c.{n}, field: "{n}")'
    if k == FD.TYPE_ENUM:
        return f'try copyEnum(c.{n}, as: {f.type_name}.self, field: "{n}")'
    if k == FD.TYPE_MESSAGE:
        if f.absent:
            return f'try copyMessage(c.{n}, field: "{n}") ?? {f.absent}'
        if f.optional:
            return f'try copyMessage(c.{n}, field: "{n}")'
        if f.required:
            return f'try copyRequiredMessage(c.{n}, field: "{n}")'
        return f'try copyMessage(c.{n}, field: "{n}") ?? {f.scalar_type}()'
    raise SystemExit(f"gen-swift: field {n}: type {k}")


def encode_lines(f):
    n, s, k = f.name, f.swift, f.kind
    if f.repeated:
        if k == FD.TYPE_STRING:
            return [f"(c.n_{n}, c.{n}) = arena.cStrings({s})"]
        return [f"(c.n_{n}, c.{n}) = arena.messages({s})"]
    if k == FD.TYPE_STRING:
        return [f"c.{n} = arena.cString({s})"]
    if k == FD.TYPE_BYTES:
        return [f"c.{n} = arena.binary({s})"]
    if k == FD.TYPE_BOOL:
        return [f"c.{n} = cBool({s})"]
    if k in (FD.TYPE_UINT64, FD.TYPE_UINT32, FD.TYPE_INT32, FD.TYPE_INT64):
        return [f"c.{n} = {s}"]
    if k == FD.TYPE_ENUM and f.type_name in HAND_WRITTEN_ENUMS:
        return [f"c.{n} = c{f.type_name}({s})"]
    if k == FD.TYPE_ENUM:
        return [f"c.{n} = cEnum({s})"]
    if k == FD.TYPE_MESSAGE:
        if f.optional:
            return [f"if let {s} {{ c.{n} = arena.message({s}) }}"]
        return [f"c.{n} = arena.message({s})"]
    raise SystemExit(f"gen-swift: field {n}: type {k}")


def emit_oneof_conversions(out, msg, ct):
    def case_constant(f):
        return f"TOKENGATE__V1__{snake_of(msg.name).upper()}__{msg.oneof.upper()}_{f.name.upper()}"

    out.append(f"    init(copying c: {ct}) throws(FieldError) {{")
    out.append(f"        switch c.{msg.oneof}_case {{")
    for f in msg.fields:
        out.append(f"        case {case_constant(f)}:")
        out.append(f'            self = .{f.swift}(try copyRequiredMessage(c.{f.name}, field: "{f.name}"))')
    out.append("        default:")
    out.append("            // Empty, or a member this build does not know: accepting it would drop it.")
    out.append(f'            throw FieldError(field: "{msg.oneof}", problem: .missing)')
    out.append("        }")
    out.append("    }")
    out.append("")
    out.append(f"    func cMessage(in arena: inout CArena) -> {ct} {{")
    out.append("        var c = Self.cEmpty()")
    out.append("        switch self {")
    for f in msg.fields:
        out.append(f"        case .{f.swift}(let value):")
        out.append(f"            c.{msg.oneof}_case = {case_constant(f)}")
        out.append(f"            c.{f.name} = arena.message(value)")
    out.append("        }")
    out.append("        return c")
    out.append("    }")


def emit_domain_bridge(out, msg, ct, carried):
    """A domain-shaped message's public type converts through its wire-shaped type."""
    if not msg.domain:
        return
    wire = msg.name in carried
    out.append("")
    protocols = (["WireMessage"] if wire else []) + ["CMessageEncodable"]
    out.append(f"extension {msg.domain}: {', '.join(protocols)} {{")
    access = "public " if wire else ""
    out.append(f"    /// `{PACKAGE}.{msg.name}`.")
    out.append(f'    {access}static let protoName = "{PACKAGE}.{msg.name}"')
    if wire:
        out.append("    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.")
        out.append("    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {")
        out.append(f'        try WireCodec.decode(bytes, fieldPrefix: "{field_prefix(msg.name)}")')
        out.append("    }")
        out.append("    /// The protobuf bytes of this message.")
        out.append("    public func encoded() -> [UInt8] { ProtobufC.pack(self) }")
    out.append("")
    out.append(f"    static func cEmpty() -> {ct} {{ {msg.swift}.cEmpty() }}")
    out.append("")
    out.append(f"    init(copying c: {ct}) throws(FieldError) {{")
    out.append(f"        try self.init(wire: {msg.swift}(copying: c))")
    out.append("    }")
    out.append("")
    out.append(f"    func cMessage(in arena: inout CArena) -> {ct} {{")
    out.append(f"        {msg.swift}(self).cMessage(in: &arena)")
    out.append("    }")
    out.append("}")


def emit_wire(schema, messages, sources):
    carried = schema.carried_by_methods() | {"Alert"}
    out = [header(sources)]
    out.append("// protobuf-c conversions of the generated message types. Buffer ownership as in")
    out.append("// ProtobufC.swift: `init(copying:)` reads protobuf-c's unpacked tree only while")
    out.append("// `ProtobufC.unpack` runs and copies everything out; `cMessage(in:)` returns a struct whose")
    out.append("// pointers belong to the caller's `CArena` and live until `ProtobufC.pack` returns.")
    out.append("")
    out.append("import CProtobufC")
    out.append("import TokenGateCore")
    out.append("import TokenGateProtoC")
    for msg in messages:
        wire = msg.name in carried and not msg.domain
        if msg.domain:
            out.extend(emit_type(msg, ""))
        out.append("")
        protocols = (["WireMessage"] if wire else []) + ["CMessageEncodable"]
        out.append(f"extension {msg.swift}: {', '.join(protocols)} {{")
        access = "public " if wire else ""
        out.append(f"    /// `{PACKAGE}.{msg.name}`.")
        out.append(f'    {access}static let protoName = "{PACKAGE}.{msg.name}"')
        if wire and msg.options.get("hot_decode"):
            out.append("    // `decode` is a hand-written fast path: HotMessages+Wire.swift.")
        elif wire:
            out.append("    /// Decodes and validates protobuf bytes; see `WireMessage.decode(_:)`.")
            out.append("    public static func decode(_ bytes: [UInt8]) throws(TokenGateError) -> Self {")
            out.append(f'        try WireCodec.decode(bytes, fieldPrefix: "{field_prefix(msg.name)}")')
            out.append("    }")
        if wire and msg.options.get("hot_encode"):
            out.append("    // `encoded()` is a hand-written fast path: HotMessages+Wire.swift.")
        elif wire:
            if not msg.options.get("encoded"):
                out.append("    /// The protobuf bytes of this message.")
                out.append("    public func encoded() -> [UInt8] { ProtobufC.pack(self) }")
        ct = c_type(msg.name)
        out.append("")
        out.append(f"    static func cEmpty() -> {ct} {{")
        out.append(f"        var c = {ct}()")
        out.append(f"        {c_init(msg.name)}(&c)")
        out.append("        return c")
        out.append("    }")
        out.append("")
        if msg.oneof:
            emit_oneof_conversions(out, msg, ct)
            out.append("}")
            emit_domain_bridge(out, msg, ct, carried)
            continue
        out.append(f"    init(copying c: {ct}) throws(FieldError) {{")
        if msg.fields:
            out.append("        self.init(")
            args = [f"            {f.swift}: {decode_expr(f)}" for f in msg.fields]
            out.append(",\n".join(args) + ")")
        else:
            out.append("        self.init()")
        if msg.options.get("rules"):
            out.append("        try checkRules()")
        out.append("    }")
        out.append("")
        if msg.fields:
            out.append(f"    func cMessage(in arena: inout CArena) -> {ct} {{")
            out.append("        var c = Self.cEmpty()")
            for f in msg.fields:
                out.extend("        " + line for line in encode_lines(f))
            out.append("        return c")
            out.append("    }")
        else:
            out.append(f"    func cMessage(in arena: inout CArena) -> {ct} {{ Self.cEmpty() }}")
        out.append("}")
        emit_domain_bridge(out, msg, ct, carried)

    # Enums whose Swift side is hand-written (string raw values): their conversions by case name;
    # the switch is exhaustive, so a case added on either side without the other fails to build.
    for fname, e, path in schema.enum_list:
        if e.name not in HAND_WRITTEN_ENUMS:
            continue
        prefix = enum_prefix(e)
        cases = [(camel(v.name[len(prefix):].lower()), c_enum_constant(e, v)) for v in e.value if v.number != 0]
        cenum = c_type(e.name)
        out.append("")
        out.append(f"/// `{e.name}`'s wire number (its Swift enum is hand-written, with string raw values).")
        out.append(f"func c{e.name}(_ value: {e.name}) -> {cenum} {{")
        out.append("    switch value {")
        for case, const in cases:
            out.append(f"    case .{case}: {const}")
        out.append("    }")
        out.append("}")
        out.append("")
        out.append(f"/// `{e.name}` of a wire number; 0 (unspecified) and unknown numbers are refused.")
        out.append(f"func copy{e.name}(_ value: {cenum}, field: String) throws(FieldError) -> {e.name} {{")
        out.append("    switch value {")
        for case, const in cases:
            out.append(f"    case {const}: return .{case}")
        out.append("    default:")
        out.append(
            f'        throw FieldError(field: field, problem: .unknownEnum(enumName: "{PACKAGE}.{e.name}", value: Int32(bitPattern: value.rawValue)))'
        )
        out.append("    }")
        out.append("}")

    # The registry the round-trip test walks: every message of the schema with the Swift type
    # that converts it (generated or hand-written).
    out.append("")
    out.append("/// Every message of the schema and the Swift type that converts it through protobuf-c; nil for")
    out.append("/// the envelopes, which have their own codec (EnvelopeCodec). The round-trip test walks it.")
    out.append("enum GeneratedMessages {")
    out.append("    /// Every message; a domain-shaped one by its wire-shaped type.")
    out.append("    static var all: [(protoName: String, type: (any CMessageEncodable.Type)?)] {")
    out.append("        [")
    for fname, m, _ in schema.messages:
        if m.name in HAND_WRITTEN and HAND_WRITTEN[m.name] is None:
            out.append(f'            ("{PACKAGE}.{m.name}", nil),')
        else:
            out.append(f'            ("{PACKAGE}.{m.name}", {swift_name(m.name, wire_shape=True)}.self),')
    out.append("        ]")
    out.append("    }")
    out.append("")
    out.append("    /// The domain-shaped messages by their public domain type (the hand-written mapping's cover).")
    out.append("    static var domainShaped: [(protoName: String, type: any CMessageEncodable.Type)] {")
    out.append("        [")
    for fname, m, _ in schema.messages:
        if m.name in DOMAIN_SHAPED:
            out.append(f'            ("{PACKAGE}.{m.name}", {DOMAIN_SHAPED[m.name]}.self),')
    out.append("        ]")
    out.append("    }")
    out.append("}")
    return "\n".join(out) + "\n"


def emit_methods(schema, sources):
    out = [header(sources)]
    out.append("// The method paths of the service, spelled in gRPC form as they travel in")
    out.append("// `RequestEnvelope.method`; the groups (`MethodPath.all`, ...) are in Methods.swift.")
    out.append("")
    out.append("extension MethodPath {")
    names = []
    for service, m, comment in schema.methods:
        const = METHOD_NAMES.get(m.name, m.name[:1].lower() + m.name[1:])
        names.append(const)
        stream = " (server-streaming)" if m.server_streaming else ""
        out.append(f"    /// `{m.name}`{stream}: `{short(m.input_type)}` -> `{short(m.output_type)}`.")
        out.extend(doc_lines(comment, "    "))
        out.append(f'    public static let {const} = "/{PACKAGE}.{service}/{m.name}"')
    out.append("")
    out.append("    /// Every method of the service, in schema order.")
    out.append("    public static let schemaOrder = [")
    out.append("        " + ", ".join(names) + ",")
    out.append("    ]")
    out.append("}")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen-swift.py DESCRIPTOR_SET OUT_ROOT")
    descriptor_set = descriptor_pb2.FileDescriptorSet()
    with open(sys.argv[1], "rb") as f:
        descriptor_set.ParseFromString(f.read())
    schema = Schema(descriptor_set)
    root = sys.argv[2]
    messages = [Message(schema, fname, m, path) for fname, m, path in schema.messages if m.name not in HAND_WRITTEN]
    sources = "proto/tokengate/v1/tokengate.proto, storage.proto"
    files = {
        "Sources/TokenGateCore/Generated/Messages.generated.swift": emit_core(schema, messages, sources),
        "Sources/TokenGateWire/Generated/Wire.generated.swift": emit_wire(schema, messages, sources),
        "Sources/TokenGateWire/Generated/Methods.generated.swift": emit_methods(schema, "proto/tokengate/v1/tokengate.proto"),
    }
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
