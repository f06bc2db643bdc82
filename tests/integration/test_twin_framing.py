"""How the local twin reads a request's HTTP framing on either port, over stand-in handlers: chunked
bodies arrive whole and keep the connection usable; unreadable framing (lengths, codings, chunks, a
Content-Length beside Transfer-Encoding, a body cut short by a half-close) is a 4xx that closes the
connection, so what follows is never misread as the next request; a request line and headers over
10240 bytes are 414/431 in the server's JSON error shape, as are http.server's own refusals."""

from __future__ import annotations

import json
import socket

import pytest
from botocore.exceptions import ClientError

from litelens.infra.local.container import PAYLOAD_LIMIT_BYTES
from tests.support.twin_requests import lambda_client


def raw_exchange(port: int, *requests: bytes) -> bytes:
    """Send raw HTTP requests on one connection; everything the twin answers until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            for request in requests:
                sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the twin may answer and close before everything is sent: read what it said
        received = b""
        while data := sock.recv(65536):
            received += data
        return received


def chunked(body: bytes, sizes=(3, 5)) -> bytes:
    out, start = b"", 0
    for size in (*sizes, len(body)):
        piece = body[start : start + size]
        if piece:
            out += f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n"
        start += len(piece)
    return out + b"0\r\nX-Trailer: t\r\n\r\n"


def test_chunked_bodies_arrive_whole_and_keep_the_connection_usable(twin):
    # GIVEN a chunked POST followed by a plain one on the same keep-alive connection
    body = b'{"instances": [[1, 2]], "note": "chunked"}'
    first = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body)
    second = b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n{"y": 2}'
    # WHEN both are sent
    answers = raw_exchange(twin.api_port, first, second).split(b"HTTP/1.1 ")[1:]
    # THEN the handler saw each body whole, and both were answered
    assert [a[:3] for a in answers] == [b"201", b"201"]
    bodies = [json.loads(a.split(b"\r\n\r\n", 1)[1]) for a in answers]
    assert [b["event"]["body"] for b in bodies] == [body.decode(), '{"y": 2}']


@pytest.mark.parametrize(
    ("head", "rest", "status", "code"),
    [
        ("Content-Length: abc", b"", b"400", b"bad_request"),
        ("Content-Length: -5", b"", b"400", b"bad_request"),
        ("Content-Length: \xb2", b"", b"400", b"bad_request"),
        ("Content-Length: " + "9" * 5000, b"", b"413", b"payload_too_large"),
        ("Content-Length: 2\r\nContent-Length: 7", b"{}", b"400", b"bad_request"),
        ("Transfer-Encoding: gzip\r\nContent-Length: 2", b"{}", b"400", b"bad_request"),
        ("Transfer-Encoding: chunked\r\nContent-Length: 7", b"2\r\n{}\r\n0\r\n\r\n", b"400", b"bad_request"),
        ("Content-Length: 7\r\nTransfer-Encoding: chunked", b"2\r\n{}\r\n0\r\n\r\n", b"400", b"bad_request"),
        ("Transfer-Encoding: chunked", b"zz\r\nhello\r\n0\r\n\r\n", b"400", b"bad_request"),
        ("Transfer-Encoding: chunked", b"3\r\nhello\r\n0\r\n\r\n", b"400", b"bad_request"),
        ("Transfer-Encoding: chunked", f"{PAYLOAD_LIMIT_BYTES + 1:x}\r\n".encode(), b"413", b"payload_too_large"),
    ],
    ids=[
        "length not a number",
        "negative length",
        "length in non-ASCII digits",
        "length of 5000 digits",
        "conflicting lengths",
        "transfer coding other than chunked",
        "chunked with a length",
        "a length with chunked",
        "chunk size not hex",
        "chunk longer than its size",
        "chunk over limit",
    ],
)
def test_unreadable_framing_is_a_4xx_and_closes_the_connection(twin, head, rest, status, code):
    # GIVEN a request with unreadable framing, then a valid one on the same connection
    request = f"POST /echo HTTP/1.1\r\nHost: x\r\n{head}\r\n\r\n".encode("latin-1") + rest
    answer = raw_exchange(twin.api_port, request, VALID_ECHO)
    # THEN one answer in the API's error envelope, telling the client the connection is closed
    assert answer.startswith(b"HTTP/1.1 " + status) and code in answer
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.count(b"HTTP/1.1 ") == 1


VALID_ECHO = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"


@pytest.mark.parametrize(
    "ending",
    [b"0\r\nX-Long: " + b"a" * 8189 + b"\r\n\r\n", b""],
    ids=["trailer longer than a read", "connection ends before the last chunk"],
)
def test_a_chunked_body_that_does_not_end_cleanly_is_400(twin, ending):
    # GIVEN a chunked body whose ending cannot be read whole WHEN a valid request follows on the connection
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n" + ending
    answer = raw_exchange(twin.api_port, request, VALID_ECHO if ending else b"")
    # THEN a 400 and a closed connection: what follows is not mistaken for the next request
    assert answer.startswith(b"HTTP/1.1 400") and b"bad_request" in answer
    assert answer.count(b"HTTP/1.1 ") == 1


def test_invoke_api_reads_chunked_payloads_and_closes_after_an_unread_body(twin):
    # GIVEN a chunked invocation, then a plain one on the same connection
    path = b"/2015-03-31/functions/EchoFunction/invocations"
    chunked_invoke = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    plain_invoke = b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
    answers = raw_exchange(twin.lambda_port, chunked_invoke + chunked(b'{"x": 1}'), plain_invoke + b'{"y": 2}')
    # THEN both are answered with the event each sent
    parts = answers.split(b"HTTP/1.1 ")[1:]
    assert [a[:3] for a in parts] == [b"200", b"200"]
    assert [json.loads(a.split(b"\r\n\r\n", 1)[1])["echo"] for a in parts] == [{"x": 1}, {"y": 2}]
    # AND an unknown operation, whose body is not read, closes the connection instead of misreading it
    unknown = b"PUT /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    answer = raw_exchange(twin.lambda_port, unknown, plain_invoke + b'{"y": 2}')
    assert answer.startswith(b"HTTP/1.1 404") and b"UnknownOperationException" in answer
    assert b"\r\nConnection: close\r\n" in answer and answer.count(b"HTTP/1.1 ") == 1


def test_invoke_api_framing_and_huge_integers_are_invalid_content(twin):
    answer = raw_exchange(
        twin.lambda_port,
        b"POST /2015-03-31/functions/EchoFunction/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400") and b"InvalidRequestContentException" in answer
    with pytest.raises(ClientError) as huge:
        lambda_client(twin).invoke(FunctionName="EchoFunction", Payload=b'{"n": ' + b"9" * 5000 + b"}")
    assert huge.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert "digits" in huge.value.response["Error"]["Message"]


@pytest.mark.parametrize("port", ["api", "lambda"])
def test_a_body_cut_short_by_a_half_close_is_400_not_answered(twin, port):
    # GIVEN a request announcing 500 bytes whose client half-closes after 265 (raw_exchange shuts its side)
    if port == "api":
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
    else:
        head = b"POST /2015-03-31/functions/EchoFunction/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
    answer = raw_exchange(twin.api_port if port == "api" else twin.lambda_port, head + b'{"a": "' + b"x" * 258)
    # THEN 400 naming what arrived, and the handler never ran (today: 201 with the cut body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"265 of its 500 bytes" in answer and answer.count(b"HTTP/1.1 ") == 1


def header_block(size: int, line: int = 1000) -> str:
    return "".join(f"X-Pad-{n}: {'a' * (line - 12)}\r\n" for n in range(size // line))


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (f"GET /echo HTTP/1.1\r\nHost: x\r\n{header_block(60_000)}\r\n".encode(), b"431", b"headers_too_large"),
        (f"GET / HTTP/1.1\r\n{header_block(10_000)}Host: {'b' * 300}\r\n\r\n".encode(), b"431", b"headers_too_large"),
        (f"GET /{'p' * 11_000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), b"414", b"headers_too_large"),
        (b"GET /echo HTTP/1.1\r\n" + b"X: y\r\n" * 101 + b"\r\n", b"431", b"headers_too_large"),
        (b"GET /echo HTTP/7.1\r\nHost: x\r\n\r\n", b"505", b"bad_request"),
        (b"GET /echo HTTP/1.1 extra\r\nHost: x\r\n\r\n", b"400", b"bad_request"),
    ],
    ids=["60 KB of headers", "headers just over 10240 bytes", "request line over 10240 bytes", "101 headers",
         "HTTP/7.1", "a request line of four words"],
)  # fmt: skip
def test_oversized_heads_and_http_servers_own_refusals_are_json_with_nosniff(twin, request_bytes, status, code):
    answer = raw_exchange(twin.api_port, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), answer[:300]
    assert json.loads(body)["error"]["code"] == code.decode()
    assert b"\r\nContent-Type: application/json" in head and b"\r\nX-Content-Type-Options: nosniff" in head
    assert b"\r\nConnection: close" in head


def test_a_head_just_under_the_limit_is_served(twin):
    request = f"POST /echo HTTP/1.1\r\nHost: x\r\n{header_block(9_000)}Content-Length: 2\r\n\r\n{{}}".encode()
    assert len(request) < 10240
    answer = raw_exchange(twin.api_port, request)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
