"""The model runtime's checks that need no trained model: a file that is not TFLite, bundle resolution,
and the logger (tests/functional/test_predict_model_runtime.py runs trained bundles)."""

from __future__ import annotations

import pytest

from litelens.build.bundle import BundleError
from litelens.functions.common import constants
from litelens.functions.common.bundle_source import resolve_bundle
from litelens.functions.common.model import load_model
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.settings import Settings
from tests.support.structural_bundle import structural_bundle


def test_a_model_file_that_is_not_tflite_is_refused(tmp_path):
    structural_bundle(tmp_path / "fake")
    with pytest.raises(BundleError, match="not a loadable TFLite model"):
        load_model(str(tmp_path / "fake"))


def test_resolution_order(tmp_path):
    # GIVEN the settings a function reads from its environment at cold start
    settings = Settings.from_env({constants.MODEL_URI: "/from/env"})
    assert resolve_bundle(settings.model_uri, code_root=tmp_path).as_posix() == "/from/env"
    # THEN an empty MODEL_URI means the bundle packaged next to the code, and there must be one
    empty = Settings.from_env({constants.MODEL_URI: ""})
    assert resolve_bundle(empty.model_uri, code_root=tmp_path) == tmp_path / constants.PACKAGED_BUNDLE_DIR
    with pytest.raises(BundleError, match="MODEL_URI is empty"):
        resolve_bundle(empty.model_uri)
    with pytest.raises(BundleError, match="names no bucket"):
        resolve_bundle("s3:///prefix")


def test_logger_level_filters_logs_but_never_metrics(capsys):
    log = JsonLogger(service="predict", level="WARNING")
    log.info("hidden")
    log.warning("shown", rows=3)
    log.metrics("request", {"Latency": (1.5, "Milliseconds")}, request_id="r")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and '"shown"' in lines[0] and '"rows":3' in lines[0]
    assert '"Latency":1.5' in lines[1] and '"service":"predict"' in lines[1]
