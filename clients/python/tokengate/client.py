"""The blocking client of tokengated.

One connection carries every call: callers on any number of threads write their request frames
(each with a call id of its own) and wait; one reader thread per connection reads the answers
in whatever order they come and hands each to the caller waiting for its call id. A method per
RPC of the service is attached to ``Client`` from the service descriptor (see ``_protocol``);
``client.pyi`` (written by gen.sh) gives them their types.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type, Union

from google.protobuf.message import Message

from tokengate import _protocol
from tokengate._protocol import (DEFAULT_TIMEOUT_SECONDS, METHOD, METHODS, READ_CHUNK_BYTES, ClientMetrics, GatePolicy,
                                 LogUsageOutcome, RpcMethod, StatusCode, TokenGateError, default_socket_path)
from tokengate._spool import UsageSpool
from tokengate.v1 import tokengate_pb2 as pb

__all__ = ["Client", "GatePolicy", "ClientMetrics", "LogUsageOutcome", "StatusCode", "TokenGateError",
           "default_socket_path", "METHOD", "METHODS"]

#: Spooled events re-sent at once (pipelined on one connection) by the drainer.
DRAIN_BATCH_MAX = 64
#: Deadline of a re-send: a hung daemon must not stall the drainer.
RESEND_TIMEOUT_SECONDS = 5.0


class _Pending:
    """One call waiting for its answer (unary) or its answers (a stream)."""

    __slots__ = ("event", "frame", "error", "frames")

    def __init__(self, streaming: bool) -> None:
        self.event = threading.Event()
        self.frame: Optional[pb.ResponseFrame] = None
        self.error: Optional[TokenGateError] = None
        self.frames: Optional["queue.Queue[Union[pb.ResponseFrame, TokenGateError]]"] = queue.Queue() if streaming else None

    def deliver(self, frame: pb.ResponseFrame) -> bool:
        """Hands over one answer; True when the call is finished."""
        if self.frames is None:
            self.frame = frame
            self.event.set()
            return True
        self.frames.put(frame)
        return frame.end_of_stream or frame.status_code != 0

    def fail(self, error: TokenGateError) -> None:
        if self.frames is None:
            self.error = error
            self.event.set()
        else:
            self.frames.put(error)


class _Connection:
    """One Unix-socket connection and its reader thread."""

    def __init__(self, path: str, connect_timeout: Optional[float]) -> None:
        self.path = path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(connect_timeout)
            sock.connect(path)
            sock.settimeout(None)
        except OSError as error:
            sock.close()
            raise TokenGateError(StatusCode.UNAVAILABLE,
                                 f"cannot connect to tokengated at {path}: {error} (is the daemon running?)") from None
        self.sock = sock
        self.lock = threading.Lock()
        self.pending: Dict[int, _Pending] = {}
        self.failure: Optional[TokenGateError] = None
        threading.Thread(target=self._read_loop, name="tokengate-reader", daemon=True).start()

    @property
    def usable(self) -> bool:
        return self.failure is None

    def send(self, data: bytes, calls: Sequence[Tuple[int, _Pending]]) -> None:
        with self.lock:
            if self.failure is not None:
                raise self.failure
            for call_id, pending in calls:
                self.pending[call_id] = pending
            try:
                self.sock.sendall(data)
            except OSError as error:
                failure = TokenGateError(StatusCode.UNAVAILABLE, f"connection to tokengated at {self.path} failed: {error}")
                self._fail_locked(failure)
                raise failure from None

    def forget(self, call_id: int) -> None:
        with self.lock:
            self.pending.pop(call_id, None)

    def close(self) -> None:
        with self.lock:
            self._fail_locked(TokenGateError(StatusCode.CANCELLED, "the client was closed"))

    def _read_loop(self) -> None:
        buffer = bytearray()
        try:
            while True:
                chunk = self.sock.recv(READ_CHUNK_BYTES)
                if not chunk:
                    raise TokenGateError(StatusCode.UNAVAILABLE, f"tokengated at {self.path} closed the connection")
                buffer += chunk
                for frame in _protocol.take_frames(buffer):
                    if frame.call_id == 0 and frame.status_code != 0:
                        raise TokenGateError(frame.status_code, frame.status_message)
                    with self.lock:
                        pending = self.pending.get(frame.call_id)
                        if pending is not None and pending.deliver(frame):
                            del self.pending[frame.call_id]
        except TokenGateError as error:
            failure = error
        except OSError as error:
            failure = TokenGateError(StatusCode.UNAVAILABLE, f"connection to tokengated at {self.path} failed: {error}")
        with self.lock:
            self._fail_locked(failure)

    def _fail_locked(self, error: TokenGateError) -> None:
        if self.failure is None:
            self.failure = error
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
        for pending in self.pending.values():
            pending.fail(self.failure)
        self.pending.clear()


class Client:
    """A blocking, thread-safe client of tokengated; calls from many threads are pipelined on one
    connection. A lost connection fails the calls in flight with UNAVAILABLE and the next call
    reconnects. A call not answered within its timeout fails with DEADLINE_EXCEEDED (the deadline
    is also sent to the daemon, which drops calls that waited too long).

    - ``when_unreachable``: ``GatePolicy.fail_open()`` or ``GatePolicy.fail_closed()`` makes
      ``can_make_request`` answer by itself, within the policy's short timeout, when the daemon
      cannot (UNAVAILABLE or DEADLINE_EXCEEDED); ``None`` raises those errors.
    - ``spool_dir``: where ``log_usage_or_spool`` keeps events the daemon could not take (with
      fsync, so they survive a crash of this process); ``None`` keeps them in memory only.
      A background thread re-sends them with their event ids until the daemon acknowledges them.
    """

    def __init__(self, socket_path: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_SECONDS, *,
                 when_unreachable: Optional[GatePolicy] = None, spool_dir: Optional[str] = None,
                 spool_events_max: int = 10_000, spool_bytes_max: int = 16 << 20,
                 spool_retry_interval: float = 0.05, spool_retry_interval_max: float = 1.0,
                 on_spool_rejection: Optional[Callable[[pb.LogUsageRequest, TokenGateError], None]] = None) -> None:
        self.socket_path = socket_path or default_socket_path()
        self.timeout = timeout
        self.when_unreachable = when_unreachable
        self.on_spool_rejection = on_spool_rejection
        self._spool = UsageSpool(spool_events_max, spool_bytes_max, spool_dir)
        self._retry_interval = spool_retry_interval
        self._retry_interval_max = spool_retry_interval_max
        self._metrics = ClientMetrics()
        self._lock = threading.Lock()
        self._connection: Optional[_Connection] = None
        self._next_call_id = 1
        self._closed = False
        self._drainer: Optional[threading.Thread] = None
        self._wake = threading.Event()
        if self._spool.depth:
            self._start_drainer()

    # -- Lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stops the drainer, closes the connection and the spool (events still spooled stay in
        its file for the next client of that directory)."""
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        self._wake.set()
        drainer = self._drainer
        if drainer is not None and drainer is not threading.current_thread():
            drainer.join(timeout=RESEND_TIMEOUT_SECONDS)
        if connection is not None:
            connection.close()
        self._spool.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def metrics(self) -> ClientMetrics:
        """A copy of the client's counters."""
        with self._lock:
            copy = ClientMetrics(**vars(self._metrics))
        copy.spool_depth = self._spool.depth
        return copy

    def report_metrics(self, client_id: str, *, timeout: Optional[float] = None) -> pb.ReportClientMetricsResponse:
        """Sends this client's policy and spool counters to the daemon (ReportClientMetrics), which
        exposes them as ``tokengate_client_*{client="..."}``; call it every minute or so."""
        counters = self.metrics()
        return self.report_client_metrics(  # type: ignore[attr-defined, no-any-return]
            client_id=client_id, fail_open_total=counters.fail_open_total,
            fail_closed_total=counters.fail_closed_total, spooled_total=counters.spooled_total,
            spool_depth=counters.spool_depth, timeout=timeout)

    # -- Calls ------------------------------------------------------------------------------

    def call(self, method: str, request: Message, response_type: Optional[Type[Message]] = None,
             timeout: Optional[float] = None) -> Any:
        """Calls one unary method by RPC name (``"Health"``) or full path, and decodes its answer."""
        result = self.call_many([(method, request, response_type)], timeout=timeout)[0]
        if isinstance(result, TokenGateError):
            raise result
        return result

    def call_many(self, calls: Sequence[Tuple[str, Message, Optional[Type[Message]]]],
                  timeout: Optional[float] = None) -> List[Union[Message, TokenGateError]]:
        """Pipelines several calls in one write; returns, in the order of ``calls``, each decoded
        response or the ``TokenGateError`` its call ended with."""
        timeout = self.timeout if timeout is None else timeout
        give_up_at = time.monotonic() + timeout if timeout and timeout > 0 else None
        methods = [_resolve(name, response_type) for name, _, response_type in calls]
        connection = self._current_connection(timeout)
        entries = []
        data = bytearray()
        for method, (_, request, _) in zip(methods, calls):
            request = _protocol.with_event_id(method, request)
            call_id = self._take_call_id()
            entries.append((call_id, _Pending(streaming=False)))
            data += _protocol.encode_request(call_id, method, request, timeout)
        connection.send(bytes(data), entries)
        results: List[Union[Message, TokenGateError]] = []
        for method, (call_id, pending) in zip(methods, entries):
            left = None if give_up_at is None else max(0.0, give_up_at - time.monotonic())
            if not pending.event.wait(left):
                connection.forget(call_id)
                results.append(TokenGateError(StatusCode.DEADLINE_EXCEEDED, f"no answer within {timeout:g} s"))
            elif pending.error is not None or pending.frame is None:
                results.append(pending.error or TokenGateError(StatusCode.INTERNAL, "answer lost"))
            else:
                try:
                    results.append(_protocol.decode_response(pending.frame, method.response_type))
                except TokenGateError as error:
                    results.append(error)
        return results

    def _unary(self, method: RpcMethod, request: Message, timeout: Optional[float]) -> Any:
        result = self.call_many([(method.path, request, method.response_type)], timeout=timeout)[0]
        if isinstance(result, TokenGateError):
            raise result
        return result

    def _stream(self, method: RpcMethod, request: Message, timeout: Optional[float]) -> Iterator[Message]:
        """A server stream's messages. ``timeout`` bounds the wait for each message (None: the
        client's; 0: forever, as a watcher wants)."""
        timeout = self.timeout if timeout is None else timeout
        connection = self._current_connection(timeout)
        call_id = self._take_call_id()
        pending = _Pending(streaming=True)
        connection.send(_protocol.encode_request(call_id, method, request, 0), [(call_id, pending)])
        assert pending.frames is not None
        try:
            while True:
                try:
                    item = pending.frames.get(timeout=timeout if timeout and timeout > 0 else None)
                except queue.Empty:
                    raise TokenGateError(StatusCode.DEADLINE_EXCEEDED,
                                         f"no message of {method.name} within {timeout:g} s") from None
                if isinstance(item, TokenGateError):
                    raise item
                if item.status_code != 0:
                    raise TokenGateError(item.status_code, item.status_message)
                if item.payload or not item.end_of_stream:
                    yield method.response_type.FromString(item.payload)
                if item.end_of_stream:
                    return
        finally:
            connection.forget(call_id)

    # -- The policy and the spool -----------------------------------------------------------

    def can_make_request(self, request: Optional[pb.CanMakeRequestRequest] = None, /, *,
                         timeout: Optional[float] = None, **fields: Any) -> pb.CanMakeRequestResponse:
        method = METHODS["CanMakeRequest"]
        message = _protocol.build_request(method, request, fields)
        policy = self.when_unreachable
        if policy is None:
            return self._unary(method, message, timeout)
        try:
            return self._unary(method, message, policy.timeout if timeout is None else min(timeout, policy.timeout))
        except TokenGateError as error:
            if not error.means_unreachable:
                raise
            with self._lock:
                if policy.allow:
                    self._metrics.fail_open_total += 1
                else:
                    self._metrics.fail_closed_total += 1
            return _protocol.policy_answer(policy, message, error)

    def log_usage_or_spool(self, request: Optional[pb.LogUsageRequest] = None, /, *,
                           timeout: Optional[float] = None, **fields: Any) -> LogUsageOutcome:
        """Records what a call used, and keeps the event when the daemon cannot take it.

        The event gets an id first (``tgc-`` + UUID) when it has none. When the daemon is
        unreachable, too slow, starting or draining, the event (stamped with the time of this
        call when ``occurred_at_unix_ms`` is 0) goes into the spool and is re-sent in the
        background until acknowledged; an event sent but unanswered may already be recorded, and
        its re-send is then answered as a duplicate and counted once.

        Raises RESOURCE_EXHAUSTED when the spool is full (the event is NOT recorded), INTERNAL
        when the spool file cannot take it, and the daemon's own errors for a bad event
        (INVALID_ARGUMENT, FAILED_PRECONDITION), which a re-send would not fix.
        """
        message = _protocol.build_request(METHODS["LogUsage"], request, fields)
        called_at_ms = int(time.time() * 1000)
        try:
            return LogUsageOutcome(event_id=message.event_id, response=self._unary(METHODS["LogUsage"], message, timeout))
        except TokenGateError as error:
            if not (error.means_unreachable or error.code == StatusCode.CANCELLED):
                raise
            cause = error
        if not message.occurred_at_unix_ms:
            message.occurred_at_unix_ms = called_at_ms
        depth = self._spool.add(message)
        with self._lock:
            self._metrics.spooled_total += 1
        self._start_drainer()
        return LogUsageOutcome(event_id=message.event_id, spool_depth=depth, cause=cause)

    def flush_spool(self, timeout: float) -> int:
        """Waits until the spool is empty or ``timeout`` seconds passed; returns the events still
        waiting. Retries at once rather than after the backoff. Use it before a planned exit."""
        give_up_at = time.monotonic() + timeout
        self._wake.set()
        while self._spool.depth and time.monotonic() < give_up_at:
            time.sleep(0.005)
        return self._spool.depth

    def _start_drainer(self) -> None:
        with self._lock:
            if self._closed or (self._drainer is not None and self._drainer.is_alive()):
                return
            self._drainer = threading.Thread(target=self._drain, name="tokengate-spool", daemon=True)
            self._drainer.start()

    def _drain(self) -> None:
        backoff = self._retry_interval
        while not self._closed:
            batch = self._spool.oldest(DRAIN_BATCH_MAX)
            if not batch:
                with self._lock:
                    if not self._spool.depth:
                        self._drainer = None
                        return
                continue
            self._wake.clear()
            # The oldest event alone first (a probe: while the daemon is down one try is enough).
            if self._resend(batch[:1]) and self._resend(batch[1:]):
                backoff = self._retry_interval
                continue
            self._wake.wait(backoff)
            backoff = min(backoff * 2, self._retry_interval_max)

    def _resend(self, events: List[pb.LogUsageRequest]) -> bool:
        """Sends spooled events pipelined; False when any could not reach the daemon."""
        if not events:
            return True
        method = METHODS["LogUsage"]
        timeout = self.timeout if self.timeout and self.timeout > 0 else RESEND_TIMEOUT_SECONDS
        try:
            results = self.call_many([(method.path, event, method.response_type) for event in events], timeout=timeout)
        except TokenGateError:
            return False
        reached = True
        for event, result in zip(events, results):
            if isinstance(result, TokenGateError):
                if result.means_unreachable or result.code in (StatusCode.CANCELLED, StatusCode.RESOURCE_EXHAUSTED):
                    reached = False
                    continue
                with self._lock:
                    self._metrics.spool_rejected_total += 1
                if self.on_spool_rejection is not None:
                    self.on_spool_rejection(event, result)
            else:
                with self._lock:
                    self._metrics.resent_total += 1
                    self._metrics.resent_duplicate_total += int(result.duplicate)
            self._spool.remove(event.event_id)
        return reached

    # -- Connection -------------------------------------------------------------------------

    def _take_call_id(self) -> int:
        with self._lock:
            call_id = self._next_call_id
            self._next_call_id += 1
            return call_id

    def _current_connection(self, timeout: Optional[float]) -> _Connection:
        with self._lock:
            if self._closed:
                raise TokenGateError(StatusCode.CANCELLED, "the client was closed")
            connection = self._connection
            if connection is not None and connection.usable:
                return connection
            reconnect = self._metrics.connections_made > 0
            connection = _Connection(self.socket_path, timeout if timeout and timeout > 0 else None)
            self._connection = connection
            self._metrics.connections_made += 1
        if reconnect and self._spool.depth:
            self._wake.set()
        return connection


