"""The local twin's protocol, with stand-in handlers in a template written by the test: the proxy
event it builds, the answers it gives for unknown routes, oversize bodies and failing handlers,
the environment it resolves from the template, and its Lambda Invoke API under boto3."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from litelens.infra.aws.template import SamTemplate
from litelens.infra.cli import main as litelens_main
from litelens.infra.local.container import PAYLOAD_LIMIT_BYTES
from litelens.infra.local.serve import Twin
from tests.support.structural_bundle import structural_bundle
from tests.support.twin_requests import lambda_client

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting: {Type: String, Default: hello}
  Flag: {Type: String, Default: "on", AllowedValues: ["on", "off"]}
  Stage: {Type: String, Default: test}
Conditions:
  FlagOn: !Equals [!Ref Flag, "on"]
Globals:
  Function:
    Environment:
      Variables:
        GREETING: !Ref Greeting
        MODE: !If [FlagOn, !Sub "${Greeting}-on", ""]
        REGION_SEEN: !Sub "${AWS::Region}"
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.lambda_handler
      Runtime: python3.12
      MemorySize: 384
      Timeout: 1
      Environment:
        Variables:
          WHO: echo
      Events:
        Echo: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /echo, Method: post}}
        Item: {Type: Api, Properties: {RestApiId: !Ref Api, Path: "/items/{id}", Method: get}}
        Boom: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /boom, Method: get}}
        Bad: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /bad, Method: get}}
        Slow: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /slow, Method: get}}
  ImageFunction:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageConfig:
        Command: ["app.lambda_handler"]
      Environment:
        Variables:
          WHO: image
      Events:
        Image: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /image, Method: get}}
    Metadata:
      DockerContext: .
      Dockerfile: img/Dockerfile
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: broken/
      Handler: app.lambda_handler
      Runtime: python3.12
      Events:
        Broken: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /broken, Method: get}}
"""

ECHO_HANDLER = """\
import json, os, threading, time
IMPORT_ENV = {k: os.environ.get(k) for k in ("GREETING", "MODE", "WHO", "REGION_SEEN")}
SEEN = {"active": 0, "max": 0}
GUARD = threading.Lock()

def lambda_handler(event, context):
    if event.get("path") == "/slow":  # how many invocations ever ran at once
        with GUARD:
            SEEN["active"] += 1
            SEEN["max"] = max(SEEN["max"], SEEN["active"])
        time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0.002)))
        with GUARD:
            SEEN["active"] -= 1
        return {"statusCode": 200, "body": json.dumps(SEEN)}
    if "httpMethod" not in event:  # direct invocation
        if event.get("raise"):
            raise ValueError("asked to raise")
        return {"echo": event, "memory": context.memory_limit_in_mb, "function": context.function_name}
    if event["path"] == "/boom":
        raise RuntimeError("boom")
    if event["path"] == "/bad":
        return "not a proxy response"
    body = {"event": event, "import_env": IMPORT_ENV, "request_id": context.aws_request_id}
    return {"statusCode": 201, "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]}, "body": json.dumps(body)}
"""

IMAGE_HANDLER = """\
import json, os
WHO = os.environ.get("WHO")

def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"who": WHO, "module": __name__})}
"""


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("twin-template")
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, code in (("echo", ECHO_HANDLER), ("img", IMAGE_HANDLER), ("broken", "raise ImportError('no model')\n")):
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(code)
    (root / "img" / "Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.12\n")
    return root


@pytest.fixture(scope="module")
def twin(template_dir):
    with Twin(SamTemplate.load(template_dir / "template.yaml"), api_port=0, lambda_port=0) as running:
        yield running


