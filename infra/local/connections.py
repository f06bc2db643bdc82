"""Who holds the twin's connections, and which one gives way when a new one arrives.

Each server keeps at most ``max_connections`` connections, and at most ``max_client_connections``
from one source address (one client). A connection is *waiting* while the twin waits for its
client (a request not yet whole, an idle keep-alive, a lingering close) and *answering* from the
moment its request is read until its answer is written. When a new connection would go past either
cap, a waiting connection gives way: the one whose client has been silent longest, taken from the
new connection's own address when that address is at its cap, else from the address holding the
most connections. The evicted connection is shut down (its thread sees the end of its input and
ends quietly) and the new one is served. Only when every connection in the way is answering is the
new one refused (503, or the Invoke API's 429) at once.

Why eviction, not only a per-address cap: on loopback every local client is 127.0.0.1, so a per-address
cap cannot tell a stalled client from the one behind it. Stalled connections (headers or a body
started and not finished, a connection opened and never used) are exactly the waiting ones, and the
most silent of them goes first: 100 stalled connections cannot keep out one client that sends its
request at once; a client uploading a body keeps being heard and is not picked before them. The
per-address cap keeps one address from holding more than its share when the twin listens beyond
loopback (``--host``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from litelens.build.bundle.errors import LitelensError


class ConnectionEvicted(LitelensError, ConnectionAbortedError):
    """The connection gave way to a new one while the twin was waiting for its client."""


@dataclass(eq=False)
class Slot:
    """One admitted connection: its client's address, when the client was last heard, its state."""

    sock: socket.socket
    address: str
    lock: threading.Lock = field(repr=False)
    last_heard: float = field(default_factory=time.monotonic)
    waiting: bool = True
    evicted: bool = False

    def heard(self) -> None:
        """The client sent a byte."""
        self.last_heard = time.monotonic()

    def wait_for_client(self) -> None:
        """The twin waits for the client again (the next request, or a lingering close): evictable."""
        self.waiting = True

    def answer(self) -> None:
        """The request is read: the connection is not evictable until it waits again. Raises
        ``ConnectionEvicted`` when it was evicted before (its answer would go nowhere)."""
        with self.lock:
            if self.evicted:
                raise ConnectionEvicted("the connection gave way to a new one")
            self.waiting = False


class ConnectionSlots:
    """The open connections of one server (see the module docstring for who gives way)."""

    def __init__(self, max_connections: int, max_client_connections: int) -> None:
        self.max_connections = max_connections
        self.max_client_connections = min(max_client_connections, max_connections)
        self._lock = threading.Lock()
        self._open: dict[int, Slot] = {}

    def __len__(self) -> int:
        return len(self._open)

    def admit(self, sock: socket.socket, address: str) -> tuple[Slot | None, str]:
        """(the new connection's slot, "") after evicting whoever must give way, or (None, why it is
        refused: every connection in its way is answering)."""
        with self._lock:
            mine = [slot for slot in self._open.values() if slot.address == address]
            if len(mine) >= self.max_client_connections:
                victim = self._most_silent(mine)
                if victim is None:
                    return None, f"{len(mine)} connections from {address} already open"
                self._evict(victim)
            elif len(self._open) >= self.max_connections:
                held = Counter(slot.address for slot in self._open.values())
                waiting = [slot for slot in self._open.values() if slot.waiting]
                if not waiting:
                    return None, f"{len(self._open)} connections already open"
                self._evict(min(waiting, key=lambda slot: (-held[slot.address], slot.last_heard)))
            slot = Slot(sock, address, self._lock)
            self._open[id(sock)] = slot
            return slot, ""

    def release(self, slot: Slot) -> None:
        """The connection is closed (its thread ends)."""
        with self._lock:
            if self._open.get(id(slot.sock)) is slot:
                del self._open[id(slot.sock)]

    @staticmethod
    def _most_silent(slots: list[Slot]) -> Slot | None:
        waiting = [slot for slot in slots if slot.waiting]
        return min(waiting, key=lambda slot: slot.last_heard) if waiting else None

    def _evict(self, slot: Slot) -> None:
        slot.evicted = True
        del self._open[id(slot.sock)]
        with contextlib.suppress(OSError):  # wakes its thread: the receive it waits in returns at once
            slot.sock.shutdown(socket.SHUT_RDWR)
