"""LitelensClient over HTTP and Lambda with the transports faked: headers, retries with backoff
on throttling, 5xx and connection errors, typed errors for everything else."""

from __future__ import annotations

import io
import json
import urllib.error
from email.message import Message
from types import SimpleNamespace

import pytest

from litelens.infra.client import ApiError, LitelensClient, TransportError, build_explain_request
from litelens.infra.client import api as client_mod


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def http_error(status: int, body: dict, headers: dict | None = None) -> urllib.error.HTTPError:
    msg = Message()
    for key, value in (headers or {}).items():
        msg[key] = value
    return urllib.error.HTTPError("http://x", status, "err", msg, io.BytesIO(json.dumps(body).encode()))


@pytest.fixture
def fake_urlopen(monkeypatch):
    """Script of answers (HTTPError / Exception to raise, or a dict body for 200); records requests."""
    calls: list = []
    script: list = []

    def urlopen(request, timeout):
        calls.append((request, timeout))
        answer = script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return FakeResponse(json.dumps(answer).encode())

    monkeypatch.setattr(client_mod.urllib.request, "urlopen", urlopen)
    return script, calls


def make_client(**kwargs) -> tuple[LitelensClient, list[float]]:
    sleeps: list[float] = []
    client = LitelensClient(
        "http://api.example/v1/", api_key="k-123", sleep=sleeps.append, jitter=lambda: 1.0, **kwargs
    )
    return client, sleeps


def test_predict_posts_json_with_the_api_key(fake_urlopen):
    script, calls = fake_urlopen
    script.append({"predictions": [{"value": 1.5}]})
    client, sleeps = make_client(timeout=7)
    assert client.predict([[1, 2, 3, 4]]) == {"predictions": [{"value": 1.5}]}
    request, timeout = calls[0]
    assert request.full_url == "http://api.example/v1/predict" and request.get_method() == "POST"
    assert request.get_header("X-api-key") == "k-123" and request.get_header("Content-type") == "application/json"
    assert json.loads(request.data) == {"instances": [[1, 2, 3, 4]]}
    assert timeout == 7 and sleeps == []


def test_columnar_inputs_and_metadata(fake_urlopen):
    script, calls = fake_urlopen
    script += [{"predictions": []}, {"task": "binary"}]
    client, _ = make_client()
    client.predict(inputs={"age": [1, 2]})
    assert json.loads(calls[0][0].data) == {"inputs": {"age": [1, 2]}}
    assert client.metadata() == {"task": "binary"}
    assert calls[1][0].get_method() == "GET" and calls[1][0].full_url.endswith("/metadata")


def test_throttling_and_5xx_are_retried_with_exponential_backoff(fake_urlopen):
    script, calls = fake_urlopen
    script += [http_error(429, {"message": "Too Many Requests"}), http_error(503, {}), http_error(502, {}), {"ok": 1}]
    client, sleeps = make_client(backoff_base=0.1, backoff_max=10)
    assert client.predict([[1]]) == {"ok": 1}
    assert len(calls) == 4
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])  # jitter pinned to its maximum


def test_backoff_is_capped_and_jittered(fake_urlopen):
    script, _ = fake_urlopen
    script += [*(http_error(500, {}) for _ in range(4)), {"ok": 1}]
    sleeps: list[float] = []
    client = LitelensClient("http://x", sleep=sleeps.append, jitter=lambda: 0.5, backoff_base=1, backoff_max=3)
    client.predict([[1]])
    assert sleeps == pytest.approx([0.5, 1.0, 1.5, 1.5])


def test_retry_after_header_is_honoured(fake_urlopen):
    script, _ = fake_urlopen
    script += [http_error(429, {}, {"Retry-After": "2"}), {"ok": 1}]
    client, sleeps = make_client()
    client.predict([[1]])
    assert sleeps == [2.0]


