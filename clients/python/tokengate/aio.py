"""The asyncio client of tokengated: ``tokengate.aio.Client``.

The same calls as the blocking ``tokengate.Client`` (a coroutine per RPC, an async iterator per
server stream), the same gate policy and the same on-disk spool. One connection carries every
call: tasks write their frames with call ids of their own and await a future; one reader task
per connection resolves each future when its answer comes, in whatever order. ``aio.pyi``
(written by gen.sh) gives the RPC methods their types.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple, Type, Union

from google.protobuf.message import Message

from tokengate import _protocol
from tokengate._protocol import (DEFAULT_TIMEOUT_SECONDS, METHODS, READ_CHUNK_BYTES, ClientMetrics, GatePolicy,
                                 LogUsageOutcome, RpcMethod, StatusCode, TokenGateError, default_socket_path)
from tokengate._spool import UsageSpool
from tokengate.client import DRAIN_BATCH_MAX, RESEND_TIMEOUT_SECONDS, _resolve
from tokengate.v1 import tokengate_pb2 as pb

__all__ = ["Client"]


class _Connection:
    """One Unix-socket connection and its reader task."""

    def __init__(self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.path = path
        self.reader = reader
        self.writer = writer
        self.pending: Dict[int, Union["asyncio.Future[pb.ResponseFrame]", "asyncio.Queue[Any]"]] = {}
        self.failure: Optional[TokenGateError] = None
        self.task = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def open(cls, path: str, timeout: Optional[float]) -> "_Connection":
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path, limit=READ_CHUNK_BYTES), timeout)
        except (OSError, asyncio.TimeoutError) as error:
            raise TokenGateError(StatusCode.UNAVAILABLE,
                                 f"cannot connect to tokengated at {path}: {error!r} (is the daemon running?)") from None
        return cls(path, reader, writer)

    @property
    def usable(self) -> bool:
        return self.failure is None

    async def send(self, data: bytes, calls: Sequence[Tuple[int, Any]]) -> None:
        if self.failure is not None:
            raise self.failure
        for call_id, waiter in calls:
            self.pending[call_id] = waiter
        try:
            self.writer.write(data)
            await self.writer.drain()
        except OSError as error:
            failure = TokenGateError(StatusCode.UNAVAILABLE, f"connection to tokengated at {self.path} failed: {error}")
            self._fail(failure)
            raise failure from None

    def forget(self, call_id: int) -> None:
        self.pending.pop(call_id, None)

    def close(self) -> None:
        self._fail(TokenGateError(StatusCode.CANCELLED, "the client was closed"))
        self.task.cancel()

    async def _read_loop(self) -> None:
        buffer = bytearray()
        try:
            while True:
                chunk = await self.reader.read(READ_CHUNK_BYTES)
                if not chunk:
                    raise TokenGateError(StatusCode.UNAVAILABLE, f"tokengated at {self.path} closed the connection")
                buffer += chunk
                for frame in _protocol.take_frames(buffer):
                    if frame.call_id == 0 and frame.status_code != 0:
                        raise TokenGateError(frame.status_code, frame.status_message)
                    waiter = self.pending.get(frame.call_id)
                    if isinstance(waiter, asyncio.Queue):
                        waiter.put_nowait(frame)
                        if frame.end_of_stream or frame.status_code != 0:
                            del self.pending[frame.call_id]
                    elif waiter is not None:
                        del self.pending[frame.call_id]
                        if not waiter.done():
                            waiter.set_result(frame)
        except TokenGateError as error:
            self._fail(error)
        except OSError as error:
            self._fail(TokenGateError(StatusCode.UNAVAILABLE, f"connection to tokengated at {self.path} failed: {error}"))

    def _fail(self, error: TokenGateError) -> None:
        if self.failure is None:
            self.failure = error
            self.writer.close()
        for waiter in self.pending.values():
            if isinstance(waiter, asyncio.Queue):
                waiter.put_nowait(self.failure)
            elif not waiter.done():
                waiter.set_exception(self.failure)
                waiter.exception()  # whoever awaits it still gets the error; nobody awaiting it is no leak
        self.pending.clear()


class Client:
    """An asyncio client of tokengated; concurrent calls are pipelined on one connection.
    Use it within one event loop. Arguments as ``tokengate.Client``.

    >>> async with tokengate.aio.Client(when_unreachable=GatePolicy.fail_open()) as gate:
    ...     verdict = await gate.can_make_request(shop_id="shop_1", estimated_input_tokens=2000)
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
        self._connection: Optional[_Connection] = None
        self._connecting: Optional[asyncio.Lock] = None
        self._next_call_id = 1
        self._closed = False
        self._drainer: Optional["asyncio.Task[None]"] = None
        self._wake: Optional[asyncio.Event] = None

    # -- Lifetime ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Stops the drainer, closes the connection and the spool (spooled events stay in its file)."""
        self._closed = True
        if self._drainer is not None:
            self._drainer.cancel()
            try:
                await self._drainer
            except (asyncio.CancelledError, Exception):
                pass
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._spool.close()

    async def __aenter__(self) -> "Client":
        if self._spool.depth:
            self._start_drainer()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def metrics(self) -> ClientMetrics:
        copy = ClientMetrics(**vars(self._metrics))
        copy.spool_depth = self._spool.depth
        return copy

    async def report_metrics(self, client_id: str, *, timeout: Optional[float] = None) -> pb.ReportClientMetricsResponse:
        """As ``tokengate.Client.report_metrics``."""
        counters = self.metrics()
        return await self.report_client_metrics(  # type: ignore[attr-defined, no-any-return]
            client_id=client_id, fail_open_total=counters.fail_open_total,
            fail_closed_total=counters.fail_closed_total, spooled_total=counters.spooled_total,
            spool_depth=counters.spool_depth, timeout=timeout)

    # -- Calls ------------------------------------------------------------------------------

    async def call(self, method: str, request: Message, response_type: Optional[Type[Message]] = None,
                   timeout: Optional[float] = None) -> Any:
        result = (await self.call_many([(method, request, response_type)], timeout=timeout))[0]
        if isinstance(result, TokenGateError):
            raise result
        return result

    async def call_many(self, calls: Sequence[Tuple[str, Message, Optional[Type[Message]]]],
                        timeout: Optional[float] = None) -> List[Union[Message, TokenGateError]]:
        """Pipelines several calls in one write; returns each decoded response or its error."""
        timeout = self.timeout if timeout is None else timeout
        give_up_at = time.monotonic() + timeout if timeout and timeout > 0 else None
        methods = [_resolve(name, response_type) for name, _, response_type in calls]
        connection = await self._current_connection(timeout)
        loop = asyncio.get_running_loop()
        entries = []
        data = bytearray()
        for method, (_, request, _) in zip(methods, calls):
            request = _protocol.with_event_id(method, request)
            call_id = self._take_call_id()
            entries.append((call_id, loop.create_future()))
            data += _protocol.encode_request(call_id, method, request, timeout)
        await connection.send(bytes(data), entries)
        results: List[Union[Message, TokenGateError]] = []
        for method, (call_id, future) in zip(methods, entries):
            left = None if give_up_at is None else max(0.0, give_up_at - time.monotonic())
            try:
                frame = await asyncio.wait_for(asyncio.shield(future), left)
                results.append(_protocol.decode_response(frame, method.response_type))
            except asyncio.TimeoutError:
                connection.forget(call_id)
                results.append(TokenGateError(StatusCode.DEADLINE_EXCEEDED, f"no answer within {timeout:g} s"))
            except TokenGateError as error:
                results.append(error)
        return results

    async def _unary(self, method: RpcMethod, request: Message, timeout: Optional[float]) -> Any:
        return await self.call(method.path, request, method.response_type, timeout)

    async def _stream(self, method: RpcMethod, request: Message, timeout: Optional[float]) -> AsyncIterator[Message]:
        timeout = self.timeout if timeout is None else timeout
        connection = await self._current_connection(timeout)
        call_id = self._take_call_id()
        frames: "asyncio.Queue[Any]" = asyncio.Queue()
        await connection.send(_protocol.encode_request(call_id, method, request, 0), [(call_id, frames)])
        try:
            while True:
                try:
                    item = await asyncio.wait_for(frames.get(), timeout if timeout and timeout > 0 else None)
                except asyncio.TimeoutError:
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

    async def can_make_request(self, request: Optional[pb.CanMakeRequestRequest] = None, /, *,
                               timeout: Optional[float] = None, **fields: Any) -> pb.CanMakeRequestResponse:
        method = METHODS["CanMakeRequest"]
        message = _protocol.build_request(method, request, fields)
        policy = self.when_unreachable
        if policy is None:
            return await self._unary(method, message, timeout)
        try:
            return await self._unary(method, message, policy.timeout if timeout is None else min(timeout, policy.timeout))
        except TokenGateError as error:
            if not error.means_unreachable:
                raise
            if policy.allow:
                self._metrics.fail_open_total += 1
            else:
                self._metrics.fail_closed_total += 1
            return _protocol.policy_answer(policy, message, error)

    async def log_usage_or_spool(self, request: Optional[pb.LogUsageRequest] = None, /, *,
                                 timeout: Optional[float] = None, **fields: Any) -> LogUsageOutcome:
        """As ``tokengate.Client.log_usage_or_spool``. The spool's fsync runs on the event loop's
        thread: it happens only while the daemon is unreachable."""
        message = _protocol.build_request(METHODS["LogUsage"], request, fields)
        called_at_ms = int(time.time() * 1000)
        try:
            response = await self._unary(METHODS["LogUsage"], message, timeout)
            return LogUsageOutcome(event_id=message.event_id, response=response)
        except TokenGateError as error:
            if not (error.means_unreachable or error.code == StatusCode.CANCELLED):
                raise
            cause = error
        if not message.occurred_at_unix_ms:
            message.occurred_at_unix_ms = called_at_ms
        depth = self._spool.add(message)
        self._metrics.spooled_total += 1
        self._start_drainer()
        return LogUsageOutcome(event_id=message.event_id, spool_depth=depth, cause=cause)

    async def flush_spool(self, timeout: float) -> int:
        """Waits until the spool is empty or ``timeout`` seconds passed; returns what still waits."""
        give_up_at = time.monotonic() + timeout
        if self._spool.depth:
            self._start_drainer()
            self._wake_drainer()
        while self._spool.depth and time.monotonic() < give_up_at:
            await asyncio.sleep(0.005)
        return self._spool.depth

    def _wake_drainer(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _start_drainer(self) -> None:
        if self._closed or (self._drainer is not None and not self._drainer.done()):
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        self._drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        assert self._wake is not None
        backoff = self._retry_interval
        while not self._closed:
            batch = self._spool.oldest(DRAIN_BATCH_MAX)
            if not batch:
                return
            self._wake.clear()
            if await self._resend(batch[:1]) and await self._resend(batch[1:]):
                backoff = self._retry_interval
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), backoff)
            except asyncio.TimeoutError:
                pass
            backoff = min(backoff * 2, self._retry_interval_max)

    async def _resend(self, events: List[pb.LogUsageRequest]) -> bool:
        if not events:
            return True
        method = METHODS["LogUsage"]
        timeout = self.timeout if self.timeout and self.timeout > 0 else RESEND_TIMEOUT_SECONDS
        try:
            results = await self.call_many([(method.path, event, method.response_type) for event in events], timeout)
        except TokenGateError:
            return False
        reached = True
        for event, result in zip(events, results):
            if isinstance(result, TokenGateError):
                if result.means_unreachable or result.code in (StatusCode.CANCELLED, StatusCode.RESOURCE_EXHAUSTED):
                    reached = False
                    continue
                self._metrics.spool_rejected_total += 1
                if self.on_spool_rejection is not None:
                    self.on_spool_rejection(event, result)
            else:
                self._metrics.resent_total += 1
                self._metrics.resent_duplicate_total += int(result.duplicate)
            self._spool.remove(event.event_id)
        return reached

    # -- Connection -------------------------------------------------------------------------

    def _take_call_id(self) -> int:
        call_id = self._next_call_id
        self._next_call_id += 1
        return call_id

    async def _current_connection(self, timeout: Optional[float]) -> _Connection:
        if self._closed:
            raise TokenGateError(StatusCode.CANCELLED, "the client was closed")
        if self._connection is not None and self._connection.usable:
            return self._connection
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._connection is not None and self._connection.usable:
                return self._connection
            reconnect = self._metrics.connections_made > 0
            self._connection = await _Connection.open(self.socket_path, timeout if timeout and timeout > 0 else None)
            self._metrics.connections_made += 1
        if reconnect and self._spool.depth:
            self._wake_drainer()
        return self._connection


