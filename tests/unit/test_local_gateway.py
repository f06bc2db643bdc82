"""The local gateway's decisions, called directly: no sockets, no template file, a fake function; and the
twin's limits (key checks, the Event pool, the deadline reader over a socket pair)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from litelens.functions.common.errors import E_METHOD_NOT_ALLOWED, E_NOT_FOUND
from litelens.infra.aws.template import Route
from litelens.infra.local.container import FunctionInvokeError
from litelens.infra.local.gateway import LocalGateway
from litelens.infra.local.limits import (
    LIMIT_FLAGS,
    DeadlineReader,
    EventPool,
    RequestTimeout,
    ServerLimits,
    sigv4_access_key,
)

ROUTES = [
    Route("POST", "/predict", "PredictFunction", "Predict"),
    Route("GET", "/metadata", "PredictFunction", "Metadata"),
    Route("GET", "/items/{id}", "PredictFunction", "Item"),
]
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,POST,OPTIONS"}


class FakeFunction:
    """Records the events it is invoked with and answers what it is told to."""

    def __init__(self, answer: Any = None, error: FunctionInvokeError | None = None) -> None:
        self.answer = {"statusCode": 200, "body": "{}"} if answer is None else answer
        self.error = error
        self.events: list[tuple[Any, str | None]] = []

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        self.events.append((event, request_id))
        if self.error is not None:
            raise self.error
        return self.answer


def gateway(function: FakeFunction, **options: Any) -> LocalGateway:
    return LocalGateway(ROUTES, {"PredictFunction": function}, stage="v1", **options)


def body_of(answer) -> Any:
    return json.loads(answer.body)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}], ids=["missing", "wrong"])
def test_api_key_missing_or_wrong_is_403_and_the_function_never_runs(headers):
    function = FakeFunction()
    answer = gateway(function, api_key="k1").handle("GET", "/metadata", headers, b"")
    assert answer.status == 403 and body_of(answer) == {"message": "Forbidden"}
    assert function.events == []


def test_the_right_api_key_in_any_header_case_reaches_the_function():
    function = FakeFunction()
    answer = gateway(function, api_key="k1").handle("GET", "/metadata", [("X-Api-Key", "k1")], b"")
    assert answer.status == 200 and len(function.events) == 1


@pytest.mark.parametrize(
    "headers",
    [[("x-api-key", "k1"), ("x-api-key", "k1")], [("x-api-key", "k1"), ("X-Api-Key", "wrong")],
     [("X-Api-Key", "wrong"), ("x-api-key", "k1")]],
    ids=["same-twice", "right-first", "right-second"],
)  # fmt: skip
def test_two_api_key_headers_are_refused_whichever_holds_the_key(headers):
    function = FakeFunction()
    answer = gateway(function, api_key="k1").handle("GET", "/metadata", headers, b"")
    assert answer.status == 403 and function.events == []


def test_sigv4_access_key_is_read_from_one_authorization_header():
    signed = "AWS4-HMAC-SHA256 Credential=k1/20261201/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=ab"
    assert sigv4_access_key([("Authorization", signed)]) == "k1"
    assert sigv4_access_key([("Authorization", signed), ("authorization", signed)]) is None
    assert sigv4_access_key([("Authorization", "Bearer k1")]) is None
    assert sigv4_access_key([]) is None


def test_the_event_pool_refuses_past_its_queue_and_runs_what_it_took():
    started, release, ran = threading.Event(), threading.Event(), []

    def job(n: int):
        def run():
            started.set()
            release.wait(5)
            ran.append(n)

        return run

    pool = EventPool(workers=1, capacity=2)
    try:
        assert pool.submit(job(0)) and started.wait(5)  # the worker holds job 0
        assert pool.submit(job(1)) and pool.submit(job(2))  # two wait
        assert not pool.submit(job(3))  # the queue is full
        release.set()
        deadline = time.monotonic() + 5
        while len(ran) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        pool.close()
    assert ran == [0, 1, 2]  # what it took, it ran, in order


def test_the_deadline_reader_drops_a_trickling_request_and_an_idle_client():
    # GIVEN a connection (a socket pair: no network) read with a 0.3 s idle and 0.6 s read clock
    ours, theirs = socket.socketpair()
    try:
        reader = DeadlineReader(ours, ServerLimits(idle_seconds=0.3, read_seconds=0.6))
        buffer = bytearray(16)
        # an idle client: no byte within the idle timeout
        reader.start_request()
        with pytest.raises(TimeoutError):
            reader.readinto(memoryview(buffer))
        # a client sending one byte every 0.1 s never idles, but its request runs out of time
        started = time.monotonic()
        with pytest.raises(RequestTimeout):
            while time.monotonic() - started < 5:
                theirs.send(b"x")
                assert reader.readinto(memoryview(buffer)) == 1
                time.sleep(0.1)
        assert time.monotonic() - started < 2
        # once the request is read, the clock stops: the handler may take its time
        reader.end_request()
        theirs.send(b"y")
        received = reader.readinto(memoryview(buffer))
        assert bytes(buffer[:received]).endswith(b"y")
    finally:
        ours.close()
        theirs.close()


def test_the_deadline_reader_gives_headers_their_own_shorter_clock():
    # GIVEN a 0.3 s header clock inside a 30 s read clock, over a socket pair (no network)
    ours, theirs = socket.socketpair()
    try:
        reader = DeadlineReader(ours, ServerLimits(idle_seconds=5, header_seconds=0.3, read_seconds=30))
        buffer = bytearray(16)
        reader.start_request()
        # WHEN a client trickles its headers THEN the header clock stops it, not the read clock
        with pytest.raises(RequestTimeout, match=r"request headers not received within 0\.3 s"):
            for _ in range(50):
                theirs.send(b"x")
                reader.readinto(memoryview(buffer))
                time.sleep(0.1)
        # AND once the headers are whole, a body may take longer than the header clock
        reader.start_request()
        theirs.send(b"h")
        reader.readinto(memoryview(buffer))
        reader.end_headers()
        for _ in range(5):
            time.sleep(0.1)
            theirs.send(b"b")
            assert reader.readinto(memoryview(buffer)) >= 1
    finally:
        ours.close()
        theirs.close()


@pytest.mark.parametrize(
    "bad",
    [{"idle_seconds": 0}, {"header_seconds": 0}, {"read_seconds": -1}, {"max_connections": 0},
     {"max_client_connections": 0}, {"max_header_bytes": 100}, {"event_queue": 0}],
)  # fmt: skip
def test_server_limits_must_be_positive(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ServerLimits(**bad)


def test_every_limit_flag_is_in_the_readme_table_with_its_default():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    defaults = ServerLimits()
    for name, flag, _ in LIMIT_FLAGS:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{flag} ")), None)
        assert row is not None, f"{flag} has no row in README's limits table"
        assert f"| {getattr(defaults, name):g}" in row, row


def test_cors_preflight_is_answered_without_key_or_function():
    function = FakeFunction()
    answer = gateway(function, api_key="k1", cors_preflight=CORS).handle("OPTIONS", "/predict", {}, b"")
    assert answer.status == 200 and answer.body == b"{}"
    assert dict(answer.headers)["Access-Control-Allow-Origin"] == "*"
    assert function.events == []


def test_options_without_cors_configured_is_405():
    answer = gateway(FakeFunction()).handle("OPTIONS", "/predict", {}, b"")
    assert answer.status == 405


def test_unknown_path_is_404_in_the_functions_envelope():
    answer = gateway(FakeFunction()).handle("GET", "/nope", {}, b"")
    assert answer.status == 404
    error = body_of(answer)["error"]
    assert error["code"] == E_NOT_FOUND and error["status"] == 404
    assert "POST /predict" in error["message"]  # the message lists the routes there are


def test_wrong_method_is_405_with_allow():
    answer = gateway(FakeFunction()).handle("GET", "/predict", {}, b"")
    assert answer.status == 405 and dict(answer.headers)["Allow"] == "POST"
    error = body_of(answer)["error"]
    assert error == {"code": E_METHOD_NOT_ALLOWED, "status": 405, "message": error["message"]}


def test_the_function_sees_a_rest_v1_proxy_event_and_its_request_id_comes_back():
    # GIVEN a function answering a proxy response with single and multi-value headers
    function = FakeFunction(
        {"statusCode": 201, "headers": {"Content-Type": "text/plain"}, "multiValueHeaders": {"X-M": ["a", "b"]},
         "body": "made"}
    )  # fmt: skip
    # WHEN a request goes through the gateway
    answer = gateway(function).handle(
        "GET", "/items/a%20b", [("Host", "api.example"), ("X-T", "1"), ("X-T", "2")], b"", query="q=1&q=2&e=",
        source_ip="10.0.0.9",
    )  # fmt: skip
    # THEN the handler got the REST API (payload 1.0) event API Gateway sends
    ((event, request_id),) = function.events
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/a%20b" and event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["headers"] == {"Host": "api.example", "X-T": "2"}
    assert event["multiValueHeaders"]["X-T"] == ["1", "2"]
    assert event["queryStringParameters"] == {"q": "2", "e": ""}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "e": [""]}
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "v1" and context["path"] == "/v1/items/a%20b" and context["resourceId"] == "Item"
    assert context["requestId"] == request_id and context["domainName"] == "api.example"
    assert context["identity"]["sourceIp"] == "10.0.0.9"
    # AND its proxy response is the answer, with the request id
    assert answer.status == 201 and answer.body == b"made" and answer.function == "PredictFunction"
    assert ("X-M", "a") in answer.headers and ("X-M", "b") in answer.headers
    assert ("x-amzn-RequestId", request_id) in answer.headers


def test_a_utf8_body_is_text_and_other_bytes_are_base64():
    function = FakeFunction()
    handle = gateway(function).handle
    handle("POST", "/predict", {"Content-Type": "application/json"}, '{"x": "é"}'.encode())
    data = bytes(range(256))
    handle("POST", "/predict", {"Content-Type": "application/octet-stream"}, data)
    (text, _), (binary, _) = function.events
    assert text["body"] == '{"x": "é"}' and text["isBase64Encoded"] is False
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == data


def test_a_base64_proxy_response_is_decoded():
    payload = bytes([0, 255, 1])
    function = FakeFunction({"statusCode": 200, "body": base64.b64encode(payload).decode(), "isBase64Encoded": True})
    assert gateway(function).handle("GET", "/metadata", {}, b"").body == payload


@pytest.mark.parametrize(
    "answer",
    [
        "not a proxy response",
        {"body": "{}"},  # no statusCode
        {"statusCode": "200", "body": "{}"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "%%%", "isBase64Encoded": True},
    ],
    ids=["string", "no-status", "status-not-int", "body-not-string", "bad-base64"],
)
def test_a_malformed_proxy_response_is_502_without_internals(answer):
    result = gateway(FakeFunction(answer)).handle("GET", "/metadata", {}, b"")
    assert result.status == 502 and body_of(result) == {"message": "Internal server error"}
    assert not any(name == "x-amzn-RequestId" for name, _ in result.headers)


def test_a_failed_invocation_is_502():
    function = FakeFunction(error=FunctionInvokeError("Sandbox.Timedout", "Task timed out"))
    result = gateway(function).handle("GET", "/metadata", {}, b"")
    assert result.status == 502 and body_of(result) == {"message": "Internal server error"}
    assert result.function == "PredictFunction"