def test_client_errors_are_not_retried_and_carry_code_and_message(fake_urlopen):
    script, calls = fake_urlopen
    script.append(http_error(400, {"error": {"code": "missing_feature", "message": "instance 0: missing 'age'"}}))
    client, sleeps = make_client()
    with pytest.raises(ApiError) as exc:
        client.predict([{"income": 1}])
    assert (exc.value.status, exc.value.code, exc.value.message) == (
        400,
        "missing_feature",
        "instance 0: missing 'age'",
    )
    assert exc.value.is_client_error and len(calls) == 1 and sleeps == []


def test_retries_give_up_after_max_attempts(fake_urlopen):
    script, calls = fake_urlopen
    script += [http_error(503, {"message": "Service Unavailable"}) for _ in range(3)]
    client, _ = make_client(max_attempts=3)
    with pytest.raises(ApiError) as exc:
        client.predict([[1]])
    assert exc.value.status == 503 and exc.value.code == "gateway" and len(calls) == 3


def test_connection_errors_are_retried_then_raised_as_transport_errors(fake_urlopen):
    script, calls = fake_urlopen
    script += [urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))] * 2
    client, sleeps = make_client(max_attempts=2)
    with pytest.raises(TransportError, match="Connection refused"):
        client.predict([[1]])
    assert len(calls) == 2 and len(sleeps) == 1


def test_explain_request_is_what_the_server_accepts():
    from litelens.build.bundle.schema import Schema
    from litelens.functions.common.instances import REQUEST_FIELDS, parse_instances, reject_unknown_fields
    from litelens.functions.explain.request import Caps, parse_parameters

    # GIVEN every option the client offers
    request = build_explain_request(
        [[1, 2]], explainers=["shap"], nsamples=200, seed=3, class_name="bad", output_space="log_odds",
        explain_if={"min_probability": 0.8},
    )  # fmt: skip
    # THEN explain_if sits inside parameters, and the server's own parsers take the body as it is
    assert request == {
        "instances": [[1, 2]],
        "parameters": {
            "explainers": ["shap"], "nsamples": 200, "seed": 3, "class": "bad", "output_space": "log_odds",
            "explain_if": {"min_probability": 0.8},
        },
    }  # fmt: skip
    card = SimpleNamespace(schema=Schema.numeric(["a", "b"]), task="binary", classes=["good", "bad"])
    reject_unknown_fields(request, REQUEST_FIELDS)
    params = parse_parameters(request["parameters"], card, Caps())
    assert (params.output_space, params.explain_if.min_probability, params.nsamples) == ("log_odds", 0.8, 200)
    columnar = build_explain_request(inputs={"a": [1, 2], "b": [3, 4]}, num_features=1)
    assert columnar == {"inputs": {"a": [1, 2], "b": [3, 4]}, "parameters": {"num_features": 1}}
    assert parse_instances(columnar, card.schema, 10).X.tolist() == [[1, 3], [2, 4]]
    assert build_explain_request([[1]]) == {"instances": [[1]]}
    with pytest.raises(ValueError, match="instances or inputs"):
        build_explain_request()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("3600", 8.0),  # clamped to backoff_max
        ("-5", 1.6),  # unusable: the computed backoff (jitter 1.0 x base 0.2 x 2**3)
        ("nan", 1.6),
        ("inf", 1.6),
        ("soon", 1.6),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 1.6),  # in the past
    ],
)
def test_retry_after_is_parsed_defensively(fake_urlopen, header, expected):
    # GIVEN three throttled attempts without a hint, then one whose Retry-After is ``header``
    script, _ = fake_urlopen
    throttled = {"error": {"code": "throttled", "message": "slow down"}}
    script += [http_error(429, throttled) for _ in range(3)]
    script += [http_error(429, throttled, {"Retry-After": header}), {"predictions": []}]
    client, sleeps = make_client()
    # WHEN the client retries through them THEN the fourth wait honours a usable hint, capped, and
    # otherwise falls back to the exponential backoff of that attempt
    assert client.predict([[1.0]]) == {"predictions": []}
    assert sleeps[:3] == pytest.approx([0.2, 0.4, 0.8])
    assert sleeps[3] == pytest.approx(expected)


