"""What one client may hold on the twin, over real sockets on 127.0.0.1: slow or lying clients are
dropped by the idle and read timeouts, connections past the bound are refused at once, Event
invocations queue in a bounded pool, and ``--api-key`` guards the Invoke API as it does the API.

Stand-in handlers in a template written by the test; the limits are shrunk so each case takes a
second or two."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from litelens.infra.aws.template import SamTemplate
from litelens.infra.local.limits import ServerLimits
from litelens.infra.local.serve import Twin
from tests.support.twin_requests import lambda_client

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: test
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.lambda_handler
      Runtime: python3.12
      Timeout: 10
      Events:
        Echo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /echo, Method: post}}
"""

HANDLER = """\
import json, time
RAN = []

def lambda_handler(event, context):
    if "httpMethod" in event:
        time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0)))
        return {"statusCode": 200, "body": event["body"] or ""}
    if event.get("report"):
        return {"ran": RAN}
    time.sleep(event.get("sleep", 0))
    RAN.append(event.get("n"))
    return {"n": event.get("n")}
"""

LIMITS = ServerLimits(idle_seconds=0.5, read_seconds=1.0, max_connections=3, event_workers=1, event_queue=2)
# How long a test waits for the twin to act before calling it a hang (today's code never acts).
HANG = 5.0


@pytest.fixture(scope="module")
def template_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("twin-limits")
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "echo").mkdir()
    (root / "echo" / "app.py").write_text(HANDLER)
    return root / "template.yaml"


@pytest.fixture
def twin(template_path):
    with Twin(SamTemplate.load(template_path), api_port=0, lambda_port=0, limits=LIMITS) as running:
        yield running


@pytest.fixture
def keyed_twin(template_path):
    with Twin(SamTemplate.load(template_path), api_port=0, lambda_port=0, api_key="k1", limits=LIMITS) as running:
        yield running


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=HANG)
    sock.settimeout(HANG)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the twin sends until it closes the connection (a hang raises TimeoutError)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def trickle(sock: socket.socket, every: float = 0.2) -> tuple[bytes, bool]:
    """Send one byte every ``every`` seconds until the twin answers or closes (or HANG passes):
    (what it answered, whether it closed the connection)."""
    answer = b""
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        try:
            sock.sendall(b"1")
        except (BrokenPipeError, ConnectionResetError):
            return answer, True
        sock.settimeout(every)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return answer, True
        if not chunk:
            return answer, True
        answer += chunk
    return answer, False


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def invoke_request(name: str, payload: bytes, *headers: str) -> bytes:
    lines = [f"POST /2015-03-31/functions/{name}/invocations HTTP/1.1", "Host: x", *headers]
    return ("\r\n".join([*lines, f"Content-Length: {len(payload)}"]) + "\r\n\r\n").encode() + payload


# -- timeouts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("server", ["api", "lambda"])
def test_a_client_sending_its_headers_a_byte_at_a_time_is_dropped_at_the_read_deadline(twin, server):
    # GIVEN a client that never idles (a byte every 0.2 s) but never finishes its headers
    port = twin.api_port if server == "api" else twin.lambda_port
    sock = connect(port)
    started = time.monotonic()
    try:
        sock.sendall(b"POST /echo HTTP/1.1\r\nX-Slow: ")
        _, closed = trickle(sock)
    finally:
        sock.close()
    # THEN the twin closes it once its read deadline (1 s) passes, not later
    assert closed, "the connection was still open"
    assert time.monotonic() - started < LIMITS.read_seconds + 2


@pytest.mark.parametrize("server", ["api", "lambda"])
def test_a_content_length_larger_than_the_body_sent_times_out_with_408(twin, server):
    # GIVEN a request announcing 100 bytes and sending 10, then nothing
    port = twin.api_port if server == "api" else twin.lambda_port
    if server == "api":
        head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    else:
        head = b"POST /2015-03-31/functions/EchoFunction/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    sock = connect(port)
    started = time.monotonic()
    try:
        sock.sendall(head + b'{"a": 1234')
        answer = read_until_closed(sock)
    finally:
        sock.close()
    # THEN after the idle timeout: 408 and the connection closed (today: a thread held forever)
    assert status_of(answer) == 408, answer[:200]
    assert b"Connection: close" in answer
    assert time.monotonic() - started < LIMITS.idle_seconds + 2


def test_a_body_trickling_in_is_answered_408_at_the_read_deadline(twin):
    sock = connect(twin.api_port)
    started = time.monotonic()
    try:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        answer, _ = trickle(sock)
    finally:
        sock.close()
    assert status_of(answer) == 408, answer[:200]
    assert b"within 1 s" in answer
    assert time.monotonic() - started < LIMITS.read_seconds + 2


def test_an_idle_keep_alive_connection_is_closed_and_a_served_one_works_meanwhile(twin):
    # GIVEN one connection that sends nothing, and one that makes a request
    idle = connect(twin.api_port)
    busy = connect(twin.api_port)
    started = time.monotonic()
    try:
        busy.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        assert status_of(read_until_closed(busy)) == 200
        # THEN the idle one is closed after the idle timeout
        assert read_until_closed(idle) == b""
        assert LIMITS.idle_seconds - 0.1 <= time.monotonic() - started < LIMITS.idle_seconds + 2
    finally:
        idle.close()
        busy.close()