def call(twin: Twin, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


def test_routes_are_exactly_the_templates_api_events(twin):
    assert [(r.method, r.path, r.function) for _, r in twin.routes] == [
        ("POST", "/echo", "EchoFunction"),
        ("GET", "/items/{id}", "EchoFunction"),
        ("GET", "/boom", "EchoFunction"),
        ("GET", "/bad", "EchoFunction"),
        ("GET", "/slow", "EchoFunction"),
        ("GET", "/image", "ImageFunction"),
        ("GET", "/broken", "BrokenFunction"),
    ]


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


@pytest.mark.parametrize("which", ["--port", "--lambda-port"])
def test_a_port_in_use_is_a_usage_error(capsys, tmp_path, which):
    bundle = structural_bundle(tmp_path / "bundle")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--lambda-port": "0", which: str(port)}
        argv = [
            "serve",
            "--bundle",
            str(bundle.path),
            *(item for pair in ports.items() for item in pair),
            "--function",
            "PredictFunction",
        ]
        assert litelens_main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot listen on 127.0.0.1" in err


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


def test_environment_comes_from_the_template_per_function(twin):
    _, _, raw = call(twin, "POST", "/echo", body="{}")
    assert json.loads(raw)["import_env"] == {
        "GREETING": "hello",
        "MODE": "hello-on",
        "WHO": "echo",
        "REGION_SEEN": "us-east-1",
    }
    # the image function (also app.py) is its own module with its own environment
    _, _, raw = call(twin, "GET", "/image")
    image = json.loads(raw)
    assert image["who"] == "image" and image["module"].startswith("_litelens_twin_ImageFunction")


def test_parameter_overrides_and_env_overrides(template_dir):
    template = SamTemplate.load(template_dir / "template.yaml", parameter_overrides={"Flag": "off", "Greeting": "hi"})
    with Twin(template, env_overrides={"WHO": "override"}, api_port=0, lambda_port=None) as local:
        _, _, raw = call(local, "POST", "/echo", body="{}")
    assert json.loads(raw)["import_env"] == {
        "GREETING": "hi",
        "MODE": "",
        "WHO": "override",
        "REGION_SEEN": "us-east-1",
    }


def test_unknown_parameter_override_is_an_error(template_dir):
    with pytest.raises(ValueError, match="unknown template parameter"):
        SamTemplate.load(template_dir / "template.yaml", parameter_overrides={"Nope": "1"})


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


def test_environment_is_restored_after_stop(template_dir):
    before = (os.environ.get("GREETING"), os.environ.get("WHO"))
    template = SamTemplate.load(template_dir / "template.yaml", parameter_overrides={"Greeting": "restore-check"})
    with Twin(template, api_port=0, lambda_port=None):
        assert os.environ["GREETING"] == "restore-check"  # shared by every function: kept while serving
        assert os.environ.get("WHO") == before[1]  # differs per function: only set around each import
    assert (os.environ.get("GREETING"), os.environ.get("WHO")) == before


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


def test_serve_without_a_bundle_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MODEL_URI", raising=False)
    assert litelens_main(["serve", "--bundle", str(tmp_path / "missing"), "--port", "0", "--lambda-port", "0"]) == 2
    err = capsys.readouterr().err
    assert "no bundle at" in err and "--bundle" in err and err.count("\n") == 1


def test_serve_rejects_a_malformed_parameter(capsys):
    assert litelens_main(["serve", "--parameter", "NoEquals"]) == 2
    assert "is not NAME=VALUE" in capsys.readouterr().err


def test_template_short_form_tags_are_read(template_dir):
    template = SamTemplate.load(template_dir / "template.yaml")
    assert template.environment("EchoFunction")["MODE"] == "hello-on"
    assert template.stage_name() == "test"


def test_serving_a_subset_of_functions_drops_the_other_routes(template_dir):
    template = SamTemplate.load(template_dir / "template.yaml")
    with Twin(template, api_port=0, lambda_port=0, functions=["ImageFunction"]) as local:
        assert list(local.functions) == ["ImageFunction"]
        assert call(local, "GET", "/image")[0] == 200
        assert call(local, "POST", "/echo", body="{}")[0] == 404
        with pytest.raises(ClientError, match="ResourceNotFoundException"):
            lambda_client(local).invoke(FunctionName="EchoFunction", Payload=b"{}")
    with pytest.raises(ValueError, match=r"no function.*NopeFunction"):
        Twin(template, functions=["NopeFunction"])


def test_serve_command_prints_routes_serves_and_stops_on_sigterm(template_dir, tmp_path):
    # GIVEN `litelens serve` in its own process on free ports
    bundle = structural_bundle(tmp_path / "bundle")
    argv = [str(Path(sys.executable).parent / "litelens"), "serve", "--template", str(template_dir / "template.yaml")]
    argv += ["--bundle", str(bundle.path), "--port", "0", "--lambda-port", "0"]
    env = {k: v for k, v in os.environ.items() if k != "MODEL_URI"}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        banner = []
        for line in proc.stdout:
            banner.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(banner)
        # THEN the banner lists the template's routes and example curl lines with the bundle's features
        assert "GET    http://127.0.0.1:" in text and "/image" in text and "-> ImageFunction" in text
        assert "(failed to initialise: answers 502)" in text  # BrokenFunction
        assert "curl -s -X POST" in text and '"debt_ratio":' in text
        url = re.search(r"GET\s+(http://127\.0\.0\.1:\d+)/image", text).group(1)
        with urllib.request.urlopen(f"{url}/image", timeout=30) as response:
            assert json.loads(response.read())["who"] == "image"
        # and the explain page's address, which answers the page
        assert f"Explain page (a local tool, in a browser): {url}/\n" in text
        with urllib.request.urlopen(f"{url}/", timeout=30) as response:
            assert response.headers["Content-Type"].startswith("text/html") and b"explain.js" in response.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # AND SIGTERM stops it cleanly, after logging the request
    assert proc.returncode == 0, err
    assert '"GET /image" 200' in err and "shutting down" in err
