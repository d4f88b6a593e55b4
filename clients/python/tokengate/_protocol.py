"""What the blocking and the asyncio client share: status codes and errors, the method table
derived from the service descriptor, framing, the gate policy and the default socket path.

Each frame is a 4-byte big-endian length and a protobuf envelope (``RequestFrame`` /
``ResponseFrame`` of proto/tokengate/v1/tokengate.proto) carrying a call id, the method path,
a relative deadline in milliseconds and the message bytes. No I/O happens here.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import re
import struct
import uuid
from typing import Dict, List, Optional, Type, Union

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError, Message

from tokengate.v1 import tokengate_pb2 as pb

#: Largest response frame a client buffers (reports and exports can be large).
RESPONSE_FRAME_BYTES_MAX = 16 << 20
#: Bytes asked of the socket per read: one read carries many pipelined answers.
READ_CHUNK_BYTES = 64 << 10
#: Deadline of a call that names none, in seconds.
DEFAULT_TIMEOUT_SECONDS = 5.0
#: How long ``can_make_request`` waits before its unreachable-daemon policy decides, in seconds.
GATE_POLICY_TIMEOUT_SECONDS = 0.25

SERVICE_NAME = "tokengate.v1.BudgetService"


class StatusCode(enum.IntEnum):
    """gRPC canonical status codes; the values are the wire numbers."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class TokenGateError(Exception):
    """A failed call: a gRPC status code and a message a person can act on.

    Budget denials are not errors: they are ``decision == DECISION_DENY`` answers.
    """

    def __init__(self, code: Union[StatusCode, int], message: str) -> None:
        try:
            self.code = StatusCode(code)
        except ValueError:
            self.code = StatusCode.UNKNOWN
        self.message = message
        super().__init__(f"{self.code.name}: {message}")

    @property
    def means_unreachable(self) -> bool:
        """The daemon could not answer (down, starting, draining, too slow): a retry may work."""
        return self.code in (StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED)


@dataclasses.dataclass(frozen=True)
class RpcMethod:
    """One RPC of the service, read from the generated descriptor."""

    name: str            #: e.g. ``CanMakeRequest``
    attribute: str       #: the client method, e.g. ``can_make_request``
    path: str            #: e.g. ``/tokengate.v1.BudgetService/CanMakeRequest``
    request_type: Type[Message]
    response_type: Type[Message]
    server_streaming: bool


def snake_case(name: str) -> str:
    """``CanMakeRequest`` → ``can_make_request``, ``ExportUsageCsv`` → ``export_usage_csv``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _methods() -> Dict[str, RpcMethod]:
    service = pb.DESCRIPTOR.services_by_name["BudgetService"]
    table = {}
    for method in service.methods:
        proto = descriptor_pb2.MethodDescriptorProto()
        method.CopyToProto(proto)  # server_streaming is an attribute only in newer runtimes
        table[method.name] = RpcMethod(
            name=method.name, attribute=snake_case(method.name), path=f"/{SERVICE_NAME}/{method.name}",
            request_type=getattr(pb, method.input_type.name), response_type=getattr(pb, method.output_type.name),
            server_streaming=proto.server_streaming)
    return table


#: Every RPC of the service by name, in the order of the .proto (so new RPCs appear by themselves).
METHODS: Dict[str, RpcMethod] = _methods()
#: Method paths by RPC name (kept for callers of the first Python client).
METHOD: Dict[str, str] = {name: method.path for name, method in METHODS.items()}


@dataclasses.dataclass(frozen=True)
class GatePolicy:
    """What ``can_make_request`` answers when tokengated cannot (DESIGN §7).

    ``GatePolicy.fail_open()`` answers ALLOW, ``GatePolicy.fail_closed()`` DENY, each within
    ``timeout`` seconds, with ``reason = DECISION_REASON_UNSPECIFIED`` and a message saying so;
    the client counts every such answer (``ClientMetrics.fail_open_total`` / ``fail_closed_total``).
    """

    allow: bool
    timeout: float = GATE_POLICY_TIMEOUT_SECONDS

    @staticmethod
    def fail_open(timeout: float = GATE_POLICY_TIMEOUT_SECONDS) -> "GatePolicy":
        return GatePolicy(allow=True, timeout=timeout)

    @staticmethod
    def fail_closed(timeout: float = GATE_POLICY_TIMEOUT_SECONDS) -> "GatePolicy":
        return GatePolicy(allow=False, timeout=timeout)


@dataclasses.dataclass
class ClientMetrics:
    """The client's own counters (also what it can report with ``report_client_metrics``)."""

    fail_open_total: int = 0
    fail_closed_total: int = 0
    spooled_total: int = 0
    resent_total: int = 0
    resent_duplicate_total: int = 0
    spool_rejected_total: int = 0
    spool_depth: int = 0
    connections_made: int = 0


@dataclasses.dataclass(frozen=True)
class LogUsageOutcome:
    """What ``log_usage_or_spool`` did: ``response`` when the daemon recorded the event, else
    the event is in the spool (``spooled``) and ``cause`` says why it could not be sent."""

    event_id: str
    response: Optional[pb.LogUsageResponse] = None
    spool_depth: int = 0
    cause: Optional[TokenGateError] = None

    @property
    def spooled(self) -> bool:
        return self.response is None


