"""The bounded spool of LogUsage events the daemon could not take, with the Swift client's
semantics and file format (Sources/TokenGateClient/UsageSpool.swift, SpoolRecords.swift).

Events wait in memory in the order they came and, when a directory is given, are appended to
``DIR/usage.spool`` with an fsync before ``log_usage_or_spool`` returns, so they survive a crash
of the worker itself. An event leaves the spool only when the daemon acknowledged it (or refused
it for good); re-sends carry the same event id, so the daemon counts each event once. The file is
a magic header then records of a 4-byte big-endian payload length, a 4-byte big-endian CRC-32C
and the payload (kind 1 + an encoded LogUsageRequest, or kind 2 + the event id of a finished
event). A torn last record (a crash mid-append) is cut off; damage in the middle is DATA_LOSS.
One client per directory: an exclusive ``flock`` on ``DIR/lock`` refuses a second one.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from collections import OrderedDict
from typing import List, Optional, Tuple

from tokengate._protocol import StatusCode, TokenGateError
from tokengate.v1 import tokengate_pb2 as pb

MAGIC = b"TGSPOOL1"
RECORD_HEADER_BYTES = 8
#: A LogUsageRequest travels in a request frame of at most 64 KiB, so no record is larger.
RECORD_PAYLOAD_BYTES_MAX = 64 << 10
#: A file this large is rewritten without its finished records once they are most of it.
COMPACTION_BYTES_MIN = 1 << 20
KIND_EVENT = 1
KIND_DONE = 2
FILE_NAME = "usage.spool"
LOCK_NAME = "lock"


def _crc32c_table() -> List[int]:
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as the Swift spool and the write-ahead log use: ``crc32c(b"123456789") == 0xE3069283``."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def record(kind: int, body: bytes) -> bytes:
    payload = bytes([kind]) + body
    return struct.pack(">II", len(payload), crc32c(payload)) + payload


def parse(data: bytes, path: str) -> Tuple[List[pb.LogUsageRequest], int, bool]:
    """The events still waiting in a spool file, the bytes of valid records, and whether
    rewriting the file would shrink it (finished records or a torn tail)."""
    if len(data) < len(MAGIC):
        if data.strip(b"\0") and not MAGIC.startswith(data):
            raise _not_spool(path)
        return [], 0, bool(data)
    if data[:len(MAGIC)] != MAGIC:
        raise _not_spool(path)
    waiting: "OrderedDict[str, pb.LogUsageRequest]" = OrderedDict()
    offset = len(MAGIC)
    worth_compacting = False
    while offset < len(data):
        parsed = _valid_record(data, offset)
        if parsed is None:
            if not _is_torn_tail(data, offset):
                raise TokenGateError(StatusCode.DATA_LOSS, f"spool file {path} is damaged at offset {offset}; move it "
                                     "aside to start without it (its events would then need re-sending by hand)")
            worth_compacting = True
            break
        kind, body, end = parsed
        if kind == KIND_EVENT:
            try:
                event = pb.LogUsageRequest.FromString(body)
            except Exception:
                raise TokenGateError(StatusCode.DATA_LOSS,
                                     f"spool file {path} holds an undecodable event at offset {offset}") from None
            waiting[event.event_id] = event
        else:
            waiting.pop(body.decode("utf-8", "replace"), None)
            worth_compacting = True
        offset = end
    return list(waiting.values()), offset, worth_compacting


def _valid_record(data: bytes, offset: int) -> Optional[Tuple[int, bytes, int]]:
    if len(data) - offset < RECORD_HEADER_BYTES:
        return None
    length, checksum = struct.unpack_from(">II", data, offset)
    start = offset + RECORD_HEADER_BYTES
    if length < 1 or length > RECORD_PAYLOAD_BYTES_MAX or length > len(data) - start:
        return None
    payload = data[start:start + length]
    if crc32c(payload) != checksum or payload[0] not in (KIND_EVENT, KIND_DONE):
        return None
    return payload[0], payload[1:], start + length


def _is_torn_tail(data: bytes, offset: int) -> bool:
    """A damaged record is a torn tail when it is the last thing in the file (cut short, running
    past the end, or followed only by zero bytes); anything after it means corruption."""
    if len(data) - offset < RECORD_HEADER_BYTES:
        return True
    (length,) = struct.unpack_from(">I", data, offset)
    start = offset + RECORD_HEADER_BYTES
    if length < 1 or length > RECORD_PAYLOAD_BYTES_MAX:
        return not data[start:].strip(b"\0")
    if length >= len(data) - start:
        return True
    return not data[start + length:].strip(b"\0")


def _not_spool(path: str) -> TokenGateError:
    return TokenGateError(StatusCode.DATA_LOSS, f"{path} is not a TokenGate spool file (bad magic); "
                                                "point spool_dir at a directory of its own")


class UsageSpool:
    """Thread-safe. ``add`` holds the lock through one fsync: this is the degraded path (the
    daemon is away), where durability matters more than latency."""

    def __init__(self, events_max: int, bytes_max: int, directory: Optional[str]) -> None:
        if events_max < 1 or bytes_max < 1024:
            raise ValueError("spool_events_max must be >= 1 and spool_bytes_max >= 1024")
        self.events_max = events_max
        self.bytes_max = bytes_max
        self.directory = directory
        self._lock = threading.Lock()
        self._waiting: "OrderedDict[str, Tuple[pb.LogUsageRequest, int]]" = OrderedDict()
        self._waiting_bytes = 0
        self._fd: Optional[int] = None
        self._lock_fd: Optional[int] = None
        self._file_bytes = 0
        self._broken: Optional[str] = None
        self._closed = False
        if directory is not None:
            self._open(directory)

    @property
    def path(self) -> Optional[str]:
        return None if self.directory is None else os.path.join(self.directory, FILE_NAME)

    @property
    def depth(self) -> int:
        with self._lock:
            return len(self._waiting)

    def add(self, event: pb.LogUsageRequest) -> int:
        """Keeps an event (which has an event id) behind the others; returns the depth. An id
        already waiting is not added twice. Raises RESOURCE_EXHAUSTED when full, INVALID_ARGUMENT
        for an event too large for a record, INTERNAL when the file cannot take it, CANCELLED
        after ``close``; in each case the event is NOT spooled."""
        assert event.event_id, "spooled events carry their event id"
        with self._lock:
            if self._closed:
                raise TokenGateError(StatusCode.CANCELLED,
                                     f"the client was closed; event {event.event_id} was NOT recorded")
            if event.event_id in self._waiting:
                return len(self._waiting)
            data = record(KIND_EVENT, event.SerializeToString())
            if len(data) - RECORD_HEADER_BYTES > RECORD_PAYLOAD_BYTES_MAX:
                raise TokenGateError(StatusCode.INVALID_ARGUMENT,
                                     f"event {event.event_id} encodes to {len(data)} bytes, over the spool's "
                                     f"{RECORD_PAYLOAD_BYTES_MAX}-byte record limit (trim its metadata)")
            if len(self._waiting) >= self.events_max or self._waiting_bytes + len(data) > self.bytes_max:
                raise TokenGateError(StatusCode.RESOURCE_EXHAUSTED,
                                     f"usage spool is full ({len(self._waiting)} events, {self._waiting_bytes} bytes; "
                                     f"limits {self.events_max} events, {self.bytes_max} bytes) while tokengated is "
                                     f"unreachable; event {event.event_id} was NOT recorded")
            self._append(data, sync=True)
            self._waiting[event.event_id] = (event, len(data))
            self._waiting_bytes += len(data)
            return len(self._waiting)

    def oldest(self, count: int) -> List[pb.LogUsageRequest]:
        with self._lock:
            batch: List[pb.LogUsageRequest] = []
            for event, _ in self._waiting.values():
                if len(batch) == count:
                    break
                batch.append(event)
            return batch

    def remove(self, event_id: str) -> None:
        """Takes an event out: acknowledged or refused for good. The ``done`` record is not
        synced: losing it only means one harmless re-send, answered as a duplicate."""
        with self._lock:
            removed = self._waiting.pop(event_id, None)
            if removed is None:
                return
            self._waiting_bytes -= removed[1]
            if self._fd is None or self._broken is not None:
                return
            if not self._waiting:
                self._truncate(len(MAGIC))
                return
            try:
                self._append(record(KIND_DONE, event_id.encode()), sync=False)
            except TokenGateError:
                return
            if self._file_bytes >= COMPACTION_BYTES_MIN and self._waiting_bytes * 2 < self._file_bytes:
                self._rewrite()

    def close(self) -> None:
        """Closes the file and releases the directory; later adds raise CANCELLED."""
        with self._lock:
            self._closed = True
            for fd in (self._fd, self._lock_fd):
                if fd is not None:
                    os.close(fd)
            self._fd = self._lock_fd = None

    # -- File ------------------------------------------------------------------------------

    def _open(self, directory: str) -> None:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            self._lock_fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(self._lock_fd)
                self._lock_fd = None
                raise TokenGateError(StatusCode.INTERNAL, f"cannot open the usage spool: {directory} is in use by "
                                     "another client (one client per spool directory)") from None
            self._fd = os.open(os.path.join(directory, FILE_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            with open(os.path.join(directory, FILE_NAME), "rb") as existing:
                data = existing.read()
        except OSError as error:
            raise TokenGateError(StatusCode.INTERNAL, f"cannot open the usage spool in {directory}: {error}") from None
        events, valid_bytes, worth_compacting = parse(data, os.path.join(directory, FILE_NAME))
        for event in events:
            size = len(record(KIND_EVENT, event.SerializeToString()))
            self._waiting[event.event_id] = (event, size)
            self._waiting_bytes += size
        if worth_compacting or valid_bytes == 0:
            self._rewrite()
            if self._broken:
                raise TokenGateError(StatusCode.INTERNAL, f"cannot rewrite the usage spool: {self._broken}")
        else:
            self._file_bytes = valid_bytes
            os.lseek(self._fd, valid_bytes, os.SEEK_SET)

    def _append(self, data: bytes, sync: bool) -> None:
        if self._fd is None:
            return
        if self._broken is not None:
            raise TokenGateError(StatusCode.INTERNAL, f"usage spool file is unusable after an earlier failure "
                                 f"({self._broken}); the event was NOT spooled")
        try:
            os.lseek(self._fd, self._file_bytes, os.SEEK_SET)
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
        except OSError as error:
            self._truncate(self._file_bytes)
            raise TokenGateError(StatusCode.INTERNAL,
                                 f"cannot append to the usage spool ({error}); the event was NOT spooled") from None
        self._file_bytes += len(data)
        if sync:
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                # A failed fsync is never retried: what reached the disk is unknown from here on.
                self._broken = str(error)
                raise TokenGateError(StatusCode.INTERNAL, f"cannot make the usage spool durable ({error}); "
                                     "the event was NOT spooled") from None

    def _truncate(self, size: int) -> None:
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, size)
            self._file_bytes = size
        except OSError as error:
            self._broken = str(error)

    def _rewrite(self) -> None:
        """Replaces the file with its waiting events: temp file, fsync, rename, fsync the folder."""
        assert self._fd is not None and self.directory is not None
        path = os.path.join(self.directory, FILE_NAME)
        temporary = path + ".tmp"
        data = MAGIC + b"".join(record(KIND_EVENT, event.SerializeToString()) for event, _ in self._waiting.values())
        try:
            with open(temporary, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.rename(temporary, path)
            folder = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
            new_fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return  # the old file is intact: only a complete, synced copy is ever renamed over it
        os.close(self._fd)
        self._fd = new_fd
        self._file_bytes = len(data)
