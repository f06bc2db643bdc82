"""Stalled clients cannot keep others out of the twin, over real sockets on 127.0.0.x: with the
shipped limits (timeouts of 10-30 s, far longer than each test: only a connection giving way can let
another client in), 100 stalled connections held by a client that re-opens every one the twin
closes leave other clients served; the connection silent longest gives way first, an upload being
heard is kept; one source address at its cap gives way from its own connections only (Linux routes
all of 127.0.0.0/8 to loopback, so 127.0.0.2 and 127.0.0.3 are two clients).

The stand-in template (conftest ``template_dir``): POST /echo answers 201, GET /slow sleeps."""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

from litelens.infra.aws.template import SamTemplate
from litelens.infra.local.limits import ServerLimits
from litelens.infra.local.serve import Twin

HANG = 5.0  # how long a test waits for the twin before calling it a hang
ECHO = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
INVOKE = b"POST /2015-03-31/functions/EchoFunction/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
INVOKE += b"Connection: close\r\n\r\n{}"
# What a stalled client sends, then nothing: no byte, headers cut short, a body cut short.
STALLS = (
    b"",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"{" * 10,
)


def start(template_dir, limits: ServerLimits) -> Twin:
    twin = Twin(SamTemplate.load(template_dir / "template.yaml"), api_port=0, lambda_port=0, limits=limits)
    twin.start()
    return twin


@pytest.fixture(scope="module")
def shipped(template_dir):
    twin = start(template_dir, ServerLimits())
    yield twin
    twin.stop()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HANG, source_address=(source, 0))
    sock.settimeout(HANG)
    return sock


def stalled(port: int, kind: int, source: str = "127.0.0.1") -> socket.socket:
    sock = connect(port, source)
    sock.sendall(STALLS[kind % len(STALLS)])
    return sock


def is_open(sock: socket.socket) -> bool:
    """Whether the twin still holds the connection (nothing to read yet, no end of input)."""
    if sock.fileno() < 0:
        return False
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


def closed_soon(sock: socket.socket) -> bool:
    """Whether the twin closes the connection within HANG."""
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if not is_open(sock):
            return True
        time.sleep(0.01)
    return False


def exchange(port: int, request: bytes, source: str = "127.0.0.1") -> bytes:
    """One request on a connection of its own; the answer (b"" when refused or cut)."""
    try:
        with connect(port, source) as sock:
            sock.sendall(request)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            return answer
    except OSError:
        return b""


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


class StalledClient:
    """Holds ``count`` stalled connections, re-opening each one the twin closes (at most ``budget``
    times in all, every 10 ms, until stopped)."""

    def __init__(self, port: int, count: int, budget: int = 3000) -> None:
        self.port = port
        self.socks = [stalled(port, n) for n in range(count)]
        self.reopened = 0
        self._budget = budget
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self) -> None:
        while not self._stop.wait(0.01) and self.reopened < self._budget:
            for n, sock in enumerate(self.socks):
                if not is_open(sock):
                    sock.close()
                    try:
                        self.socks[n] = stalled(self.port, n)
                    except OSError:
                        continue
                    self.reopened += 1

    def __enter__(self) -> StalledClient:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(HANG)
        for sock in self.socks:
            sock.close()


@pytest.mark.parametrize(("server", "request_bytes", "status"), [("api", ECHO, 201), ("lambda", INVOKE, 200)])
def test_other_clients_are_served_while_100_stalled_connections_are_held(shipped, server, request_bytes, status):
    # GIVEN a client holding 100 stalled connections (no byte, half a header block, half a body),
    # re-opening each one the twin closes: more than the 32 one address may hold, or the 64 of a server
    port = shipped.api_port if server == "api" else shipped.lambda_port
    probes = 40
    with StalledClient(port, 100) as attacker:
        # WHEN another client makes 40 requests meanwhile
        statuses = [status_of(exchange(port, request_bytes)) for _ in range(probes)]
        still_held = sum(is_open(sock) for sock in attacker.socks)
    # THEN at least 95% of them are answered (today: 503 until the read timeout, 30 s later)
    assert statuses.count(status) >= 0.95 * probes, statuses
    # AND the stalled client really held what it could (32 per address, less one just given way, and
    # its re-opened ones on their way in): the twin closed some, the client re-opened them
    assert attacker.reopened >= probes // 2 and still_held >= 28, (attacker.reopened, still_held)


def test_the_connection_silent_longest_gives_way_and_an_upload_being_heard_is_kept(template_dir):
    twin = start(template_dir, ServerLimits(max_connections=3))
    port = twin.api_port
    try:
        # GIVEN a full server: A never sent a byte, B sent half its headers, C is sending its body
        a = stalled(port, 0)
        time.sleep(0.05)
        b = stalled(port, 1)
        time.sleep(0.05)
        c = connect(port)
        c.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{")
        time.sleep(0.05)
        # WHEN another client calls THEN it is served, and A gave way
        assert status_of(exchange(port, ECHO)) == 201
        assert closed_soon(a) and is_open(b) and is_open(c)
        # WHEN the server is full again (D connects) and C sends more of its body, another call
        d = stalled(port, 0)
        time.sleep(0.05)
        c.sendall(b'"x": ')
        time.sleep(0.05)
        assert status_of(exchange(port, ECHO)) == 201
        # THEN B, silent longest, gave way; C, heard lately, finishes its request and is answered
        assert closed_soon(b) and is_open(c) and is_open(d)
        c.sendall(b"1}")
        answer = c.recv(65536)
        assert status_of(answer) == 201, answer[:200]
    finally:
        for sock in (a, b, c, d):
            sock.close()
        twin.stop()


def test_an_address_at_its_cap_gives_way_from_its_own_connections_and_is_refused_when_all_answer(template_dir):
    twin = start(template_dir, ServerLimits(max_connections=8, max_client_connections=3))
    port = twin.api_port
    held: list[socket.socket] = []
    try:
        # GIVEN client B (127.0.0.3) holding 3 stalled connections, client A (127.0.0.2) 3 more
        b_socks = [stalled(port, n, "127.0.0.3") for n in range(3)]
        a_socks = [stalled(port, n, "127.0.0.2") for n in range(3)]
        held = b_socks + a_socks
        time.sleep(0.05)
        # WHEN A makes a request THEN it is served, at the cost of A's own silent connection, not B's
        assert status_of(exchange(port, ECHO, "127.0.0.2")) == 201
        assert closed_soon(a_socks[0]) and all(is_open(sock) for sock in b_socks)
        # WHEN A's 3 connections are all being answered (GET /slow sleeps 0.3 s, one at a time)
        slow = b"GET /slow?sleep=0.3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        busy = [connect(port, "127.0.0.2") for _ in range(3)]
        held += busy
        for sock in busy:
            sock.sendall(slow)
        time.sleep(0.1)
        # THEN A's next connection is refused at once, naming A; B's stalled connections are untouched
        refused = exchange(port, ECHO, "127.0.0.2")
        assert status_of(refused) == 503 and b"3 connections from 127.0.0.2" in refused, refused[:300]
        assert all(is_open(sock) for sock in b_socks)
    finally:
        for sock in held:
            sock.close()
        twin.stop()
