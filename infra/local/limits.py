"""How much of the twin one client may hold: time, connections, background invocations, and who may call.

- ``ServerLimits``: the numbers (each a ``litelens serve`` flag; tests shrink them).
- ``DeadlineReader``: a connection's raw input with two clocks: ``idle`` seconds at most without a
  byte (between keep-alive requests, or mid-request), and ``read`` seconds at most from a request's
  first byte to its last (request line, headers and body), so a client sending one byte a second, or
  a Content-Length larger than what it sends, is dropped instead of holding a thread.
- ``EventPool``: ``X-Amz-Invocation-Type: Event`` invocations run on a few worker threads from a
  bounded queue; a full queue refuses (the Invoke API answers 429 ``TooManyRequestsException``).
- ``api_key_accepted`` / ``sigv4_access_key``: the one ``--api-key`` check both servers apply
  (exactly one ``x-api-key`` header, equal to the key, compared in constant time).
"""

from __future__ import annotations

import contextlib
import hmac
import io
import logging
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from litelens.build.bundle.errors import LitelensError

log = logging.getLogger("litelens.twin")


@dataclass(frozen=True)
class ServerLimits:
    """What one client may hold on the twin's servers."""

    idle_seconds: float = 30.0  # no byte received (or sent) for this long: the connection is closed
    read_seconds: float = 30.0  # a request's first byte to its last (6 MB at 200 KB/s still arrives)
    max_connections: int = 64  # per server; more are answered 503 at once and closed
    event_workers: int = 2  # threads running Event invocations (each function runs one at a time anyway)
    event_queue: int = 16  # Event invocations waiting for a worker; more are refused with 429

    def __post_init__(self) -> None:
        for name in ("idle_seconds", "read_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, not {getattr(self, name)}")
        for name in ("max_connections", "event_workers", "event_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")


class RequestTimeout(LitelensError, TimeoutError):
    """The client took longer than ``read_seconds`` to send one request."""


class DeadlineReader(io.RawIOBase):
    """A socket's input, each receive bounded by the idle timeout and by the running request's deadline.

    ``start_request()`` arms the read clock: it starts at the next byte received. ``end_request()``
    stops it (the request is read; the handler runs with no clock on the client)."""

    def __init__(self, sock: socket.socket, limits: ServerLimits) -> None:
        self._sock = sock
        self._limits = limits
        self._armed = False
        self._deadline: float | None = None

    def readable(self) -> bool:
        return True

    def start_request(self) -> None:
        self._armed, self._deadline = True, None

    def end_request(self) -> None:
        self._armed, self._deadline = False, None

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        wait = self._limits.idle_seconds
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise RequestTimeout(f"request not received within {self._limits.read_seconds:g} s")
            wait = min(wait, remaining)
        self._sock.settimeout(wait)
        try:
            received = self._sock.recv_into(buffer)
        except TimeoutError:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                raise RequestTimeout(f"request not received within {self._limits.read_seconds:g} s") from None
            raise
        if received and self._armed and self._deadline is None:
            self._deadline = time.monotonic() + self._limits.read_seconds
        return received


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
