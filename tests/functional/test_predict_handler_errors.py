"""The predict handler's refusals: every bad body, content type, size, route and model failure gets
its status, its stable code and a message naming the place, never a trace."""

from __future__ import annotations

import json

import numpy as np
import pytest

from litelens.functions.common import constants
from tests.support.bundles import FEATURES
from tests.support.events import ROWS
from tests.support.predict_app import import_predict_app
from tests.support.responses import decoded

BAD_BODIES = [
    # (case, body text, status, code, words the message must contain)
    ("malformed json", '{"instances": [[1, 2, 3, 4]', 400, "malformed_json", ["not valid JSON"]),
    ("empty body", "", 400, "malformed_json", ["empty"]),
    ("non-object body", "[[1, 2, 3, 4]]", 400, "body_not_object", ["JSON object", "list"]),
    ("missing instances", '{"rows": [[1, 2, 3, 4]]}', 400, "unknown_field", ["'rows'"]),
    ("no instances at all", "{}", 400, "missing_instances", ["instances"]),
    ("instances not a list", '{"instances": {"age": 1}}', 400, "invalid_instances", ["list"]),
    ("empty list", '{"instances": []}', 400, "empty_instances", ["empty"]),
    ("too few features", '{"instances": [[1, 2, 3, 4], [1, 2, 3]]}', 400, "wrong_feature_count", ["instance 1", "3"]),
    ("too many features", '{"instances": [[1, 2, 3, 4, 5]]}', 400, "wrong_feature_count", ["instance 0", "5"]),
    (
        "unknown feature",
        '{"instances": [{"age": 1, "income": 2, "debt_ratio": 3, "tenure": 4, "zip": 5}]}',
        400,
        "unknown_feature",
        ["instance 0", "'zip'"],
    ),
    (
        "missing feature",
        '{"instances": [[1, 2, 3, 4], {"age": 1, "income": 2, "debt_ratio": 3}]}',
        400,
        "missing_feature",
        ["instance 1", "'tenure'"],
    ),
    ("string", '{"instances": [[1, 2, "3", 4]]}', 400, "invalid_value", ["instance 0", "'debt_ratio'", "string"]),
    ("boolean", '{"instances": [[1, 2, 3, 4], [1, true, 3, 4]]}', 400, "invalid_value", ["instance 1", "'income'"]),
    ('string "true"', '{"instances": [[1, 2, "true", 4]]}', 400, "invalid_value", ["'debt_ratio'", "string"]),
    (
        "boolean in inputs",
        '{"inputs": {"age": [1], "income": [2], "debt_ratio": [false], "tenure": [4]}}',
        400,
        "invalid_value",
        ["inputs['debt_ratio'][0]", "boolean"],
    ),
    ("NaN", '{"instances": [[1, 2, 3, NaN]]}', 400, "non_finite_value", ["instance 0", "'tenure'"]),
    ("Infinity", '{"instances": [[1, -Infinity, 3, 4]]}', 400, "non_finite_value", ["'income'"]),
    ("overflowing number", '{"instances": [[1, 2, 1e999, 4]]}', 400, "non_finite_value", ["'debt_ratio'"]),
    ("beyond float32", '{"instances": [[1, 2, 1e39, 4]]}', 400, "non_finite_value", ["float32"]),
    ("integer of 5000 digits", '{"instances": [[1, 2, 3, ' + "9" * 5000 + "]]}", 400, "malformed_json", ["digits"]),
    ("lone surrogate in the body", '{"instances": [[1, 2, 3, "\ud800"]]}', 400, "malformed_body", ["UTF-8"]),
    ("nested list", '{"instances": [[1, [2], 3, 4]]}', 400, "invalid_value", ["'income'", "list"]),
    ("3-d instances", '{"instances": [[[1, 2, 3, 4]]]}', 400, "wrong_feature_count", ["instance 0"]),
    ("scalar instance", '{"instances": [5]}', 400, "invalid_instance", ["instance 0"]),
    ("both forms", '{"instances": [[1, 2, 3, 4]], "inputs": {}}', 400, "ambiguous_input", ["either"]),
    ("inputs not an object", '{"inputs": [[1, 2, 3, 4]]}', 400, "invalid_instances", ["inputs"]),
    (
        "inputs missing column",
        '{"inputs": {"age": [1], "income": [2], "debt_ratio": [3]}}',
        400,
        "missing_feature",
        ["'tenure'"],
    ),
    (
        "inputs unknown column",
        '{"inputs": {"age": [1], "income": [2], "debt_ratio": [3], "tenure": [4], "zip": [5]}}',
        400,
        "unknown_feature",
        ["'zip'"],
    ),
    (
        "inputs ragged columns",
        '{"inputs": {"age": [1, 2], "income": [2], "debt_ratio": [3], "tenure": [4]}}',
        400,
        "column_length_mismatch",
        ["'income'"],
    ),
    (
        "inputs string value",
        '{"inputs": {"age": [1, 2], "income": [2, 3], "debt_ratio": [3, "x"], "tenure": [4, 5]}}',
        400,
        "invalid_value",
        ["inputs['debt_ratio'][1]"],
    ),
    (
        "inputs empty columns",
        '{"inputs": {"age": [], "income": [], "debt_ratio": [], "tenure": []}}',
        400,
        "empty_instances",
        ["empty"],
    ),
]


