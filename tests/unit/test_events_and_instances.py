"""Events and instances on their own (no model): event kinds, the three request forms, response encoding."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from litelens.build.bundle.schema import Schema
from litelens.functions.common import errors, events, instances, predictions

FEATURES = ["age", "income", "debt_ratio", "tenure"]
SCHEMA = Schema.numeric(FEATURES)  # a card written before schemas: no medians, so null is no value
MAX_BODY_BYTES = 6 * 1024 * 1024


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("predict_rest_v1", events.EventKind.REST_V1),
        ("predict_rest_v1_base64", events.EventKind.REST_V1),
        ("metadata_rest_v1", events.EventKind.REST_V1),
        ("predict_http_v2", events.EventKind.HTTP_V2),
        ("predict_http_v2_base64", events.EventKind.HTTP_V2),
        ("metadata_http_v2", events.EventKind.HTTP_V2),
        ("predict_direct", events.EventKind.DIRECT),
        ("metadata_direct", events.EventKind.DIRECT),
    ],
)
def test_event_kind_and_route_of_every_fixture(load_event, name, kind):
    event = load_event(name)
    request = events.decode_event(event, ("POST", "/predict"))
    assert request.kind == kind == events.event_kind(event)
    expected = ("GET", "/metadata") if name.startswith("metadata") else ("POST", "/predict")
    assert (request.method, request.path) == expected
    if name.startswith("predict"):
        assert request.json_object(MAX_BODY_BYTES)["instances"][0] == [41, 52000, 0.31, 6]


finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)
# What a body text may rule out (Request.value_hints): none, booleans, booleans and strings.
HINTS = [{}, {"booleans_possible": False}, {"booleans_possible": False, "strings_possible": False}]


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 20), st.just(4)), elements=finite32))
def test_three_request_forms_give_the_same_float32_batch(X):
    # GIVEN any batch of finite float32 values, written the three ways a client may send it
    rows = X.tolist()
    forms = [
        {"instances": rows},
        {"instances": [dict(zip(FEATURES, row, strict=True)) for row in rows]},
        {"inputs": {f: X[:, j].tolist() for j, f in enumerate(FEATURES)}},
    ]
    for body in forms:
        for hints in HINTS:
            # WHEN it travels as JSON text and is parsed (by each conversion the hints allow)
            parsed = instances.parse_instances(json.loads(json.dumps(body)), SCHEMA, 100, **hints).X
            # THEN it is exactly the batch the client meant
            assert parsed.dtype == np.float32 and parsed.flags.c_contiguous
            np.testing.assert_array_equal(parsed, X)


NON_NUMBERS = [
    ("3", "invalid_value"),
    (None, "invalid_value"),
    ([3], "invalid_value"),
    ({}, "invalid_value"),
    (1e39, "non_finite_value"),
    (10**400, "non_finite_value"),
    (math.nan, "non_finite_value"),
]


@pytest.mark.parametrize(
    ("value", "code", "hints"),
    [(value, code, HINTS[1]) for value, code in NON_NUMBERS]
    # a body whose text rules out strings holds none: every other non-number
    + [(value, code, HINTS[2]) for value, code in NON_NUMBERS if not isinstance(value, str)],
)
def test_without_the_type_scan_every_non_number_is_still_caught(value, code, hints):
    rows = [[1, 2, 3, 4], [1, 2, value, 4]]
    with pytest.raises(errors.ClientError) as exc:
        instances.parse_instances({"instances": rows}, SCHEMA, 10, **hints)
    assert exc.value.code == code and exc.value.message.startswith("instance 1, column 'debt_ratio'")


@pytest.mark.parametrize(
    ("body", "booleans", "strings"),
    [
        ('{"instances": [[1, 2.5, 3, 4]]}', False, False),  # no "u", no "l": no substring search needed
        ('{"instances": [[1, 2]], "parameters": {"explainers": ["lime"], "num_samples": 9}}', False, True),
        ('{"instances": [{"age": 1, "income": 2, "debt_ratio": 3, "tenure": 4}]}', False, True),
        ('{"instances": [[1, true, 3, 4]]}', True, False),
        ('{"instances": [[1, false, 3, 4]]}', True, False),
        ('{"instances": [[1, null, 3, 4]], "x": "false"}', True, True),  # a false inside a string: merely possible
        ('{"instances": [[1, "2", 3, 4]]}', False, True),
        ('{"instances": [[1, {}, 3, 4]], "\\"": 1}', False, True),  # an escaped quote counts too: merely possible
    ],
)
def test_request_knows_what_its_body_text_rules_out(load_event, body, booleans, strings):
    request = events.decode_event(load_event("predict_rest_v1", body=body), ("POST", "/predict"))
    request.json_object(MAX_BODY_BYTES)
    assert request.value_hints() == {"booleans_possible": booleans, "strings_possible": strings}


def test_fixture_body_holds_only_numbers(load_event):
    plain = events.decode_event(load_event("predict_rest_v1"), ("POST", "/predict"))
    plain.json_object(MAX_BODY_BYTES)
    assert plain.value_hints() == {"booleans_possible": False, "strings_possible": False}


def test_integers_and_mixed_object_and_list_rows_are_accepted():
    body = {"instances": [[1, 2, 3, 4], {"tenure": 8, "debt_ratio": 7.5, "income": 6, "age": 5}]}
    np.testing.assert_array_equal(instances.parse_instances(body, SCHEMA, 10).X, [[1, 2, 3, 4], [5, 6, 7.5, 8]])


def test_orjson_refusals_fall_back_to_the_stdlib_reader():
    # NaN/Infinity literals are what orjson refuses and the stdlib reads
    assert math.isnan(events.loads('{"a": NaN}')["a"]) and events.loads('{"a": 1e999}')["a"] == math.inf
    with pytest.raises(json.JSONDecodeError, match="line 2 column"):
        events.loads('{"a":\n ]')


def test_huge_integer_is_a_client_error_not_an_overflow():
    with pytest.raises(errors.ClientError) as exc:
        instances.parse_instances({"instances": [[1, 2, 3, 10**400]]}, SCHEMA, 10)
    assert exc.value.code == errors.E_NON_FINITE_VALUE and "'tenure'" in exc.value.message


def test_other_top_level_keys_are_left_to_the_caller():
    body = {"instances": [[1, 2, 3, 4]], "parameters": {"explainers": ["shap"]}}
    assert instances.parse_instances(body, SCHEMA, 10).X.shape == (1, 4)
    instances.reject_unknown_fields(body, ("instances", "parameters"))
    with pytest.raises(errors.ClientError) as exc:
        instances.reject_unknown_fields(body, ("instances",))
    assert exc.value.code == errors.E_UNKNOWN_FIELD and "'parameters'" in exc.value.message


def test_first_bad_value_is_named_even_after_good_rows():
    rows = [[1.0, 2.0, 3.0, 4.0]] * 50 + [[1.0, 2.0, 3.0, None]]
    with pytest.raises(errors.ClientError) as exc:
        instances.parse_instances({"instances": rows}, SCHEMA, 100)
    assert exc.value.message.startswith("instance 50, column 'tenure' must be a number, got null")


def test_direct_response_is_the_payload_and_proxy_response_is_strict_json():
    payload = {"predictions": [{"value": 1.5}]}
    assert events.encode_response(200, payload, events.EventKind.DIRECT, {}) is payload
    response = events.encode_response(
        200, payload, events.EventKind.REST_V1, {**events.response_headers("*"), "X-Extra": "1"}
    )
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is False
    assert response["headers"]["Content-Type"] == "application/json" and response["headers"]["X-Extra"] == "1"
    assert json.loads(response["body"]) == payload
    # non-finite numbers never reach a client as the non-JSON literals NaN/Infinity
    strict = events.encode_response(200, {"value": math.nan}, events.EventKind.REST_V1, {})["body"]
    assert json.loads(strict, parse_constant=lambda literal: pytest.fail(f"{literal} in {strict}")) == {"value": None}


def test_non_finite_model_outputs_become_null():
    class Card:
        task, classes, name, version = "regression", None, "m", "v"

    got = predictions.format_predictions(Card(), np.array([[1.0], [np.inf]], dtype=np.float32))
    assert got == [{"value": 1.0}, {"value": None}]


@pytest.mark.parametrize("layout", ["instances", "inputs"])
def test_a_number_a_hair_above_float32s_largest_is_a_400_not_a_500(layout):
    # GIVEN 3.402823466385289e+38: above float32's largest, yet its float32 cast rounds to a finite value
    # (schemathesis found it: the fast path let it through, then the range warnings' reader raised)
    schema = Schema.numeric(["a", "b"])
    just_above = 3.402823466385289e38
    assert just_above > float(np.finfo(np.float32).max) and np.isfinite(np.float32(just_above))
    body = {"instances": [[0.0, just_above]]} if layout == "instances" else {"inputs": {"a": [0.0], "b": [just_above]}}
    with pytest.raises(errors.ClientError) as raised:
        instances.parse_instances(body, schema, 10)
    assert raised.value.status == 400 and raised.value.code == errors.E_NON_FINITE_VALUE
