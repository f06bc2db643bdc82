"""Real, messy tabular data end to end: a raw CSV (`;`, decimal comma, Latin-1, strings, booleans
spelled several ways, missing cells, an ID, a date, integer codes, a constant column, a rare positive
class) builds with no hand work, the twin serves it over template.yaml, and the API takes the
original rows and answers every attribution by original column."""

from __future__ import annotations

import http.client

import pytest

from litelens.build.bundle import Bundle
from litelens.infra.cli import main as litelens_main
from tests.support.messy_csv import EXPECTED_KINDS, write_messy_csv
from tests.support.twin_requests import get, post, serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def messy_bundle(tmp_path_factory):
    work = tmp_path_factory.mktemp("messy")
    csv = write_messy_csv(work / "applicants.csv", n_rows=800, seed=3, variant="semicolon")
    out = work / "bundle"
    code = litelens_main(["build", "--data", str(csv), "--target", "default", "--out", str(out), "--epochs", "6"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def conn(messy_bundle):
    with serving(messy_bundle) as twin:
        connection = http.client.HTTPConnection(twin.host, twin.api_port, timeout=120)
        yield connection
        connection.close()


def raw_row(**changes):
    row = {
        "customer_id": "C99999",  # excluded (ID-like): accepted and ignored
        "age": 41,
        "income": 52000.5,
        "score": 3,
        "applicant_type": "salaried",
        "married": "yes",
        "has_car": True,
        "active": 1,
        "region_code": 7,
        "signup": "2023-05-01",
    }
    return row | changes


def test_the_card_holds_the_inferred_schema(messy_bundle):
    card = Bundle.load(messy_bundle).card
    kinds = {c.name: c.kind for c in card.schema.columns}
    assert kinds == EXPECTED_KINDS
    assert {e.name for e in card.schema.excluded} >= {"customer_id", "country"}


def test_raw_rows_in_predictions_with_warnings_out(conn):
    rows = [
        raw_row(),
        # what training never saw: an unseen category, a score outside 1..6, a missing income
        raw_row(applicant_type="astronaut", score=60, income=None, married=False, has_car="no", signup=None),
    ]
    status, body = post(conn, "/predict", {"instances": rows})
    assert status == 200, body
    first, second = body["predictions"]
    assert 0.0 <= first["probability"] <= 1.0 and "warnings" not in first
    codes = {(w["column"], w["code"]) for w in second["warnings"]}
    assert codes >= {
        ("applicant_type", "unknown_category"),
        ("score", "out_of_range"),
        ("income", "imputed"),
        ("signup", "imputed"),
    }
    # the same rows as lists in schema order, and as columns, answer the same
    status, metadata = get(conn, "/metadata")
    names = [c["name"] for c in metadata["schema"]["columns"]]
    as_lists = [[row[n] for n in names] for row in rows]
    assert post(conn, "/predict", {"instances": as_lists})[1]["predictions"] == body["predictions"]
    columns = {n: [row[n] for row in rows] for n in names}
    assert post(conn, "/predict", {"inputs": columns})[1]["predictions"] == body["predictions"]


def test_a_wrong_type_is_a_400_naming_instance_column_and_kind(conn):
    status, body = post(conn, "/predict", {"instances": [raw_row(), raw_row(age="forty-one")]})
    assert status == 400 and body["error"]["code"] == "invalid_value"
    message = body["error"]["message"]
    assert "instance 1" in message and "'age'" in message and "number" in message


def test_explanations_name_original_columns(conn, messy_bundle):
    columns = Bundle.load(messy_bundle).card.schema
    status, body = post(conn, "/explain", {"instances": [raw_row(applicant_type="self-employed")]})
    assert status == 200, body
    (explanation,) = body["explanations"]
    shap = explanation["shap"]
    # THEN one SHAP value per original column (no dummies, no indicators) adding up to the score
    assert list(shap["values"]) == columns.names
    assert abs(sum(shap["values"].values()) + shap["base_value"] - shap["output"]) < 1e-6
    lime = explanation["lime"]
    assert {w["feature"] for w in lime["weights"]} <= set(columns.names)
    conditions = {w["feature"]: w["condition"] for w in lime["weights"]}
    assert conditions["applicant_type"] == "applicant_type = self-employed"
    married = columns.columns[columns.names.index("married")]
    assert married.boolean and conditions["married"] == f"married = {married.levels[1]}"  # "yes" in the file's spelling