def _attach_rpc_methods() -> None:
    """A coroutine (or async iterator) per RPC of the service, unless written out above."""
    for method in METHODS.values():
        if hasattr(Client, method.attribute):
            continue
        rpc: Callable[..., Any]
        if method.server_streaming:
            def stream_rpc(self: Client, request: Optional[Message] = None, /, *, timeout: Optional[float] = None,
                    _method: RpcMethod = method, **fields: Any) -> AsyncIterator[Message]:
                return self._stream(_method, _protocol.build_request(_method, request, fields), timeout)
            rpc = stream_rpc
        else:
            async def unary_rpc(self: Client, request: Optional[Message] = None, /, *, timeout: Optional[float] = None,
                          _method: RpcMethod = method, **fields: Any) -> Any:
                return await self._unary(_method, _protocol.build_request(_method, request, fields), timeout)
            rpc = unary_rpc
        rpc.__name__ = rpc.__qualname__ = method.attribute
        rpc.__doc__ = f"The {method.name} RPC ({method.path}): a {method.request_type.__name__} or its fields as " \
                      f"keywords; returns {'an async iterator of ' if method.server_streaming else 'a '}" \
                      f"{method.response_type.__name__}. Raises TokenGateError with the gRPC status."
        setattr(Client, method.attribute, rpc)


_attach_rpc_methods()
