"""What the predict function leaves behind and how it starts: one EMF log line per request, and the
cold start's load of the bundle (a corrupt or missing one fails init, the packaged one is the default)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from litelens.build.bundle import Bundle
from litelens.functions.common import constants
from tests.support.events import ROWS
from tests.support.predict_app import import_predict_app

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
