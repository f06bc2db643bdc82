"""Property: whatever a client sends, both handlers answer it: never a 5xx, never an exception, and
always a body JSON can encode. Bodies come from hypothesis: arbitrary JSON values, near-valid
requests with one part broken (integers too long to print included), arbitrary body text, and
arbitrary direct-invocation events."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from litelens.functions.explain.request import PARAMETER_KEYS
from tests.support.events import load_event
from tests.support.predict_app import EXPLAIN_APP, PREDICT_APP, import_function_app
from tests.support.responses import decoded

FEATURES = ["age", "income", "debt_ratio", "tenure"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.sampled_from([400, -5000]).map(lambda d: 10 ** abs(d) * (1 if d > 0 else -1))  # no int of > 4300 digits prints
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from([*FEATURES, "auto", "all", "shap", "lime", "good", "bad", "\ud800"])
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=16,
)
numbers = st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False)
near_rows = st.lists(st.lists(numbers | scalars, min_size=3, max_size=5), min_size=1, max_size=4)
near_objects = st.lists(
    st.dictionaries(st.sampled_from([*FEATURES, "zip"]), numbers | scalars, min_size=3, max_size=5),
    min_size=1,
    max_size=3,
)
near_columns = st.dictionaries(st.sampled_from([*FEATURES, "zip"]), st.lists(numbers | scalars, max_size=3), max_size=5)
near_parameters = st.dictionaries(
    st.sampled_from([*PARAMETER_KEYS, "nsample"]),
    json_values
    | st.integers(-5, 12_000)
    | st.just({"min_probability": 0.5})
    | st.lists(st.sampled_from(["shap", "lime", "anchors"]), max_size=3),
    max_size=4,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "instances": near_rows | near_objects | json_values,
            "inputs": near_columns | json_values,
            "parameters": near_parameters | json_values,
        },
    ),
)


@pytest.fixture(scope="module")
def apps(binary_bundle):
    # small caps keep each fuzzed explanation cheap; the caps' own checks are part of what is fuzzed
    caps = {"LITELENS_MAX_SHAP_NSAMPLES": "200", "LITELENS_MAX_LIME_NUM_SAMPLES": "300"}
    return {
        "predict": import_function_app(PREDICT_APP, binary_bundle),
        "explain": import_function_app(EXPLAIN_APP, binary_bundle, **caps),
    }


def check_answer(response):
    """Status < 500 and a body JSON can encode, for a proxy response or a direct payload."""
    status, body = decoded(response)
    json.dumps(body, allow_nan=False, ensure_ascii=False).encode("utf-8")  # strict JSON, valid UTF-8
    assert status < 500, body
    if status >= 400:
        assert set(body["error"]) >= {"code", "message"}
    return status


@FUZZ
@given(body=bodies, route=st.sampled_from(["predict", "explain"]))
def test_any_json_body_gets_an_answer_below_500(apps, lambda_context, body, route):
    try:
        text = json.dumps(body, allow_nan=True)
    except ValueError:
        assume(False)  # an integer JSON text cannot carry here; the direct-event test sends it
    event = load_event(f"{route}_rest_v1", body=text)
    check_answer(apps[route].lambda_handler(event, lambda_context))


@FUZZ
@given(text=st.text(max_size=60) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_any_body_text_gets_an_answer_below_500(apps, lambda_context, text):
    for route in ("predict", "explain"):
        check_answer(apps[route].lambda_handler(load_event(f"{route}_rest_v1", body=text), lambda_context))


@FUZZ
@given(event=bodies | st.fixed_dictionaries({"httpMethod": scalars, "path": scalars}, optional={"body": scalars}))
def test_any_direct_invocation_event_gets_an_answer_below_500(apps, lambda_context, event):
    for route in ("predict", "explain"):
        check_answer(apps[route].lambda_handler(event, lambda_context))


# --- raw values of every column kind (the mixed bundle: numeric, integer, categorical, boolean, date) -----

MIXED_COLUMNS = ["income", "score", "applicant_type", "married", "signup"]
raw_values = (
    numbers
    | scalars
    | st.sampled_from(["employed", "Retired", " self-employed", "student", "yes", "N", "TRUE", "0", "1", ""])
    | st.sampled_from(["2021-06-01", "2021-06-01T12:30:00Z", "2021-02-30", "03/01/2024", "2021-06-01T25:00"])
    | st.sampled_from([10**5000, -(10**5000), 2**64, 1e39, 0.5])
    | st.lists(scalars, max_size=2)
    | st.dictionaries(st.text(max_size=3), scalars, max_size=2)
)
raw_rows = st.lists(st.lists(raw_values, min_size=5, max_size=5), min_size=1, max_size=4)
raw_bodies = st.one_of(
    raw_rows.map(lambda rows: {"instances": rows}),
    raw_rows.map(lambda rows: {"instances": [dict(zip(MIXED_COLUMNS, row, strict=True)) for row in rows]}),
    raw_rows.map(lambda rows: {"inputs": {c: [row[j] for row in rows] for j, c in enumerate(MIXED_COLUMNS)}}),
    st.lists(
        st.dictionaries(st.sampled_from([*MIXED_COLUMNS, "customer_id", "zip"]), raw_values, min_size=4, max_size=7),
        min_size=1,
        max_size=3,
    ).map(lambda rows: {"instances": rows}),
)


@pytest.fixture(scope="module")
def mixed_predict(mixed_bundle):
    return import_function_app(PREDICT_APP, mixed_bundle)


@FUZZ
@given(body=raw_bodies)
def test_any_raw_row_of_a_mixed_schema_gets_an_answer_below_500(mixed_predict, lambda_context, body):
    # a direct invocation: Python values as they are (integers too long to print included)
    status = check_answer(mixed_predict.lambda_handler(body, lambda_context))
    if status == 200:
        # every answered row has a probability and a label, and warnings only with a column and a code
        for prediction in mixed_predict.lambda_handler(body, lambda_context)["predictions"]:
            assert prediction["label"] in ("good", "bad")
            assert all(set(w) == {"column", "code", "message"} for w in prediction.get("warnings", []))