# -- connections ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("server", "status"), [("api", 503), ("lambda", 429)])
def test_connections_past_the_bound_are_refused_at_once_while_every_one_is_answering(twin, server, status):
    # GIVEN as many connections as the bound, each with a request being answered (the function sleeps
    # 0.3 s and runs one invocation at a time, so none of them waits for its client: none gives way)
    port = twin.api_port if server == "api" else twin.lambda_port
    if server == "api":
        slow = b"POST /echo?sleep=0.3 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    else:
        slow = invoke_request("EchoFunction", b'{"sleep": 0.3}', "Connection: close")
    held = [connect(port) for _ in range(LIMITS.max_connections)]
    try:
        for sock in held:
            sock.sendall(slow)
        time.sleep(0.1)  # let the server read them all
        # WHEN one more connects THEN it is answered at once (not queued behind the held ones) and closed
        extra = connect(port)
        answer = read_until_closed(extra)
        extra.close()
        assert status_of(answer) == status, answer[:200]
        assert b"3 connections" in answer and b"nosniff" in answer
        if server == "lambda":
            assert body_of(answer)["__type"] == "TooManyRequestsException"
        # AND every held request is answered
        assert [status_of(read_until_closed(sock)) for sock in held] == [200] * len(held)
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)  # the held connections' threads end
    again = connect(port)
    try:
        if server == "api":
            again.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        else:
            again.sendall(invoke_request("EchoFunction", b"{}", "Connection: close"))
        assert status_of(read_until_closed(again)) == 200
    finally:
        again.close()


# -- Event invocations ------------------------------------------------------------------------------


def test_event_invocations_queue_in_a_bounded_pool_and_the_rest_get_429(twin):
    client = lambda_client(twin)
    statuses, codes = [], []
    for n in range(6):
        try:
            response = client.invoke(
                FunctionName="EchoFunction", InvocationType="Event", Payload=json.dumps({"n": n, "sleep": 0.3})
            )
            statuses.append(response["StatusCode"])
        except ClientError as exc:
            statuses.append(exc.response["ResponseMetadata"]["HTTPStatusCode"])
            codes.append(exc.response["Error"]["Code"])
    accepted = [n for n, s in enumerate(statuses) if s == 202]
    # THEN one runs, two wait, the rest are refused like Lambda's throttle
    assert set(statuses) == {202, 429}, statuses
    assert 2 <= len(accepted) <= 1 + LIMITS.event_queue, statuses
    assert set(codes) == {"TooManyRequestsException"}
    # AND every accepted invocation really runs
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        ran = json.loads(client.invoke(FunctionName="EchoFunction", Payload=b'{"report": true}')["Payload"].read())
        if len(ran["ran"]) == len(accepted):
            break
        time.sleep(0.1)
    assert sorted(ran["ran"]) == accepted


# -- the key on the Invoke API --------------------------------------------------------------------


def keyed_client(twin: Twin, key: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda", endpoint_url=twin.lambda_url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key="anything", config=Config(retries={"max_attempts": 0}),
    )  # fmt: skip


@pytest.mark.parametrize("invocation_type", ["RequestResponse", "Event", "DryRun"])
def test_the_invoke_api_refuses_calls_without_the_twins_key(keyed_twin, invocation_type):
    with pytest.raises(ClientError) as refused:
        keyed_client(keyed_twin, "someone-else").invoke(
            FunctionName="EchoFunction", InvocationType=invocation_type, Payload=b'{"n": 99}'
        )
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    ran = keyed_client(keyed_twin, "k1").invoke(FunctionName="EchoFunction", Payload=b'{"report": true}')
    assert 99 not in json.loads(ran["Payload"].read())["ran"]  # the refused call never ran


def test_the_invoke_api_takes_the_key_as_boto3s_key_id_or_one_x_api_key_header(keyed_twin):
    response = keyed_client(keyed_twin, "k1").invoke(FunctionName="EchoFunction", Payload=b'{"n": 1}')
    assert response["StatusCode"] == 200 and json.loads(response["Payload"].read()) == {"n": 1}
    for headers, status in (
        (["x-api-key: k1"], 200),
        (["x-api-key: wrong"], 403),
        (["x-api-key: k1", "x-api-key: k1"], 403),
        (["x-api-key: wrong", "x-api-key: k1"], 403),
        ([], 403),
    ):
        sock = connect(keyed_twin.lambda_port)
        try:
            sock.sendall(invoke_request("EchoFunction", b'{"n": 2}', *headers, "Connection: close"))
            answer = read_until_closed(sock)
        finally:
            sock.close()
        assert status_of(answer) == status, (headers, answer[:200])


def test_the_api_refuses_two_x_api_key_headers(keyed_twin):
    for headers, status in ((["x-api-key: k1"], 200), (["x-api-key: k1", "x-api-key: k1"], 403)):
        sock = connect(keyed_twin.api_port)
        try:
            lines = ["POST /echo HTTP/1.1", "Host: x", *headers, "Content-Length: 2", "Connection: close"]
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n{}").encode())
            assert status_of(read_until_closed(sock)) == status, headers
        finally:
            sock.close()


def test_serve_flags_set_the_limits_and_turn_the_invoke_api_off():
    import argparse

    from litelens.infra.local import serve

    parser = argparse.ArgumentParser()
    serve.add_arguments(parser)
    args = parser.parse_args(["--lambda-port", "off", "--idle-timeout", "2", "--read-timeout", "3", "--header-timeout",
                              "1.5", "--max-client-connections", "7", "--max-header-bytes", "4096"])  # fmt: skip
    assert args.lambda_port is None and (args.idle_seconds, args.read_seconds, args.header_seconds) == (2.0, 3.0, 1.5)
    assert (args.max_client_connections, args.max_header_bytes) == (7, 4096)
    assert parser.parse_args([]).lambda_port == serve.DEFAULT_LAMBDA_PORT
    with pytest.raises(SystemExit):
        parser.parse_args(["--lambda-port", "nope"])
