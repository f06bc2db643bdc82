"""What a request to the local twin gets, over stand-in handlers (tests/support/stand_in_template.py):
the API answers as API Gateway would (the REST v1 proxy event it builds, one invocation at a time,
the function's timeout, its own 403/404/405/413, 500 when the twin fails, 502 when a handler does)
and the Lambda Invoke API as Lambda would under boto3."""

from __future__ import annotations

import base64
import json
import logging
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from litelens.infra.aws.template import SamTemplate
from litelens.infra.local.container import PAYLOAD_LIMIT_BYTES
from litelens.infra.local.serve import Twin
from tests.support.twin_requests import call, lambda_client


def test_request_becomes_a_rest_v1_proxy_event(twin):
    status, response, raw = call(
        twin, "POST", "/echo?a=1&a=2&b=", body='{"x": 1}', headers={"Content-Type": "application/json", "X-Trace": "t"}
    )
    assert status == 201
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("X-Multi") == "a, b" or response.msg.get_all("X-Multi") == ["a", "b"]
    payload = json.loads(raw)
    event = payload["event"]
    assert event["resource"] == "/echo" and event["path"] == "/echo" and event["httpMethod"] == "POST"
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/json" and event["headers"]["X-Trace"] == "t"
    assert event["multiValueHeaders"]["X-Trace"] == ["t"]
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    context = event["requestContext"]
    assert context["stage"] == "test" and context["path"] == "/test/echo" and context["resourcePath"] == "/echo"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    # the request id the handler saw is the one the response carries
    assert context["requestId"] == payload["request_id"] == response.getheader("x-amzn-RequestId")


def test_one_function_runs_one_invocation_at_a_time_like_a_lambda_container(twin):
    # GIVEN 8 clients hitting the same function at once
    def hit(_):
        return [call(twin, "GET", "/slow")[0] for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        statuses = [s for batch in pool.map(hit, range(8)) for s in batch]
    # THEN all succeed and the handler never saw two invocations overlap
    assert statuses == [200] * 80
    assert json.loads(call(twin, "GET", "/slow")[2])["max"] == 1


def test_an_invocation_over_the_function_timeout_fails_like_lambda(twin):
    # GIVEN EchoFunction's Timeout of 1 s WHEN a call takes longer THEN API Gateway's 502, not the answer
    status, _, raw = call(twin, "GET", "/slow?sleep=1.05")
    assert status == 502 and json.loads(raw) == {"message": "Internal server error"}
    response = lambda_client(twin).invoke(
        FunctionName="EchoFunction", Payload=b'{"path": "/slow", "queryStringParameters": {"sleep": "1.05"}}'
    )
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Sandbox.Timedout"


def test_binary_body_is_base64_encoded(twin):
    data = bytes(range(256))
    status, _, raw = call(twin, "POST", "/echo", body=data, headers={"Content-Type": "application/octet-stream"})
    event = json.loads(raw)["event"]
    assert status == 201 and event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == data


def test_path_parameters(twin):
    _, _, raw = call(twin, "GET", "/items/a%20b")
    event = json.loads(raw)["event"]
    assert event["pathParameters"] == {"id": "a b"} and event["resource"] == "/items/{id}"


def test_unknown_path_is_404_and_wrong_method_is_405(twin):
    # THEN the twin's own answers carry the functions' error envelope, status included
    status, _, raw = call(twin, "GET", "/nope")
    assert status == 404 and json.loads(raw)["error"]["code"] == "not_found"
    assert json.loads(raw)["error"]["status"] == 404
    status, response, raw = call(twin, "GET", "/echo")
    assert status == 405 and response.getheader("Allow") == "POST"
    assert json.loads(raw)["error"]["code"] == "method_not_allowed"
    assert json.loads(raw)["error"]["status"] == 405


def test_body_over_the_lambda_payload_limit_is_413(twin):
    # GIVEN only the headers of a too-large request WHEN sent THEN 413 comes back without reading the body
    with socket.create_connection((twin.host, twin.api_port), timeout=30) as sock:
        head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {PAYLOAD_LIMIT_BYTES + 1}\r\n\r\n"
        sock.sendall(head.encode())
        # the twin closes the connection after answering: read until then
        answer = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    assert answer.startswith("HTTP/1.1 413")
    assert '"payload_too_large"' in answer and '"status":413' in answer


def test_a_failure_of_the_twin_itself_is_answered_500_not_dropped(twin, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("twin bug")

    # GIVEN the twin's own code failing in the API handler and in the Invoke API handler
    monkeypatch.setattr(twin.gateway, "proxy_event", broken)
    monkeypatch.setattr("litelens.infra.local.invoke_api._function_name", broken)
    with caplog.at_level(logging.ERROR, logger="litelens.twin"):
        # THEN API Gateway's 500 and the Lambda service's 500, each logged with its traceback
        status, _, raw = call(twin, "POST", "/echo", body="{}")
        assert status == 500 and json.loads(raw) == {"message": "Internal server error"}
        with pytest.raises(ClientError) as failed:
            lambda_client(twin).invoke(FunctionName="EchoFunction", Payload=b"{}")
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert failed.value.response["Error"]["Code"] == "ServiceException"
    failures = [r for r in caplog.records if "the twin failed" in r.getMessage()]
    assert len(failures) == 2 and all("twin bug" in str(r.exc_info[1]) for r in failures)


def test_handler_exception_and_malformed_response_are_502_without_internals(twin):
    for path in ("/boom", "/bad", "/broken"):
        status, _, raw = call(twin, "GET", path)
        assert status == 502, path
        assert json.loads(raw) == {"message": "Internal server error"}


def test_api_key_is_enforced_when_configured(template_dir):
    with Twin(SamTemplate.load(template_dir / "template.yaml"), api_port=0, lambda_port=None, api_key="k1") as local:
        assert call(local, "GET", "/image")[0] == 403
        assert call(local, "GET", "/image", headers={"x-api-key": "wrong"})[0] == 403
        assert call(local, "GET", "/image", headers={"x-api-key": "k1"})[0] == 200


def test_boto3_lambda_invoke_by_name_and_arn(twin):
    client = lambda_client(twin)
    for name in ("EchoFunction", "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction:$LATEST"):
        response = client.invoke(FunctionName=name, Payload=json.dumps({"instances": [[1, 2]]}))
        assert response["StatusCode"] == 200 and "FunctionError" not in response
        assert json.loads(response["Payload"].read()) == {
            "echo": {"instances": [[1, 2]]},
            "memory": 384,
            "function": "EchoFunction",
        }


def test_boto3_sees_function_errors_like_lambda(twin):
    client = lambda_client(twin)
    response = client.invoke(FunctionName="EchoFunction", Payload=b'{"raise": true}')
    assert response["FunctionError"] == "Unhandled"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "asked to raise"
    response = client.invoke(FunctionName="BrokenFunction", Payload=b"{}")
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_boto3_client_errors(twin):
    client = lambda_client(twin)
    with pytest.raises(ClientError) as missing:
        client.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as bad:
        client.invoke(FunctionName="EchoFunction", Payload=b"{not json")
    assert bad.value.response["Error"]["Code"] == "InvalidRequestContentException"
    assert client.invoke(FunctionName="EchoFunction", InvocationType="DryRun", Payload=b"{}")["StatusCode"] == 204
    assert client.invoke(FunctionName="EchoFunction", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
