"""What the predict handler answers to a good request: every event kind and route, and each task's
predictions and metadata."""

from __future__ import annotations

import numpy as np
import pytest

from litelens.functions.common import constants
from tests.support.bundles import FEATURES
from tests.support.events import ROWS
from tests.support.predict_app import import_predict_app
from tests.support.responses import decoded


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
