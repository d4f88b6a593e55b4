"""A blocking client for tokengated over its Unix socket.

Each frame is a 4-byte big-endian length and a protobuf envelope (``RequestFrame`` /
``ResponseFrame`` from proto/tokengate/v1/tokengate.proto) carrying a call id, the method path,
a relative deadline in milliseconds and the request bytes. Messages are encoded and decoded by
the official protobuf runtime from code generated with ``gen.sh``; this module adds framing,
call ids, deadlines and gRPC-numbered errors.
"""

from __future__ import annotations

import enum
import math
import os
import socket
import struct
import threading
import time
import uuid
from typing import List, Optional, Sequence, Tuple, Type, TypeVar, Union

from google.protobuf.message import DecodeError, Message

from tokengate.v1 import tokengate_pb2 as pb

__all__ = ["Client", "StatusCode", "TokenGateError", "default_socket_path", "METHOD"]

#: Largest response frame this client buffers (reports and exports can be large).
RESPONSE_FRAME_BYTES_MAX = 16 << 20
#: Bytes asked of the socket per read.
READ_CHUNK_BYTES = 64 << 10
#: Deadline of a call that names none, in seconds.
DEFAULT_TIMEOUT_SECONDS = 5.0

_SERVICE = "/tokengate.v1.BudgetService/"

#: Method paths of the calls this client makes, by RPC name.
METHOD = {
    name: _SERVICE + name
    for name in ("CanMakeRequest", "ReleaseReservation", "ApplyOptimization", "LogUsage", "GenerateBilling", "Health")
}

