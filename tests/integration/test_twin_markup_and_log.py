"""What a hostile path does to the twin's answers and log, over the stand-in template (conftest
``twin``): every answer the twin makes itself (the gateway's 403/404/405/502, the server's framing
refusals, the Invoke API's errors) says ``X-Content-Type-Options: nosniff``, so a path with markup
quoted in a 404 is never sniffed as HTML; terminal escapes (ESC, OSC, BEL) and CR/LF in a path or a
method reach the log escaped."""

from __future__ import annotations

import json
import logging
import socket

import pytest

MARKUP = "/%3Cscript%3Ealert(1)%3C/script%3E<img/src=x/onerror=alert(1)>"
HOSTILE_PATH = "/\x1b[31mred\x1b]0;owned\x07\x1b]8;;http://evil\x1b\\click\x1b[0m\rFAKE"


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while data := sock.recv(65536):
            received += data
        return received


def head_and_body(answer: bytes) -> tuple[bytes, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


@pytest.mark.parametrize(
    ("server", "request_text", "status"),
    [
        ("api", f"GET {MARKUP} HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        ("api", f"DELETE /echo?q={MARKUP} HTTP/1.1\r\nHost: x\r\n\r\n", b"405"),
        ("api", "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n", b"502"),
        ("api", "GET /broken HTTP/1.1\r\nHost: x\r\n\r\n", b"502"),
        ("api", f"POST {MARKUP} HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", b"400"),
        ("lambda", f"GET {MARKUP} HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        ("lambda", f"TRACE {MARKUP} HTTP/1.1\r\nHost: x\r\n\r\n", b"404"),
        ("lambda", "POST /2015-03-31/functions/<b>x</b>/invocations HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", b"404"),
    ],
    ids=["404", "405", "502 a handler raised", "502 init failed", "400 framing", "invoke 404", "invoke TRACE",
         "invoke unknown function"],
)  # fmt: skip
def test_every_answer_the_twin_makes_itself_says_nosniff(twin, server, request_text, status):
    port = twin.api_port if server == "api" else twin.lambda_port
    head, body = head_and_body(raw_exchange(port, request_text.encode("latin-1")))
    assert head.startswith(b"HTTP/1.1 " + status), head
    assert b"\r\nX-Content-Type-Options: nosniff" in head and b"\r\nContent-Type: application/json" in head
    json.loads(body)  # JSON, never an HTML page


def test_a_404_quoting_markup_is_json_with_nosniff_through_the_gateway(twin):
    # the gateway's own answer: the unit-level contract the server relies on
    answer = twin.gateway.handle("GET", "/<script>alert(1)</script>", [], b"")
    assert answer.status == 404 and ("X-Content-Type-Options", "nosniff") in answer.headers


@pytest.mark.parametrize(
    "request_bytes",
    [
        f"GET {HOSTILE_PATH} HTTP/1.1\r\nHost: x\r\n\r\n".encode("latin-1"),
        b"\x1b[2J\x07 / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /\x9b31mred\x85next HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["ESC, OSC and BEL in the path", "ESC and BEL as the method", "C1 controls in the path"],
)
def test_control_characters_from_the_request_reach_the_log_escaped(twin, caplog, request_bytes):
    caplog.set_level(logging.DEBUG, logger="litelens.twin")
    answer = raw_exchange(twin.api_port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    lines = [record.getMessage() for record in caplog.records if record.name == "litelens.twin"]
    assert lines, "the request was not logged"
    for line in lines:
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in line), repr(line)
    logged = "\n".join(lines)
    assert "\\x1b" in logged or "\\x9b" in logged, logged
