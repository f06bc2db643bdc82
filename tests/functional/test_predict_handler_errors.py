"""The predict handler over real event fixtures: every event kind, route, task and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from litelens.build.bundle import Bundle
from litelens.functions.common import constants
from tests.support.predict_app import import_predict_app
from tests.support.responses import decoded

ROWS = [[41, 52000, 0.31, 6], [29, 23000, 0.95, 1]]
FEATURES = ["age", "income", "debt_ratio", "tenure"]


@pytest.fixture(scope="module")
def apps(binary_bundle, multiclass_bundle, regression_bundle):
    return {
        "binary": import_predict_app(binary_bundle),
        "multiclass": import_predict_app(multiclass_bundle),
        "regression": import_predict_app(regression_bundle),
    }


@pytest.fixture(scope="module")
def app(apps):
    return apps["binary"]


def expected_outputs(app, rows) -> np.ndarray:
    return app.MODEL.predict_batch(np.asarray(rows, dtype=np.float32))


# --- event kinds -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event_name", ["predict_rest_v1", "predict_rest_v1_base64", "predict_http_v2", "predict_http_v2_base64"]
)
def test_every_api_gateway_event_kind_predicts(app, load_event, lambda_context, event_name):
    status, body = decoded(app.lambda_handler(load_event(event_name), lambda_context))
    assert status == 200, body
    outputs = expected_outputs(app, ROWS)
    assert [p["probability"] for p in body["predictions"]] == pytest.approx(outputs[:, 0].tolist())
    assert body["model"] == {"name": app.MODEL.card.name, "version": app.MODEL.card.version}


def test_object_and_columnar_forms_agree_with_lists(app, load_event, lambda_context):
    answers = [
        decoded(app.lambda_handler(load_event(name), lambda_context))
        for name in ("predict_rest_v1", "predict_objects_rest_v1", "predict_columnar_rest_v1")
    ]
    assert all(status == 200 for status, _ in answers)
    assert answers[0][1] == answers[1][1] == answers[2][1]


def test_direct_invoke_returns_the_body_object(app, load_event, lambda_context):
    response = app.lambda_handler(load_event("predict_direct"), lambda_context)
    assert "statusCode" not in response
    assert [p["probability"] for p in response["predictions"]] == pytest.approx(
        expected_outputs(app, ROWS)[:, 0].tolist()
    )


def test_direct_invoke_error_carries_status_inside(app, lambda_context):
    response = app.lambda_handler({"instances": [[1, 2, 3]]}, lambda_context)
    assert response == {
        "error": {"code": "wrong_feature_count", "message": response["error"]["message"], "status": 400}
    }
    assert "instance 0" in response["error"]["message"]


@pytest.mark.parametrize("event_name", ["metadata_rest_v1", "metadata_http_v2", "metadata_direct"])
def test_metadata_is_the_card(app, load_event, lambda_context, event_name):
    response = app.lambda_handler(load_event(event_name), lambda_context)
    body = response if event_name.endswith("direct") else decoded(response).body
    card = app.MODEL.card
    assert body["task"] == "binary" and body["features"] == FEATURES and body["classes"] == ["good", "bad"]
    assert body["version"] == card.version and body["metrics"] == card.metrics
    assert body["quantization"] == card.quantization
    assert "files" not in body  # hashes are the bundle's business


def test_http_api_named_stage_prefix_is_routed(app, load_event, lambda_context):
    event = load_event("predict_http_v2")
    event["rawPath"] = "/v1/predict"
    event["requestContext"]["stage"] = "v1"
    assert app.lambda_handler(event, lambda_context)["statusCode"] == 200


def test_cors_origin_comes_from_the_environment_at_init(binary_bundle, load_event, lambda_context, monkeypatch):
    # GIVEN a function started with an explicit origin, and one started with CORS switched off
    custom = import_predict_app(binary_bundle, **{constants.CORS_ORIGIN: "https://app.example.com"})
    off = import_predict_app(binary_bundle, **{constants.CORS_ORIGIN: ""})
    response = custom.lambda_handler(load_event("predict_rest_v1"), lambda_context)
    assert response["headers"]["Access-Control-Allow-Origin"] == "https://app.example.com"
    response = off.lambda_handler(load_event("predict_rest_v1"), lambda_context)
    assert "Access-Control-Allow-Origin" not in response["headers"]
    # THEN the environment is read once, at the cold start: a later change does not reach a warm function
    monkeypatch.setenv(constants.CORS_ORIGIN, "https://elsewhere.example.com")
    response = custom.lambda_handler(load_event("predict_rest_v1"), lambda_context)
    assert response["headers"]["Access-Control-Allow-Origin"] == "https://app.example.com"


# --- tasks -----------------------------------------------------------------------------------------


def test_binary_label_is_the_positive_class_at_or_above_half(apps, lambda_context):
    app = apps["binary"]
    rows = np.random.default_rng(0).uniform([18, 1e4, 0, 0], [90, 2e5, 1.5, 40], size=(64, 4)).tolist()
    response = app.lambda_handler({"instances": rows}, lambda_context)
    p = expected_outputs(app, rows)[:, 0]
    assert [x["label"] for x in response["predictions"]] == ["bad" if v >= 0.5 else "good" for v in p]


def test_null_is_imputed_with_the_training_median_and_warned(app, lambda_context):
    # GIVEN a bundle built from arrays: its schema records each column's median and range
    age = app.MODEL.card.schema.columns[0]
    # WHEN a row leaves age out (null) and another sends an age far beyond training
    response = app.lambda_handler({"instances": [[None, 52000, 0.31, 6], [500, 52000, 0.31, 6]]}, lambda_context)
    # THEN null is the median (it used to be a 400), each row says what the model did not see
    first, second = response["predictions"]
    assert first["probability"] == pytest.approx(expected_outputs(app, [[age.median, 52000, 0.31, 6]])[0, 0])
    assert [(w["column"], w["code"]) for w in first["warnings"]] == [("age", "imputed")]
    assert [(w["column"], w["code"]) for w in second["warnings"]] == [("age", "out_of_range")]
    assert "500" in second["warnings"][0]["message"]
    # and a row inside every range carries no warnings key at all
    plain = app.lambda_handler({"instances": [ROWS[0]]}, lambda_context)["predictions"][0]
    assert "warnings" not in plain


def test_metadata_shows_the_schema_and_the_threshold(app, lambda_context):
    metadata = app.lambda_handler({"httpMethod": "GET", "path": "/metadata"}, lambda_context)
    assert metadata["threshold"] == 0.5
    columns = metadata["schema"]["columns"]
    assert [c["name"] for c in columns] == FEATURES and {c["kind"] for c in columns} == {"numeric"}
    assert all(c["min"] <= c["median"] <= c["max"] for c in columns) and metadata["schema"]["excluded"] == []


def test_multiclass_probabilities_by_class_and_argmax_label(apps, lambda_context):
    app = apps["multiclass"]
    response = app.lambda_handler({"instances": ROWS}, lambda_context)
    outputs = expected_outputs(app, ROWS)
    for prediction, row in zip(response["predictions"], outputs, strict=True):
        assert list(prediction["probabilities"]) == ["low", "medium", "high"]
        assert list(prediction["probabilities"].values()) == pytest.approx(row.tolist())
        assert prediction["label"] == ["low", "medium", "high"][int(np.argmax(row))]
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_regression_value(apps, lambda_context):
    app = apps["regression"]
    response = app.lambda_handler({"instances": ROWS}, lambda_context)
    assert [p["value"] for p in response["predictions"]] == pytest.approx(expected_outputs(app, ROWS)[:, 0].tolist())
    metadata = app.lambda_handler({"httpMethod": "GET", "path": "/metadata"}, lambda_context)
    assert metadata["task"] == "regression" and metadata["classes"] is None and metadata["target"] == "amount"


# --- bad input -------------------------------------------------------------------------------------

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


# --- logs and metrics ------------------------------------------------------------------------------


def test_one_emf_log_line_per_request_with_request_id_rows_latency_cold_start(
    binary_bundle, load_event, lambda_context, capsys
):
    fresh = import_predict_app(binary_bundle)
    capsys.readouterr()
    fresh.lambda_handler(load_event("predict_rest_v1"), lambda_context)
    fresh.lambda_handler({"instances": [[1, 2]]}, lambda_context)
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["request_id"] == lambda_context.aws_request_id and first["cold_start"] is True
    assert first["Rows"] == 2 and first["status"] == 200 and first["Latency"] > 0
    assert second["cold_start"] is False and second["status"] == 400 and second["ClientErrors"] == 1
    assert second["error_code"] == "wrong_feature_count"
    directive = first["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "litelens" and directive["Dimensions"] == [["service"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Latency", "Rows", "ClientErrors", "ServerErrors"}
    assert all(m["Name"] in first for m in directive["Metrics"])  # EMF: each metric's value is a top-level key


def test_an_error_after_the_batch_was_read_still_counts_its_rows(app, load_event, lambda_context, capsys, monkeypatch):
    # GIVEN a model whose output is not finite: the rows are read, then the request is refused
    real = app.MODEL.predict_batch
    monkeypatch.setattr(app.MODEL, "predict_batch", lambda X: np.full_like(real(X), np.nan))
    capsys.readouterr()
    app.lambda_handler(load_event("predict_rest_v1", body=json.dumps({"instances": ROWS * 3})), lambda_context)
    # THEN the log line counts the rows the 400 read, as a 200's does
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (line["status"], line["error_code"], line["Rows"]) == (400, "non_finite_output", 6)


def test_request_id_falls_back_to_the_events(app, load_event, capsys):
    event = load_event("predict_rest_v1")
    capsys.readouterr()
    assert app.lambda_handler(event, None)["statusCode"] == 200
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["request_id"] == event["requestContext"]["requestId"]


# --- init ------------------------------------------------------------------------------------------


def test_corrupt_bundle_fails_init_with_one_log_line(binary_bundle, tmp_path, capsys):
    import shutil

    broken = tmp_path / "bundle"
    shutil.copytree(binary_bundle, broken)
    (broken / "model.tflite").write_bytes(b"\0" + (broken / "model.tflite").read_bytes()[1:])
    with pytest.raises(ValueError, match="sha256"):
        import_predict_app(broken)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["level"] == "ERROR" and "sha256" in lines[0]


def test_missing_bundle_fails_init(tmp_path, capsys):
    with pytest.raises(ValueError, match="does not exist"):
        import_predict_app(tmp_path / "nowhere")
    assert "cannot load the model bundle" in capsys.readouterr().out


def test_packaged_bundle_is_the_default(binary_bundle, tmp_path, monkeypatch, lambda_context):
    # GIVEN app.py copied next to a bundle/ folder, as the built artifact lays it out, and no MODEL_URI
    import shutil

    import tests.support.predict_app as helper

    shutil.copytree(binary_bundle, tmp_path / constants.PACKAGED_BUNDLE_DIR)
    shutil.copy(helper.PREDICT_APP, tmp_path / "app.py")
    monkeypatch.setattr(helper, "PREDICT_APP", tmp_path / "app.py")
    packaged = import_predict_app(None)
    assert packaged.MODEL.bundle.path == tmp_path / constants.PACKAGED_BUNDLE_DIR
    assert packaged.lambda_handler({"instances": ROWS}, lambda_context)["model"]["version"] == (
        Bundle.load(binary_bundle).card.version
    )
