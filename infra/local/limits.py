"""How much of the twin one client may hold: time, connections, header size, background invocations,
and who may call.

- ``ServerLimits``: the numbers; ``LIMIT_FLAGS`` the one table of their ``litelens serve`` flags (the
  command and the README's table follow it; tests shrink the numbers).
- ``DeadlineReader``: a connection's raw input with three clocks: ``idle`` seconds at most without a
  byte (between keep-alive requests, or mid-request), ``header`` seconds at most from a request's
  first byte to the end of its headers, and ``read`` seconds at most from its first byte to its last
  (request line, headers and body), so a client sending one byte a second, or a Content-Length
  larger than what it sends, is dropped instead of holding a thread. It also keeps the connection's
  ``connections.Slot`` up to date (waiting for the client, or answering it; when it last sent).
- ``HeadReader``: the buffered input as the header parser reads it, at most ``max_header_bytes``.
- ``EventPool``: ``X-Amz-Invocation-Type: Event`` invocations run on a few worker threads from a
  bounded queue; a full queue refuses (the Invoke API answers 429 ``TooManyRequestsException``).
- ``api_key_accepted`` / ``sigv4_access_key``: the one ``--api-key`` check both servers apply
  (exactly one ``x-api-key`` header, equal to the key, compared in constant time).

Who gets a connection when the server is full is ``connections.ConnectionSlots``.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litelens.build.bundle.errors import LitelensError
from litelens.infra.local.connections import ConnectionEvicted, Slot
from litelens.infra.local.twin_log import log


@dataclass(frozen=True)
class ServerLimits:
    """What one client may hold on the twin's servers."""

    idle_seconds: float = 30.0  # no byte received (or sent) for this long: the connection is closed
    header_seconds: float = 10.0  # a request's first byte to the end of its headers: else closed
    read_seconds: float = 30.0  # a request's first byte to its last (6 MB at 200 KB/s still arrives)
    max_connections: int = 64  # per server (past it, see connections.ConnectionSlots)
    max_client_connections: int = 32  # per source address (loopback: every local client is one address)
    # Request line and headers, in bytes: API Gateway's REST API quota ("total combined size of
    # request line and header values", 10240 bytes). Over it: 431 (414 for the request line alone).
    max_header_bytes: int = 10240
    event_workers: int = 2  # threads running Event invocations (each function runs one at a time anyway)
    event_queue: int = 16  # Event invocations waiting for a worker; more are refused with 429

    def __post_init__(self) -> None:
        for name in ("idle_seconds", "header_seconds", "read_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        for name in ("max_connections", "max_client_connections", "event_workers", "event_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if self.max_header_bytes < 1024:
            raise ValueError(f"max_header_bytes must be >= 1024, not {self.max_header_bytes}")


# (ServerLimits field, `litelens serve` flag, what happens past it): the one table of the limits'
# flags. `litelens serve --help` and the README's "Run it locally" table say the same.
LIMIT_FLAGS: tuple[tuple[str, str, str], ...] = (
    ("idle_seconds", "--idle-timeout", "close a connection after this long without a byte"),
    ("header_seconds", "--header-timeout", "headers not whole this long after the first byte: closed"),
    ("read_seconds", "--read-timeout", "408 for a request not whole this long after its first byte"),
    ("max_connections", "--max-connections", "open connections per server"),
    ("max_client_connections", "--max-client-connections", "open connections per source address"),
    ("max_header_bytes", "--max-header-bytes", "request line and headers, in bytes; more is 431"),
    ("event_queue", "--event-queue", "Event invocations waiting to run; more are refused with 429"),
)  # fmt: skip


class RequestTimeout(LitelensError, TimeoutError):
    """The client took longer than ``header_seconds`` or ``read_seconds`` to send one request."""


class DeadlineReader(io.RawIOBase):
    """A socket's input, each receive bounded by the idle timeout and by the running request's deadlines.

    ``start_request()`` arms the header and read clocks: they start at the next byte received.
    ``end_headers()`` stops the header clock; ``end_request()`` stops both (the request is read; the
    handler runs with no clock on the client). With a ``slot``, every byte received marks the client
    heard, ``start_request`` marks the connection waiting and ``end_request`` answering; once the
    slot is evicted, a read raises ``ConnectionEvicted``."""

    def __init__(self, sock: socket.socket, limits: ServerLimits, slot: Slot | None = None) -> None:
        self._sock = sock
        self._limits = limits
        self.slot = slot
        self._armed = False
        self._deadline: float | None = None
        self._header_deadline: float | None = None

    def readable(self) -> bool:
        return True

    def start_request(self) -> None:
        self._armed, self._deadline, self._header_deadline = True, None, None
        if self.slot is not None:
            self.slot.wait_for_client()

    def end_headers(self) -> None:
        self._header_deadline = None

    def end_request(self) -> None:
        self._armed, self._deadline, self._header_deadline = False, None, None
        if self.slot is not None:
            self.slot.answer()

    def _check_deadlines(self, now: float) -> float:
        """The longest the next receive may wait; RequestTimeout when a deadline has passed."""
        wait = self._limits.idle_seconds
        for deadline, what, seconds in (
            (self._header_deadline, "request headers", self._limits.header_seconds),
            (self._deadline, "request", self._limits.read_seconds),
        ):
            if deadline is not None:
                if deadline <= now:
                    raise RequestTimeout(f"{what} not received within {seconds:g} s")
                wait = min(wait, deadline - now)
        return wait

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        slot = self.slot
        if slot is not None and slot.evicted:
            raise ConnectionEvicted("the connection gave way to a new one")
        self._sock.settimeout(self._check_deadlines(time.monotonic()))
        try:
            received = self._sock.recv_into(buffer)
        except TimeoutError:
            self._check_deadlines(time.monotonic())
            raise
        except OSError:
            if slot is not None and slot.evicted:
                raise ConnectionEvicted("the connection gave way to a new one") from None
            raise
        if not received:
            if slot is not None and slot.evicted:
                raise ConnectionEvicted("the connection gave way to a new one")
            return 0
        if slot is not None:
            slot.heard()
        if self._armed and self._deadline is None:
            now = time.monotonic()
            self._deadline = now + self._limits.read_seconds
            self._header_deadline = now + self._limits.header_seconds
        return received


class HeadersTooLarge(LitelensError):
    """The request line and headers are over ``max_header_bytes``."""


class HeadReader:
    """The connection's buffered input as http.server's header parser reads it (``readline``),
    counting bytes: over ``budget``, ``HeadersTooLarge``."""

    def __init__(self, rfile: Any, budget: int) -> None:
        self._rfile = rfile
        self._budget = budget

    def readline(self, limit: int = -1) -> bytes:
        wanted = self._budget + 1 if limit < 0 else min(limit, self._budget + 1)
        line: bytes = self._rfile.readline(wanted)
        self._budget -= len(line)
        if self._budget < 0:
            raise HeadersTooLarge("request line and headers too large")
        return line


class EventPool:
    """A bounded queue of background invocations and the worker threads that run them."""

    def __init__(self, workers: int, capacity: int) -> None:
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue(maxsize=capacity)
        self._workers = [
            threading.Thread(target=self._work, name=f"twin-event-{i}", daemon=True) for i in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    def submit(self, job: Callable[[], object]) -> bool:
        """Queue ``job``; False (nothing queued) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a background invocation has no caller to answer: log it
                log.exception("an Event invocation failed")

    def close(self, timeout: float = 5.0) -> None:
        """Drop what is still queued, let running jobs finish (up to ``timeout``), stop the workers."""
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=timeout)
        for worker in self._workers:
            worker.join(timeout)


def header_values(pairs: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Every value of header ``name`` (any case), in order."""
    wanted = name.lower()
    return [value for key, value in pairs if key.lower() == wanted]


def api_key_accepted(pairs: Sequence[tuple[str, str]], api_key: str) -> bool:
    """Exactly one ``x-api-key`` header, equal to ``api_key``: two headers are refused whatever they
    hold (which one a proxy or a framework reads differs)."""
    values = header_values(pairs, "x-api-key")
    return len(values) == 1 and hmac.compare_digest(values[0].encode(), api_key.encode())


_SIGV4_CREDENTIAL = re.compile(r"^AWS4-HMAC-SHA256 .*\bCredential=([^/,\s]+)/")


def sigv4_access_key(pairs: Sequence[tuple[str, str]]) -> str | None:
    """The access key id of a SigV4 ``Authorization`` header (what boto3 signs with), if exactly one."""
    values = header_values(pairs, "authorization")
    if len(values) != 1:
        return None
    found = _SIGV4_CREDENTIAL.match(values[0])
    return found.group(1) if found else None