def default_socket_path() -> str:
    """The daemon's default socket (DESIGN §5): ``$TOKENGATE_SOCKET``, else
    ``/run/tokengate/tokengate.sock`` for root, else ``$XDG_RUNTIME_DIR/tokengate/tokengate.sock``
    (``/run/user/UID`` when ``XDG_RUNTIME_DIR`` is unset, which is where systemd puts it)."""
    explicit = os.environ.get("TOKENGATE_SOCKET")
    if explicit:
        return explicit
    if os.geteuid() == 0:
        return "/run/tokengate/tokengate.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return os.path.join(runtime, "tokengate", "tokengate.sock")


def make_event_id() -> str:
    """A fresh event id: ``tgc-`` and a random UUID, as the Swift client makes them."""
    return "tgc-" + str(uuid.uuid4())


def deadline_ms(timeout: Optional[float]) -> int:
    """The envelope's relative deadline for a timeout in seconds (0 = none)."""
    return max(1, math.ceil(timeout * 1000)) if timeout and timeout > 0 else 0


def encode_request(call_id: int, method: RpcMethod, request: Message, timeout: Optional[float]) -> bytes:
    body = pb.RequestFrame(call_id=call_id, method=method.path, deadline_ms=deadline_ms(timeout),
                           payload=request.SerializeToString()).SerializeToString()
    return struct.pack(">I", len(body)) + body


def take_frames(buffer: bytearray) -> List[pb.ResponseFrame]:
    """Removes every whole frame from the front of ``buffer`` and decodes it.

    Raises RESOURCE_EXHAUSTED for a frame over ``RESPONSE_FRAME_BYTES_MAX`` (before buffering
    it) and INTERNAL for bytes that are not a ResponseFrame: the connection is then unusable.
    """
    frames = []
    offset = 0
    while len(buffer) - offset >= 4:
        (length,) = struct.unpack_from(">I", buffer, offset)
        if length > RESPONSE_FRAME_BYTES_MAX:
            raise TokenGateError(StatusCode.RESOURCE_EXHAUSTED,
                                 f"response frame of {length} bytes is over {RESPONSE_FRAME_BYTES_MAX}")
        if len(buffer) - offset - 4 < length:
            break
        body = bytes(buffer[offset + 4:offset + 4 + length])
        offset += 4 + length
        try:
            frames.append(pb.ResponseFrame.FromString(body))
        except DecodeError:
            raise TokenGateError(StatusCode.INTERNAL,
                                 f"tokengated sent a frame that is not a ResponseFrame ({length} bytes)") from None
    del buffer[:offset]
    return frames


def decode_response(frame: pb.ResponseFrame, response_type: Type[Message]) -> Message:
    """The frame's message, or raises its status as a TokenGateError."""
    if frame.status_code != 0:
        raise TokenGateError(frame.status_code, frame.status_message)
    try:
        return response_type.FromString(frame.payload)
    except DecodeError:
        raise TokenGateError(StatusCode.INTERNAL, f"answer is not a {response_type.DESCRIPTOR.full_name}") from None


def build_request(method: RpcMethod, request: Optional[Message], fields: dict) -> Message:
    """A fresh request message from either a message (copied, never changed) or keyword fields,
    with the Swift client's defaults and, for LogUsage, an event id."""
    if request is not None and fields:
        raise TypeError("pass either a request message or keyword fields, not both")
    if request is not None and not isinstance(request, method.request_type):
        raise TypeError(f"{method.attribute} takes a {method.request_type.__name__}, not {type(request).__name__}")
    message = method.request_type()
    if request is not None:
        message.CopyFrom(request)
    else:
        try:
            message = method.request_type(**fields)
        except (ValueError, TypeError) as error:
            raise TypeError(f"{method.attribute}: {error}") from None
    if method.name in ("CanMakeRequest", "ApplyOptimization", "LogUsage"):
        # The Swift client's defaults, so both clients send the same request for the same call.
        if not message.operation_type:
            message.operation_type = "chat_message"
        if not message.model:
            message.model = "gemini-2.5-flash"
    if method.name == "LogUsage" and not message.event_id:
        message.event_id = make_event_id()
    return message


def with_event_id(method: RpcMethod, request: Message) -> Message:
    """A LogUsage request without an event id gets one (on a copy): every LogUsage this client
    sends carries an id, so a retry is never counted twice, also through ``call``/``call_many``."""
    if method.name != "LogUsage" or not isinstance(request, pb.LogUsageRequest) or request.event_id:
        return request
    named = pb.LogUsageRequest()
    named.CopyFrom(request)
    named.event_id = make_event_id()
    return named


def policy_answer(policy: GatePolicy, request: pb.CanMakeRequestRequest, cause: TokenGateError) -> pb.CanMakeRequestResponse:
    """The policy's decision when the daemon could not answer."""
    verb = "allowed by the fail-open" if policy.allow else "denied by the fail-closed"
    return pb.CanMakeRequestResponse(
        decision=pb.DECISION_ALLOW if policy.allow else pb.DECISION_DENY,
        reason=pb.DECISION_REASON_UNSPECIFIED,
        message=f"tokengated could not answer ({cause}); {verb} policy",
        request_id=request.request_id)
