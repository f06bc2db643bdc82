"""Keras vs served: the predict function's answer on raw JSON rows is the trained Keras model's on the
same rows encoded by the bundle's schema. The build is the real one (``build_bundle`` with a schema);
the Keras model is the one it hands to the TFLite export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from litelens.build import export
from litelens.build.bundle.schema import CATEGORICAL, DATE
from litelens.build.bundle.values import days_to_iso
from litelens.build.pipeline import BuildConfig, build_bundle
from tests.support.bundles import MIXED_SCHEMA, mixed_rows
from tests.support.predict_app import import_predict_app

pytestmark = pytest.mark.slow


def raw_value(j: int, z: float):
    """The JSON value a client sends for column ``j``'s column-space value ``z``."""
    column = MIXED_SCHEMA.columns[j]
    if column.kind == CATEGORICAL:
        if z == column.missing_code:
            return None
        level = column.levels[int(z)]
        return (level == "yes") if column.boolean else level.upper()  # booleans as JSON, levels in any case
    if math.isnan(z):
        return None
    return days_to_iso(z) if column.kind == DATE else (int(z) if column.integer else z)


def test_served_prediction_on_raw_rows_equals_the_keras_model(tmp_path, monkeypatch):
    # GIVEN a bundle from the real build over mixed column-space rows, and the Keras model it exported
    exported = []
    to_tflite = export.to_tflite

    def keep_keras_model(model, *args, **kwargs):
        exported.append(model)
        return to_tflite(model, *args, **kwargs)

    monkeypatch.setattr(export, "to_tflite", keep_keras_model)
    Z, y = mixed_rows(500, seed=3)
    config = BuildConfig(epochs=3, batch_size=32, seed=3, patience=3, background_k=8)
    build_bundle(
        Z, y, MIXED_SCHEMA.names, "default", "binary", tmp_path / "bundle", config, classes=["good", "bad"],
        log=lambda _line: None, schema=MIXED_SCHEMA,
    )  # fmt: skip
    (keras_model,) = exported
    app = import_predict_app(tmp_path / "bundle")
    # WHEN rows unseen in training travel as raw JSON (level strings, JSON booleans, ISO dates, nulls)
    Z_new, _ = mixed_rows(64, seed=11)
    rows = [[raw_value(j, z) for j, z in enumerate(row)] for row in Z_new.tolist()]
    assert any(v is None for row in rows for v in row)
    response = app.lambda_handler(json.loads(json.dumps({"instances": rows})), None)
    # THEN the served probability is Keras's on schema.encode of the same rows (float32 tolerance)
    keras_p = np.asarray(keras_model(MIXED_SCHEMA.encode(Z_new), training=False))[:, 0]
    served_p = np.array([p["probability"] for p in response["predictions"]])
    np.testing.assert_allclose(served_p, keras_p, atol=1e-5)
    imputed = [p for p, row in zip(response["predictions"], rows, strict=True) if row[0] is None]
    assert imputed and all(("income", "imputed") in [(w["column"], w["code"]) for w in p["warnings"]] for p in imputed)