def test_retry_after_http_date_in_the_future():
    from email.utils import formatdate

    assert client_mod.retry_after_seconds(formatdate(1_000_030, usegmt=True), now=1_000_000) == pytest.approx(30)


def test_retry_after_in_asctime_form_is_read_as_gmt():
    # asctime's form of an HTTP-date names no zone; it is GMT, not a reason to ignore the header
    assert client_mod.retry_after_seconds("Thu Jan  1 00:16:40 1970", now=970) == pytest.approx(30)


def test_predict_request_never_reshapes_a_malformed_request():
    # GIVEN columns that are not an object: dict() would turn [[1, 2]] into {1: 2}, or raise TypeError
    # THEN they go as they are, for the server to name the mistake
    assert client_mod.predict_request(inputs=[[1, 2]]) == {"inputs": [[1, 2]]}
    assert client_mod.predict_request(inputs=5) == {"inputs": 5}
    assert client_mod.predict_request(instances={"age": 1}) == {"instances": {"age": 1}}
    with pytest.raises(ValueError, match="not both"):
        client_mod.predict_request([[1]], {"age": [1]})


def test_client_needs_exactly_one_transport():
    with pytest.raises(ValueError, match="either an API url or Lambda"):
        LitelensClient()
    with pytest.raises(ValueError, match="either an API url or Lambda"):
        LitelensClient("http://x", predict_function="F")


class FakeLambda:
    def __init__(self, answer, function_error=None):
        self.answer, self.function_error, self.calls = answer, function_error, []

    def invoke(self, FunctionName, Payload):
        self.calls.append((FunctionName, json.loads(Payload)))
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def test_lambda_invoke_sends_the_request_as_the_event():
    fake = FakeLambda({"predictions": [{"value": 2.0}]})
    client = LitelensClient(predict_function="arn:aws:lambda:us-east-1:1:function:P", lambda_client=fake)
    assert client.predict([[1, 2]]) == {"predictions": [{"value": 2.0}]}
    assert fake.calls == [("arn:aws:lambda:us-east-1:1:function:P", {"instances": [[1, 2]]})]


def test_lambda_proxy_style_answers_are_unwrapped_and_errors_typed():
    ok = FakeLambda({"statusCode": 200, "body": json.dumps({"predictions": []})})
    assert LitelensClient(predict_function="P", lambda_client=ok).predict([[1]]) == {"predictions": []}
    bad = FakeLambda({"statusCode": 400, "body": json.dumps({"error": {"code": "bad_json", "message": "m"}})})
    with pytest.raises(ApiError) as exc:
        LitelensClient(predict_function="P", lambda_client=bad).predict([[1]])
    assert (exc.value.status, exc.value.code) == (400, "bad_json")
    crashed = FakeLambda({"errorMessage": "boom", "errorType": "RuntimeError"}, function_error="Unhandled")
    with pytest.raises(ApiError) as exc:
        LitelensClient(predict_function="P", lambda_client=crashed).predict([[1]])
    assert (exc.value.status, exc.value.code, exc.value.message) == (502, "RuntimeError", "boom")


def test_lambda_client_without_the_explain_function_says_so():
    client = LitelensClient(predict_function="P", lambda_client=FakeLambda({}))
    with pytest.raises(ValueError, match="no explain function"):
        client.explain([[1]])


def test_for_lambda_against_a_loopback_twin_needs_no_aws_configuration(monkeypatch, tmp_path):
    # GIVEN no AWS credentials or region anywhere
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # WHEN pointed at the twin THEN placeholders let boto3 sign; a real endpoint gets none
    local = LitelensClient.for_lambda(endpoint_url="http://127.0.0.1:3001")
    assert local._lambda.meta.region_name == "us-east-1"
    assert local._lambda._request_signer._credentials.access_key == "litelens-local"
    remote = LitelensClient.for_lambda(endpoint_url="https://lambda.eu-west-1.amazonaws.com", region="eu-west-1")
    assert remote._lambda._request_signer._credentials is None
