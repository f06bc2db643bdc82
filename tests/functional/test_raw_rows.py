"""The predict function on raw rows of every column kind (the mixed bundle: tests/support/bundles.py).

Raw values (strings, booleans spelled several ways, numbers, null, ISO dates) as lists, objects and
columnar inputs answer exactly what the TFLite model answers on ``schema.encode`` of the same rows in
column space; what the model did not see in training is a warning on the row; a value of the wrong
kind is a 400 naming the instance, the column and the kind expected."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from litelens.build.bundle.schema import UNKNOWN
from litelens.build.bundle.values import date_days
from tests.support.bundles import MIXED_SCHEMA
from tests.support.predict_app import import_predict_app
from tests.support.raw_rows import RAW, Z

NAMES = MIXED_SCHEMA.names  # income, score, applicant_type, married, signup


@pytest.fixture(scope="module")
def app(mixed_bundle):
    return import_predict_app(mixed_bundle)


def served(app, body) -> dict:
    return app.lambda_handler(body, None)


def tflite(app, Z_rows) -> np.ndarray:
    return app.MODEL.predict_batch(MIXED_SCHEMA.encode(np.asarray(Z_rows, dtype=np.float64)))[:, 0]


def objects(rows):
    return [dict(zip(NAMES, row, strict=True)) for row in rows]


def columnar(rows):
    return {"inputs": {name: [row[j] for row in rows] for j, name in enumerate(NAMES)}}


@pytest.mark.parametrize("form", ["lists", "objects", "columnar"])
def test_raw_rows_in_every_form_answer_what_the_model_answers_on_their_encoding(app, form):
    # GIVEN raw rows with strings, booleans (yes, False, N, 1, true, no), numbers, nulls and dates
    body = {"lists": {"instances": RAW}, "objects": {"instances": objects(RAW)}, "columnar": columnar(RAW)}[form]
    # WHEN the predict function answers them
    response = served(app, body)
    # THEN each probability is the TFLite model's on schema.encode of the same column-space row
    expected = tflite(app, Z)
    assert [p["probability"] for p in response["predictions"]] == pytest.approx(expected.tolist(), abs=1e-6)
    assert [p["label"] for p in response["predictions"]] == ["bad" if p >= 0.5 else "good" for p in expected]


def test_each_warning_names_its_column(app):
    rows = [
        [52000, 3, "student", "yes", "2021-06-01"],  # a level training never saw
        [900000, 3, "employed", "yes", "2021-06-01"],  # beyond the training range
        [52000, 3, "employed", "yes", "2031-06-01"],  # a date after every training date
        [None, 3, "employed", "yes", None],  # two imputed values
        [52000, 3, None, None, "2021-06-01"],  # a missing level: its own level, or (unseen) unknown
        RAW[0],
    ]
    predictions = served(app, {"instances": rows})["predictions"]
    found = [[(w["column"], w["code"]) for w in p.get("warnings", [])] for p in predictions]
    assert found == [
        [("applicant_type", "unknown_category")],
        [("income", "out_of_range")],
        [("signup", "out_of_range")],
        [("income", "imputed"), ("signup", "imputed")],
        [("married", "imputed")],
        [],
    ]
    assert "'student'" in predictions[0]["warnings"][0]["message"]
    assert "900000" in predictions[1]["warnings"][0]["message"]
    assert "warnings" not in predictions[5]
    # an unknown level is all-zero one-hot: the model's answer on that column-space row
    unknown = [[52000, 3, UNKNOWN, 1, date_days("2021-06-01")]]
    assert predictions[0]["probability"] == pytest.approx(float(tflite(app, unknown)[0]), abs=1e-6)


WRONG_KINDS = [
    # (column, value, words of the kind expected)
    ("income", "52k", "a number"),
    ("income", True, "a number"),
    ("score", [3], "a number"),
    ("applicant_type", {"kind": "employed"}, "levels"),
    ("applicant_type", [], "levels"),
    ("signup", "03/01/2024", "ISO 8601"),
    ("signup", 20240301, "ISO 8601"),
    ("married", {}, "levels"),
]


@pytest.mark.parametrize(("column", "value", "expected"), WRONG_KINDS, ids=[f"{c}={v!r}" for c, v, _ in WRONG_KINDS])
@pytest.mark.parametrize("form", ["lists", "objects", "columnar"])
def test_a_value_of_the_wrong_kind_is_a_400_naming_instance_column_and_kind(app, column, value, expected, form):
    rows = [list(RAW[0]), list(RAW[1])]
    rows[1][NAMES.index(column)] = value
    body = {"lists": {"instances": rows}, "objects": {"instances": objects(rows)}, "columnar": columnar(rows)}[form]
    error = served(app, body)["error"]
    assert (error["status"], error["code"]) == (400, "invalid_value"), error
    where = f"inputs[{column!r}][1]" if form == "columnar" else f"instance 1, column {column!r}"
    assert where in error["message"] and expected in error["message"], error["message"]


def test_a_long_wrong_value_is_quoted_short(app):
    rows = [list(RAW[0])]
    rows[0][0] = "x" * 5000
    message = served(app, {"instances": rows})["error"]["message"]
    assert "x" * 30 in message and len(message) < 200


def test_an_excluded_column_key_is_ignored_and_an_unknown_one_refused(app):
    with_id = [dict(row, customer_id=f"C-{i}") for i, row in enumerate(objects(RAW))]
    response = served(app, {"instances": with_id})
    assert [p["probability"] for p in response["predictions"]] == pytest.approx(tflite(app, Z).tolist(), abs=1e-6)
    body = columnar(RAW)
    body["inputs"]["customer_id"] = list(range(len(RAW)))
    assert "predictions" in served(app, body)
    error = served(app, {"instances": [dict(objects(RAW)[0], zip="12345")]})["error"]
    assert error["code"] == "unknown_feature" and "'zip'" in error["message"]
    error = served(app, {"instances": [{k: v for k, v in objects(RAW)[0].items() if k != "married"}]})["error"]
    assert error["code"] == "missing_feature" and "'married'" in error["message"]


def test_metadata_shows_the_schema_with_its_excluded_columns(app):
    metadata = served(app, {"httpMethod": "GET", "path": "/metadata"})
    assert [c["name"] for c in metadata["schema"]["columns"]] == NAMES
    assert metadata["schema"]["columns"][2]["levels"] == ["employed", "retired", "self-employed"]
    assert metadata["schema"]["excluded"] == [{"name": "customer_id", "reason": "ID-like: unique in every row"}]
    assert metadata["threshold"] == 0.5 and metadata["features"] == MIXED_SCHEMA.input_names()


def test_the_decision_threshold_sets_the_label(app, monkeypatch):
    p = tflite(app, Z)
    # a threshold that moves at least one row across: the largest score under 0.5, else just above the largest
    below = p[p < 0.5]
    threshold = float(below.max()) if below.size else float(np.nextafter(p.max(), 1.0))
    monkeypatch.setattr(app.MODEL, "card", dataclasses.replace(app.MODEL.card, threshold=threshold))
    labels = [x["label"] for x in served(app, {"instances": RAW})["predictions"]]
    assert labels == ["bad" if v >= threshold else "good" for v in p]
    assert labels != ["bad" if v >= 0.5 else "good" for v in p]
    assert served(app, {"httpMethod": "GET", "path": "/metadata"})["threshold"] == threshold


def test_the_serve_banner_example_is_a_real_raw_row_the_function_answers(app, mixed_bundle):
    from litelens.infra.local.serve import _example_instance

    names, example = _example_instance(str(mixed_bundle))
    assert names == NAMES and list(example) == NAMES
    assert example["applicant_type"] in ("employed", "retired", "self-employed", None)
    assert example["married"] in ("no", "yes") and isinstance(example["signup"], str)
    assert "predictions" in served(app, {"instances": [example]})
