"""The explain handler's refusals and caps: the predict parser's errors, then each explain parameter's,
each a 4xx with its code; the caps from the environment bound what a request asks and what the server
chooses; a model not finite on the instance or its samples is a 400, a wrong route a 404 or 405."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from litelens.build.bundle.schema import Schema
from litelens.functions.common import constants
from litelens.functions.explain.request import parse_parameters
from tests.support.explain_requests import call, post
from tests.support.predict_app import import_explain_app


def test_missing_feature_fixture_is_the_predict_error(binary_app, load_event, lambda_context):
    status, body = call(binary_app, load_event("explain_missing_feature"), lambda_context)
    assert status == 400
    assert body["error"]["code"] == "missing_feature"
    assert "instance 0" in body["error"]["message"] and "debt_ratio" in body["error"]["message"]


def test_unknown_explainer_fixture(binary_app, load_event, lambda_context):
    status, body = call(binary_app, load_event("explain_unknown_explainer"), lambda_context)
    assert status == 400
    assert body["error"]["code"] == "unknown_explainer" and "anchors" in body["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ([1, 2], 400, "body_not_object"),
        ({}, 400, "missing_instances"),
        ({"instances": []}, 400, "empty_instances"),
        ({"instances": [[1, 2, 3]]}, 400, "wrong_feature_count"),
        ({"instances": [[41, "52000", 0.31, 6]]}, 400, "invalid_value"),
        ({"instances": [[41, True, 0.31, 6]]}, 400, "invalid_value"),
        ({"instances": [[41, [1], 0.31, 6]]}, 400, "invalid_value"),
        ('{"instances": [[41, NaN, 0.31, 6]]}', 400, "non_finite_value"),
        ({"instances": [{"age": 1, "income": 2, "debt_ratio": 3, "tenure": 4, "zip": 5}]}, 400, "unknown_feature"),
        ({"instances": [[41, 52000, 0.31, 6]], "extra": 1}, 400, "unknown_field"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": []}, 400, "invalid_parameters"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"nsample": 10}}, 400, "unknown_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"explainers": []}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"explainers": "shap"}}, 400, "invalid_parameter"),
        (
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"explainers": ["shap", "shap"]}},
            400,
            "invalid_parameter",
        ),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"nsamples": "many"}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"nsamples": 5}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_samples": 10.5}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_samples": 99}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_features": 0}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_features": 5}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"seed": -1}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"seed": True}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"class": "maybe"}}, 400, "unknown_class"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"class": 1}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"output_space": "logit"}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"lime_sampling": "kde"}}, 400, "invalid_parameter"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"lime_sampling": 1}}, 400, "invalid_parameter"),
        (
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"output_space": "log_odds", "explainers": ["lime"]}},
            400,
            "invalid_parameter",
        ),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"explain_if": {}}}, 400, "invalid_parameter"),
        (
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"explain_if": {"max_probability": 10**400}}},
            400,
            "invalid_parameter",
        ),
        (
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"explain_if": {"min_value": 1}}},
            400,
            "unknown_parameter",
        ),
        (
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"explain_if": {"min_probability": 1.5}}},
            400,
            "invalid_parameter",
        ),
        (
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"explain_if": {"labels": ["ugly"]}}},
            400,
            "unknown_class",
        ),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"nsamples": 10_001}}, 400, "over_limit"),
        ({"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_samples": 10_001}}, 400, "over_limit"),
        ({"instances": [[41, 52000, 0.31, 6]] * 21}, 400, "too_many_instances"),
    ],
)
def test_bad_requests_are_400_with_a_code(binary_app, load_event, lambda_context, body, status, code):
    got_status, got = post(binary_app, load_event, lambda_context, body)
    assert (got_status, got["error"]["code"]) == (status, code), got
    assert got["error"]["message"]


def test_over_limit_names_the_cap(binary_app, load_event, lambda_context):
    _, body = post(
        binary_app,
        load_event,
        lambda_context,
        {"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_samples": 10_001}},
    )
    assert constants.MAX_LIME_NUM_SAMPLES in body["error"]["message"] and "10000" in body["error"]["message"]


def test_a_huge_integer_bound_in_a_direct_event_is_a_400(regression_app, lambda_context):
    # a direct invocation's event holds Python ints: 2**64 is a bound like any other (numpy's isfinite
    # refused it), 10**400 is beyond float64
    row = [[41, 52000, 0.31, 6]]
    status, body = call(
        regression_app, {"instances": row, "parameters": {"explain_if": {"min_value": 2**64}}}, lambda_context
    )
    assert status == 200 and body["explanations"] == [None]
    event = {"instances": row, "parameters": {"explain_if": {"min_value": 10**400}}}
    status, body = call(regression_app, event, lambda_context)
    assert (status, body["error"]["code"]) == (400, "invalid_parameter"), body
    assert "an integer of 401 digits" in body["error"]["message"]


@pytest.mark.parametrize(
    ("parameters", "code"),
    [
        ({"nsamples": 10**5000}, "over_limit"),
        ({"seed": -(10**5000)}, "invalid_parameter"),
        ({"explain_if": {"min_probability": 10**5000}}, "invalid_parameter"),
    ],
    ids=["nsamples", "seed", "min_probability"],
)
def test_integers_too_long_to_print_are_a_400(binary_app, lambda_context, parameters, code):
    # a direct invocation's event can hold an int Python refuses to print (over 4300 digits)
    event = {"instances": [[41, 52000, 0.31, 6]], "parameters": parameters}
    status, body = call(binary_app, event, lambda_context)
    assert (status, body["error"]["code"]) == (400, code), body
    assert "an integer of 5001 digits" in body["error"]["message"]


def test_task_specific_parameters(multiclass_app, regression_app, load_event, lambda_context):
    row = {"instances": [[41, 52000, 0.31, 6]]}
    _, body = post(multiclass_app, load_event, lambda_context, row | {"parameters": {"output_space": "log_odds"}})
    assert body["error"]["code"] == "invalid_parameter" and "binary" in body["error"]["message"]
    _, body = post(regression_app, load_event, lambda_context, row | {"parameters": {"class": "all"}})
    assert body["error"]["code"] == "invalid_parameter"
    _, body = post(
        regression_app, load_event, lambda_context, row | {"parameters": {"explain_if": {"min_probability": 0.5}}}
    )
    assert body["error"]["code"] == "unknown_parameter"


def test_caps_come_from_the_environment(binary_bundle, load_event, lambda_context):
    app = import_explain_app(
        binary_bundle,
        **{
            constants.MAX_EXPLAIN_INSTANCES: "2",
            constants.MAX_SHAP_NSAMPLES: "50",
            constants.MAX_LIME_NUM_SAMPLES: "300",
        },
    )
    rows = [[41, 52000, 0.31, 6], [29, 23000, 0.95, 1], [60, 150000, 0.05, 30]]
    _, body = post(app, load_event, lambda_context, {"instances": rows})
    assert body["error"]["code"] == "too_many_instances"
    _, body = post(app, load_event, lambda_context, {"instances": rows[:1], "parameters": {"nsamples": 51}})
    assert body["error"]["code"] == "over_limit" and constants.MAX_SHAP_NSAMPLES in body["error"]["message"]
    _, body = post(app, load_event, lambda_context, {"instances": rows[:1], "parameters": {"num_samples": 301}})
    assert body["error"]["code"] == "over_limit" and constants.MAX_LIME_NUM_SAMPLES in body["error"]["message"]
    # a filter lets a larger batch through; the rows it selects still count against the cap
    status, body = post(
        app, load_event, lambda_context, {"instances": rows, "parameters": {"explain_if": {"min_probability": 0.0}}}
    )
    assert status == 400 and body["error"]["code"] == "too_many_explanations"
    assert constants.MAX_EXPLAIN_INSTANCES in body["error"]["message"]
    status, body = post(
        app,
        load_event,
        lambda_context,
        {"instances": rows, "parameters": {"explain_if": {"min_probability": 0.999999}}},
    )
    assert status == 200 and len(body["predictions"]) == 3


def test_defaults_are_bounded_by_the_caps_with_or_without_parameters(binary_bundle, load_event, lambda_context):
    # GIVEN caps below the defaults (shap auto = 2 F + 2048 = 2056, LIME 5000)
    app = import_explain_app(
        binary_bundle, **{constants.MAX_SHAP_NSAMPLES: "50", constants.MAX_LIME_NUM_SAMPLES: "300"}
    )
    row = [[41, 52000, 0.31, 6]]
    for body in (
        {"instances": row},
        {"instances": row, "parameters": {}},
        {"instances": row, "parameters": {"nsamples": "auto"}},
    ):
        # WHEN a request leaves the sample counts to the server
        status, answer = post(app, load_event, lambda_context, body)
        # THEN the work done is the caps', not the defaults'
        assert status == 200, answer
        explanation = answer["explanations"][0]
        assert explanation["lime"]["num_samples"] == 300
        assert explanation["shap"]["nsamples"] <= 50  # 4 features: shap enumerates all 14 coalitions
        # and the parsed request (what a many-feature model would spend) is capped too
        params = parse_parameters(
            body.get("parameters"),
            SimpleNamespace(
                schema=Schema.numeric([f"x{j}" for j in range(100)]), task="binary", classes=["good", "bad"]
            ),
            app.CAPS,
        )
        assert (params.nsamples, params.num_samples) == (50, 300)


def test_rows_the_model_overflows_on_are_a_400_not_a_500(binary_bundle, load_event, lambda_context, monkeypatch):
    app = import_explain_app(binary_bundle)
    real = app.MODEL.predict_batch
    row = [[41, 52000, 0.31, 6]]
    # GIVEN a model that is not finite on the instance itself
    monkeypatch.setattr(app.MODEL, "predict_batch", lambda X: np.full_like(real(X), np.nan))
    status, body = post(app, load_event, lambda_context, {"instances": row})
    assert (status, body["error"]["code"]) == (400, "non_finite_output") and "instance 0" in body["error"]["message"]

    # GIVEN a model finite on the instance but not on some of the explainers' samples around it
    def overflow_on_samples(X):
        out = np.array(real(X), copy=True)
        if len(X) > 1:
            out[len(X) // 2] = np.inf
        return out

    monkeypatch.setattr(app.MODEL, "predict_batch", overflow_on_samples)
    monkeypatch.setattr(app.EXPLANATIONS, "_predict_batch", overflow_on_samples)  # bound at init
    for explainer in ("shap", "lime"):
        status, body = post(
            app, load_event, lambda_context, {"instances": row, "parameters": {"explainers": [explainer]}}
        )
        assert (status, body["error"]["code"]) == (400, "non_finite_output"), (explainer, body)
        assert "samples around the instance" in body["error"]["message"]


def test_wrong_route_and_method(binary_app, load_event, lambda_context):
    event = load_event("explain_rest_v1")
    event["httpMethod"] = "GET"
    status, body = call(binary_app, event, lambda_context)
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
    event = load_event("explain_rest_v1")
    event["path"] = "/explainx"
    status, body = call(binary_app, event, lambda_context)
    assert status == 404