@pytest.mark.parametrize(("case", "text", "status", "code", "words"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_body_gets_4xx_with_code_and_precise_message(
    app, load_event, lambda_context, case, text, status, code, words
):
    # GIVEN a REST API event carrying a bad body
    event = load_event("predict_rest_v1", body=text)
    # WHEN the handler answers
    got_status, body = decoded(app.lambda_handler(event, lambda_context))
    # THEN a 4xx with the code, a message naming the place, and nothing internal
    assert (got_status, body["error"]["code"]) == (status, code), body
    for word in words:
        assert word in body["error"]["message"], (word, body)
    assert "Traceback" not in json.dumps(body)


def test_bad_body_in_base64_event_is_rejected_the_same_way(app, load_event, lambda_context):
    event = load_event("predict_http_v2_base64", body='{"instances": [[1, 2, "3", 4]]}', base64_body=True)
    status, body = decoded(app.lambda_handler(event, lambda_context))
    assert (status, body["error"]["code"]) == (400, "invalid_value")


def test_invalid_base64_is_a_client_error(app, load_event, lambda_context):
    event = load_event("predict_rest_v1_base64")
    event["body"] = "***not base64***"
    status, body = decoded(app.lambda_handler(event, lambda_context))
    assert (status, body["error"]["code"]) == (400, "malformed_body")


def test_wrong_content_type_is_415(app, load_event, lambda_context):
    status, body = decoded(app.lambda_handler(load_event("predict_wrong_content_type_rest_v1"), lambda_context))
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")
    assert "application/json" in body["error"]["message"]


def test_json_content_type_with_charset_is_accepted(app, load_event, lambda_context):
    event = load_event("predict_rest_v1")
    event["headers"]["Content-Type"] = "application/json; charset=utf-8"
    assert app.lambda_handler(event, lambda_context)["statusCode"] == 200


def test_malformed_json_fixture_is_400(app, load_event, lambda_context):
    status, body = decoded(app.lambda_handler(load_event("predict_malformed_json_rest_v1"), lambda_context))
    assert (status, body["error"]["code"]) == (400, "malformed_json")


def test_row_cap_from_the_environment(binary_bundle, lambda_context):
    capped = import_predict_app(binary_bundle, **{constants.MAX_INSTANCES: "3"})
    assert "predictions" in capped.lambda_handler({"instances": ROWS + ROWS[:1]}, lambda_context)
    response = capped.lambda_handler({"instances": ROWS * 2}, lambda_context)
    assert response["error"]["code"] == "too_many_instances" and "limit is 3" in response["error"]["message"]
    columnar = {"inputs": {f: [1.0] * 4 for f in FEATURES}}
    assert capped.lambda_handler(columnar, lambda_context)["error"]["code"] == "too_many_instances"


def test_body_size_cap_from_the_environment(binary_bundle, load_event, lambda_context):
    capped = import_predict_app(binary_bundle, **{constants.MAX_BODY_BYTES: "200"})
    small = load_event("predict_rest_v1")
    assert capped.lambda_handler(small, lambda_context)["statusCode"] == 200
    large = load_event("predict_rest_v1", body={"instances": ROWS * 10})
    status, body = decoded(capped.lambda_handler(large, lambda_context))
    assert (status, body["error"]["code"]) == (413, "body_too_large")
    # the cap applies to the decoded body of a base64 event too
    large64 = load_event("predict_rest_v1_base64", body={"instances": ROWS * 10}, base64_body=True)
    assert capped.lambda_handler(large64, lambda_context)["statusCode"] == 413


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/predict", 405, "method_not_allowed"),
        ("POST", "/metadata", 405, "method_not_allowed"),
        ("DELETE", "/predict", 405, "method_not_allowed"),
        ("POST", "/explain", 404, "not_found"),
        ("GET", "/", 404, "not_found"),
    ],
)
def test_unknown_path_404_known_path_wrong_method_405(app, load_event, lambda_context, method, path, status, code):
    event = load_event("predict_rest_v1")
    event["httpMethod"], event["path"], event["resource"] = method, path, path
    got, body = decoded(app.lambda_handler(event, lambda_context))
    assert (got, body["error"]["code"]) == (status, code)
    if status == 405:
        assert app.lambda_handler(event, lambda_context)["headers"]["Allow"] in ("GET", "POST")