_Response = TypeVar("_Response", bound=Message)


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

    Budget denials are not errors: they are ``decision = DECISION_DENY`` answers.
    """

    def __init__(self, code: Union[StatusCode, int], message: str) -> None:
        try:
            self.code = StatusCode(code)
        except ValueError:
            self.code = StatusCode.UNKNOWN
        self.message = message
        super().__init__(f"{self.code.name}: {message}")


def default_socket_path() -> str:
    """``$TOKENGATE_SOCKET``, else ``/tmp/tokengate.sock`` (as the Swift client and the CLI)."""
    return os.environ.get("TOKENGATE_SOCKET") or "/tmp/tokengate.sock"


class Client:
    """A blocking client of tokengated. Thread-safe: calls are serialised on one connection.

    A lost connection fails the call with UNAVAILABLE and the next call reconnects. A call not
    answered within its timeout fails with DEADLINE_EXCEEDED (the deadline is also sent to the
    daemon, which drops calls that waited too long). ``call_many`` pipelines several calls in
    one write.

    >>> with Client("/tmp/tokengate.sock") as gate:
    ...     verdict = gate.can_make_request(shop_id="shop_1", estimated_input_tokens=2000, max_output_tokens=500)
    ...     if verdict.decision == pb.DECISION_ALLOW:
    ...         gate.log_usage(shop_id="shop_1", input_tokens=2062, output_tokens=201)
    """

    def __init__(self, socket_path: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self._sock: Optional[socket.socket] = None
        self._buffer = bytearray()
        self._next_call_id = 1
        self._lock = threading.Lock()

    def close(self) -> None:
        """Closes the connection; a later call reconnects."""
        with self._lock:
            self._disconnect()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- The RPCs ---------------------------------------------------------------------------

    def can_make_request(self, request: Optional[pb.CanMakeRequestRequest] = None, *, timeout: Optional[float] = None,
                         **fields: object) -> pb.CanMakeRequestResponse:
        """The gate: may the shop make this call? With ``reserve=True``, holds its worst-case cost.

        Raises INVALID_ARGUMENT, NOT_FOUND (model without a price), UNAVAILABLE, DEADLINE_EXCEEDED.
        ``operation_type`` defaults to ``chat_message`` and ``model`` to ``gemini-2.5-flash``.
        """
        message = _build(pb.CanMakeRequestRequest, request, fields)
        _default_operation_and_model(message)
        return self.call("CanMakeRequest", message, pb.CanMakeRequestResponse, timeout=timeout)

    def release_reservation(self, request: Optional[pb.ReleaseReservationRequest] = None, *,
                            timeout: Optional[float] = None, **fields: object) -> pb.ReleaseReservationResponse:
        """Cancels a hold. Raises NOT_FOUND, FAILED_PRECONDITION (already settled or released)."""
        return self.call("ReleaseReservation", _build(pb.ReleaseReservationRequest, request, fields),
                         pb.ReleaseReservationResponse, timeout=timeout)

    def apply_optimization(self, request: Optional[pb.ApplyOptimizationRequest] = None, *,
                           timeout: Optional[float] = None, **fields: object) -> pb.ApplyOptimizationResponse:
        """A cheaper model, shorter history or fewer output tokens when the shop nears its budget."""
        message = _build(pb.ApplyOptimizationRequest, request, fields)
        _default_operation_and_model(message)
        return self.call("ApplyOptimization", message, pb.ApplyOptimizationResponse, timeout=timeout)

    def log_usage(self, request: Optional[pb.LogUsageRequest] = None, *, timeout: Optional[float] = None,
                  **fields: object) -> pb.LogUsageResponse:
        """Records what a call used; acknowledged once durable.

        An empty ``event_id`` is replaced by a fresh one (``tgp-`` and a UUID) before sending,
        so the same message can be sent again after UNAVAILABLE or DEADLINE_EXCEEDED without
        being counted twice: the daemon answers a repeated id with ``duplicate = True``.
        Raises INVALID_ARGUMENT, FAILED_PRECONDITION (a billed month), UNAVAILABLE, DEADLINE_EXCEEDED.
        """
        message = _build(pb.LogUsageRequest, request, fields)
        if not message.event_id:
            message.event_id = "tgp-" + str(uuid.uuid4())
        _default_operation_and_model(message)
        return self.call("LogUsage", message, pb.LogUsageResponse, timeout=timeout)

    def generate_billing(self, request: Optional[pb.GenerateBillingRequest] = None, *,
                         timeout: Optional[float] = None, **fields: object) -> pb.GenerateBillingResponse:
        """The month's bill: stored once per (shop, period), or a preview of an open month.

        Raises INVALID_ARGUMENT (period), FAILED_PRECONDITION (month not ended and no preview).
        """
        return self.call("GenerateBilling", _build(pb.GenerateBillingRequest, request, fields),
                         pb.GenerateBillingResponse, timeout=timeout)

    def health(self, *, timeout: Optional[float] = None) -> pb.HealthCheckResponse:
        """SERVING once the daemon has recovered its data; NOT_SERVING before and while draining."""
        return self.call("Health", pb.HealthCheckRequest(), pb.HealthCheckResponse, timeout=timeout)

    # -- Generic calls ----------------------------------------------------------------------

    def call(self, method: str, request: Message, response_type: Type[_Response],
             timeout: Optional[float] = None) -> _Response:
        """Calls one method (an RPC name such as ``"Health"`` or a full path) and decodes its answer."""
        result = self.call_many([(method, request, response_type)], timeout=timeout)[0]
        if isinstance(result, TokenGateError):
            raise result
        return result

    def call_many(self, calls: Sequence[Tuple[str, Message, Type[Message]]],
                  timeout: Optional[float] = None) -> List[Union[Message, TokenGateError]]:
        """Pipelines several calls: one write carries every request, answers are matched by call id.

        Returns, in the order of ``calls``, each decoded response or the ``TokenGateError`` its
        call ended with. A failure of the connection itself (UNAVAILABLE, DEADLINE_EXCEEDED) is
        raised, since it leaves every call of the batch unanswered.
        """
        timeout = self.timeout if timeout is None else timeout
        deadline_ms = max(1, math.ceil(timeout * 1000)) if timeout and timeout > 0 else 0
        with self._lock:
            frames = bytearray()
            ids = []
            for method, request, _ in calls:
                call_id = self._next_call_id
                self._next_call_id += 1
                ids.append(call_id)
                envelope = pb.RequestFrame(call_id=call_id, method=_path(method), deadline_ms=deadline_ms,
                                           payload=request.SerializeToString())
                body = envelope.SerializeToString()
                frames += struct.pack(">I", len(body)) + body
            answers = self._exchange(bytes(frames), set(ids), deadline_ms)
        return [_decode(answers[call_id], response_type) for call_id, (_, _, response_type) in zip(ids, calls)]

    # -- Connection -------------------------------------------------------------------------

    def _exchange(self, frames: bytes, pending: set, deadline_ms: int) -> dict:
        """Sends the frames and reads until every call id in ``pending`` is answered."""
        give_up_at = time.monotonic() + deadline_ms / 1000 if deadline_ms else None
        try:
            sock = self._connect(deadline_ms)
            sock.sendall(frames)
            answers = {}
            while pending:
                response = self._read_frame(sock, give_up_at)
                if response.call_id == 0 and response.status_code != 0:
                    raise TokenGateError(response.status_code, response.status_message)
                if response.call_id in pending:
                    pending.discard(response.call_id)
                    answers[response.call_id] = response
            return answers
        except socket.timeout:
            self._disconnect()
            raise TokenGateError(StatusCode.DEADLINE_EXCEEDED, f"no answer within {deadline_ms} ms") from None
        except TokenGateError:
            self._disconnect()
            raise
        except OSError as error:
            self._disconnect()
            raise TokenGateError(StatusCode.UNAVAILABLE,
                                 f"connection to tokengated at {self.socket_path} failed: {error}") from None

    def _connect(self, deadline_ms: int) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(deadline_ms / 1000 if deadline_ms else None)
                sock.connect(self.socket_path)
            except OSError as error:
                sock.close()
                raise TokenGateError(StatusCode.UNAVAILABLE,
                                     f"cannot connect to tokengated at {self.socket_path}: {error} "
                                     "(is the daemon running?)") from None
            self._sock = sock
            self._buffer.clear()
        return self._sock

    def _read_frame(self, sock: socket.socket, give_up_at: Optional[float]) -> pb.ResponseFrame:
        while True:
            if len(self._buffer) >= 4:
                (length,) = struct.unpack(">I", self._buffer[:4])
                if length > RESPONSE_FRAME_BYTES_MAX:
                    raise TokenGateError(StatusCode.RESOURCE_EXHAUSTED,
                                         f"response frame of {length} bytes is over {RESPONSE_FRAME_BYTES_MAX}")
                if len(self._buffer) >= 4 + length:
                    body = bytes(self._buffer[4:4 + length])
                    del self._buffer[:4 + length]
                    try:
                        return pb.ResponseFrame.FromString(body)
                    except DecodeError:
                        raise TokenGateError(StatusCode.INTERNAL,
                                             f"tokengated sent a frame that is not a ResponseFrame ({length} bytes)") from None
            if give_up_at is not None:
                sock.settimeout(max(give_up_at - time.monotonic(), 0.000001))
            else:
                sock.settimeout(None)
            chunk = sock.recv(READ_CHUNK_BYTES)
            if not chunk:
                raise TokenGateError(StatusCode.UNAVAILABLE, "tokengated closed the connection")
            self._buffer += chunk

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer.clear()


def _path(method: str) -> str:
    return method if method.startswith("/") else _SERVICE + method


def _build(message_type: Type[_Response], request: Optional[_Response], fields: dict) -> _Response:
    if request is not None and fields:
        raise TypeError("pass either a request message or keyword fields, not both")
    if request is not None:
        copy = message_type()
        copy.CopyFrom(request)
        return copy
    return message_type(**fields)


def _default_operation_and_model(message: Message) -> None:
    """The Swift client's defaults, so both clients send the same request for the same call."""
    if not message.operation_type:
        message.operation_type = "chat_message"
    if not message.model:
        message.model = "gemini-2.5-flash"


def _decode(response: pb.ResponseFrame, response_type: Type[Message]) -> Union[Message, TokenGateError]:
    if response.status_code != 0:
        return TokenGateError(response.status_code, response.status_message)
    try:
        return response_type.FromString(response.payload)
    except DecodeError:
        return TokenGateError(StatusCode.INTERNAL, f"answer is not a {response_type.DESCRIPTOR.full_name}")