def _resolve(name: str, response_type: Optional[Type[Message]]) -> RpcMethod:
    """The method for an RPC name or path; an unknown one still goes out (the daemon answers
    UNIMPLEMENTED) when its response type is given."""
    short = name.rsplit("/", 1)[-1]
    method = METHODS.get(short)
    path = name if name.startswith("/") else f"/{_protocol.SERVICE_NAME}/{name}"
    if method is not None and method.path == path and (response_type is None or response_type is method.response_type):
        return method
    if response_type is None:
        raise TypeError(f"unknown method {name}: pass its response type")
    return RpcMethod(name=short, attribute=_protocol.snake_case(short), path=path, request_type=Message,
                     response_type=response_type, server_streaming=False)


def _attach_rpc_methods() -> None:
    """A method per RPC of the service, unless written out above (the policy and defaults)."""
    for method in METHODS.values():
        if hasattr(Client, method.attribute):
            continue
        rpc: Callable[..., Any]
        if method.server_streaming:
            def stream_rpc(self: Client, request: Optional[Message] = None, /, *, timeout: Optional[float] = None,
                    _method: RpcMethod = method, **fields: Any) -> Iterator[Message]:
                return self._stream(_method, _protocol.build_request(_method, request, fields), timeout)
            rpc = stream_rpc
        else:
            def unary_rpc(self: Client, request: Optional[Message] = None, /, *, timeout: Optional[float] = None,
                    _method: RpcMethod = method, **fields: Any) -> Any:
                return self._unary(_method, _protocol.build_request(_method, request, fields), timeout)
            rpc = unary_rpc
        rpc.__name__ = rpc.__qualname__ = method.attribute
        rpc.__doc__ = f"The {method.name} RPC ({method.path}): a {method.request_type.__name__} or its fields as " \
                      f"keywords; returns {'an iterator of ' if method.server_streaming else 'a '}" \
                      f"{method.response_type.__name__}. Raises TokenGateError with the gRPC status."
        setattr(Client, method.attribute, rpc)


_attach_rpc_methods()