def test_a_feature_integer_too_long_to_print_is_a_400(app, lambda_context):
    body = app.lambda_handler({"instances": [[1, 2, 3, 10**5000], [1, 2, [10**5000], 4]]}, lambda_context)
    assert body["error"]["code"] == "non_finite_value"
    assert (
        body["error"]["message"]
        == "instance 0, column 'tenure' = an integer of 5001 digits is outside the float32 range"
    )


def test_event_fields_that_are_not_strings_count_as_absent(app, lambda_context):
    # a hand-made direct event naming its route with a number (str() refuses one of 5000 digits)
    body = app.lambda_handler({"httpMethod": -(10**5000), "path": "/metadata"}, lambda_context)
    assert (body["error"]["status"], body["error"]["code"]) == (405, "method_not_allowed")


def test_lone_surrogate_in_a_direct_event_path_is_a_404_that_encodes(app, lambda_context, capsys):
    # GIVEN a direct invocation naming a path with a lone surrogate (valid in an event's JSON)
    event = {"httpMethod": "GET", "path": "/meta\ud800data"}
    # WHEN the handler answers
    body = app.lambda_handler(event, lambda_context)
    # THEN a 404 whose message and log line are both encodable JSON
    assert body["error"]["code"] == "not_found" and "\\ud800" in body["error"]["message"]
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert '"status":404' in capsys.readouterr().out


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_rows_the_model_overflows_on_are_refused_by_index(apps, load_event, lambda_context, monkeypatch, task):
    # GIVEN a model whose output for some rows is not finite (finite float32 inputs far out of range)
    app = apps[task]
    real = app.MODEL.predict_batch

    def overflowing(X):
        out = np.array(real(X), copy=True)
        out[1] = np.nan
        out[3, 0] = np.inf
        return out

    monkeypatch.setattr(app.MODEL, "predict_batch", overflowing)
    body = json.dumps({"instances": ROWS * 2})
    # WHEN those rows are requested
    status, answer_body = decoded(app.lambda_handler(load_event("predict_rest_v1", body=body), lambda_context))
    # THEN 400 naming them: no null prediction and no argmax-of-NaN label
    assert (status, answer_body["error"]["code"]) == (400, "non_finite_output")
    assert "instance 1, 3 is not finite" in answer_body["error"]["message"]


def test_unexpected_failure_is_500_with_request_id_and_logged_trace(
    app, load_event, lambda_context, capsys, monkeypatch
):
    # GIVEN a model that fails in a way no client caused
    def broken(X):
        raise RuntimeError("interpreter exploded at 0xdeadbeef")

    monkeypatch.setattr(app.MODEL, "predict_batch", broken)
    # WHEN a valid request arrives
    status, body = decoded(app.lambda_handler(load_event("predict_rest_v1"), lambda_context))
    # THEN 500 with the request id and no internals; the trace is in the log with the id
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert body["error"]["request_id"] == lambda_context.aws_request_id
    assert "0xdeadbeef" not in json.dumps(body)
    log_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    errors = [line for line in log_lines if line.get("level") == "ERROR"]
    assert (
        errors and "0xdeadbeef" in errors[0]["traceback"] and errors[0]["request_id"] == lambda_context.aws_request_id
    )
