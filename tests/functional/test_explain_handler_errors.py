"""functions/explain/app.py over the event fixtures and the three task bundles: responses, quality, errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from litelens.build.bundle.schema import Schema
from litelens.functions.common import constants
from litelens.functions.explain.request import parse_parameters
from tests.support.predict_app import import_function_app
from tests.support.responses import decoded

EXPLAIN_APP = Path(__file__).resolve().parents[2] / "functions" / "explain" / "app.py"
FEATURES = ["age", "income", "debt_ratio", "tenure"]


def import_explain_app(bundle, **env):
    """A fresh explain module (its own cold start) serving ``bundle``; env vars apply during import only."""
    return import_function_app(EXPLAIN_APP, bundle, **env)


@pytest.fixture(scope="module")
def binary_app(binary_bundle):
    return import_explain_app(binary_bundle)


@pytest.fixture(scope="module")
def multiclass_app(multiclass_bundle):
    return import_explain_app(multiclass_bundle)


@pytest.fixture(scope="module")
def regression_app(regression_bundle):
    return import_explain_app(regression_bundle)


def call(app, event, lambda_context):
    return decoded(app.lambda_handler(event, lambda_context))


def post(app, load_event, lambda_context, body):
    return call(app, load_event("explain_rest_v1", body=body), lambda_context)


def check_shap_additivity(app, X, explanation, cls_index):
    """Independent check: sum(values) + base equals the model's own output for the explained class."""
    outputs = app.MODEL.predict_batch(np.asarray(X, dtype=np.float32)).astype(np.float64)
    p = outputs[:, 0] if app.MODEL.card.task != "multiclass" else outputs[:, cls_index]
    if app.MODEL.card.task == "binary" and cls_index == 0:
        p = 1 - p
    shap = explanation["shap"]
    total = sum(shap["values"].values()) + shap["base_value"]
    assert total == pytest.approx(float(p[0]), abs=1e-6)
    assert shap["output"] == pytest.approx(float(p[0]), abs=1e-9)
    assert shap["additivity_gap"] == pytest.approx(abs(total - shap["output"]), abs=1e-12)
    assert shap["additivity_gap"] <= 1e-6


# --- the three tasks over the fixtures ------------------------------------------------------------


def test_binary_rest_v1_explains_the_predicted_class_with_every_field(binary_app, load_event, lambda_context):
    event = load_event("explain_rest_v1")
    status, body = call(binary_app, event, lambda_context)
    assert status == 200
    X = json.loads(event["body"])["instances"]
    assert len(body["predictions"]) == len(body["explanations"]) == 2
    assert body["model"] == {"name": binary_app.MODEL.card.name, "version": binary_app.MODEL.card.version}
    for row, prediction, explanation in zip(X, body["predictions"], body["explanations"], strict=True):
        # the predictions are exactly the predict function's
        assert set(prediction) == {"probability", "label"}
        assert explanation["class"] == prediction["label"]
        cls_index = ["good", "bad"].index(prediction["label"])
        assert list(explanation["shap"]["values"]) == FEATURES
        assert explanation["shap"]["output_space"] == "probability"
        check_shap_additivity(binary_app, [row], explanation, cls_index)
        lime = explanation["lime"]
        assert {w["feature"] for w in lime["weights"]} == set(FEATURES)
        assert all(w["feature"] in w["condition"] for w in lime["weights"])
        assert lime["local_prediction"] == pytest.approx(lime["intercept"] + sum(w["weight"] for w in lime["weights"]))
        p_class = prediction["probability"] if cls_index == 1 else 1 - prediction["probability"]
        # the default LIME: sampled around the row, explaining the class's log-odds
        assert (lime["sampling"], lime["output_space"]) == ("continuous", "log_odds")
        assert lime["model_prediction"] == pytest.approx(np.log(p_class / (1 - p_class)), abs=1e-4)
        assert lime["local_error"] == pytest.approx(abs(lime["local_prediction"] - lime["model_prediction"]))
        assert "rest" not in lime
        assert -1.0 <= lime["score"] <= 1.0
        assert isinstance(explanation["warnings"], list)
        agreement = explanation["agreement"]
        assert agreement["k"] == 4 and 0 <= agreement["overlap"] <= 4
        assert agreement["overlap"] == len(set(agreement["shap_top"]) & set(agreement["lime_top"]))
        assert agreement["columns"] == len(set(agreement["shap_top"]) | set(agreement["lime_top"]))


def test_binary_class_names_the_other_class_and_mirrors(binary_app, load_event, lambda_context):
    row = [41, 52000, 0.31, 6]
    both = {}
    for cls in ("good", "bad"):
        status, body = post(binary_app, load_event, lambda_context, {"instances": [row], "parameters": {"class": cls}})
        assert status == 200
        both[cls] = body["explanations"][0]
        assert both[cls]["class"] == cls
    for f in FEATURES:
        assert both["good"]["shap"]["values"][f] == pytest.approx(-both["bad"]["shap"]["values"][f], abs=1e-9)
    assert both["good"]["shap"]["base_value"] == pytest.approx(1 - both["bad"]["shap"]["base_value"])


def test_binary_log_odds_space_adds_up_to_the_logit(binary_app, load_event, lambda_context):
    row = [29, 23000, 0.95, 1]
    body = {"instances": [row], "parameters": {"output_space": "log_odds", "class": "bad"}}
    status, out = post(binary_app, load_event, lambda_context, body)
    assert status == 200
    shap = out["explanations"][0]["shap"]
    p = out["predictions"][0]["probability"]
    assert shap["output_space"] == "log_odds"
    assert sum(shap["values"].values()) + shap["base_value"] == pytest.approx(np.log(p / (1 - p)), abs=1e-5)


def test_multiclass_http_v2_all_classes(multiclass_app, load_event, lambda_context):
    event = load_event("explain_http_v2_multiclass_all")
    status, body = call(multiclass_app, event, lambda_context)
    assert status == 200
    (explanation,) = body["explanations"]
    assert list(explanation["classes"]) == ["low", "medium", "high"]
    X = [[json.loads(event["body"])["instances"][0][f] for f in FEATURES]]
    for k, cls in enumerate(["low", "medium", "high"]):
        fields = explanation["classes"][cls]
        check_shap_additivity(multiclass_app, X, fields, k)
        p = body["predictions"][0]["probabilities"][cls]
        assert fields["lime"]["model_prediction"] == pytest.approx(np.log(p / (1 - p)), abs=1e-4)
        assert fields["lime"]["num_samples"] == 2000
    # class probabilities sum to 1, so the three classes' SHAP values sum to 0 per feature
    for f in FEATURES:
        assert sum(explanation["classes"][c]["shap"]["values"][f] for c in ("low", "medium", "high")) == pytest.approx(
            0, abs=1e-5
        )


def test_multiclass_default_is_the_predicted_class(multiclass_app, load_event, lambda_context):
    status, body = post(multiclass_app, load_event, lambda_context, {"instances": [[52, 61000, 0.4, 12]]})
    assert status == 200
    assert body["explanations"][0]["class"] == body["predictions"][0]["label"]


def test_regression_direct_invoke(regression_app, load_event, lambda_context):
    event = load_event("explain_direct_regression")
    status, body = call(regression_app, event, lambda_context)
    assert status == 200
    (explanation,) = body["explanations"]
    assert "class" not in explanation
    check_shap_additivity(regression_app, event["instances"], explanation, 0)
    assert explanation["lime"]["model_prediction"] == pytest.approx(body["predictions"][0]["value"], rel=1e-6)
    assert explanation["lime"]["output_space"] == "value"


def test_explain_if_leaves_other_rows_null(binary_app, load_event, lambda_context):
    status, body = call(binary_app, load_event("explain_if_rest_v1"), lambda_context)
    assert status == 200
    for prediction, explanation in zip(body["predictions"], body["explanations"], strict=True):
        assert (explanation is not None) == (prediction["probability"] >= 0.5)
    assert any(e is None for e in body["explanations"]) and any(e is not None for e in body["explanations"])


def test_explain_if_labels_and_regression_bounds(binary_app, regression_app, load_event, lambda_context):
    rows = [[41, 52000, 0.31, 6], [29, 23000, 0.95, 1], [60, 150000, 0.05, 30]]
    status, body = post(
        binary_app,
        load_event,
        lambda_context,
        {"instances": rows, "parameters": {"explain_if": {"labels": ["good"]}, "explainers": ["shap"]}},
    )
    assert status == 200
    assert [e is not None for e in body["explanations"]] == [p["label"] == "good" for p in body["predictions"]]
    status, body = post(
        regression_app,
        load_event,
        lambda_context,
        {
            "instances": rows,
            "parameters": {"explain_if": {"min_value": -1e12, "max_value": 1e12}, "explainers": ["lime"]},
        },
    )
    assert status == 200 and all(e is not None and set(e) == {"lime", "warnings"} for e in body["explanations"])


def test_null_is_imputed_and_the_prediction_says_so(binary_app, load_event, lambda_context):
    # null is a valid value (it used to be a 400): the median, with a warning on the row's prediction
    status, body = post(
        binary_app,
        load_event,
        lambda_context,
        {"instances": [[41, None, 0.31, 6]], "parameters": {"explainers": ["shap"]}},
    )
    assert status == 200, body
    assert [(w["column"], w["code"]) for w in body["predictions"][0]["warnings"]] == [("income", "imputed")]
    assert body["explanations"][0] is not None


def test_one_explainer_only_has_no_agreement(binary_app, load_event, lambda_context):
    for name in ("shap", "lime"):
        status, body = post(
            binary_app,
            load_event,
            lambda_context,
            {"instances": [[41, 52000, 0.31, 6]], "parameters": {"explainers": [name]}},
        )
        assert status == 200
        assert set(body["explanations"][0]) == {"class", name, "warnings"}


def test_num_features_keeps_top_k(binary_app, load_event, lambda_context):
    status, body = post(
        binary_app, load_event, lambda_context, {"instances": [[41, 52000, 0.31, 6]], "parameters": {"num_features": 2}}
    )
    assert status == 200
    explanation = body["explanations"][0]
    shap = explanation["shap"]  # the two largest values of the full solution, the other two folded into rest
    assert len(shap["values"]) == len(shap["std_errors"]) == 2 and shap["rest_columns"] == 2
    assert shap["base_value"] + sum(shap["values"].values()) + shap["rest"] == pytest.approx(shap["output"], abs=1e-9)
    assert shap["exact"] and shap["relative_error"] == 0.0 and shap["rest_std_error"] == 0.0
    lime = explanation["lime"]
    assert len(lime["weights"]) == 2
    # the two other columns' weights are one "rest": the surrogate at the row still adds up
    assert lime["intercept"] + sum(w["weight"] for w in lime["weights"]) + lime["rest"] == pytest.approx(
        lime["local_prediction"]
    )
    assert explanation["agreement"]["k"] == 2


def test_lime_sampling_discretized_is_limes_own_neighbourhood(binary_app, load_event, lambda_context):
    row = [41, 52000, 0.31, 6]
    body = {"instances": [row], "parameters": {"explainers": ["lime"], "lime_sampling": "discretized", "class": "bad"}}
    status, out = post(binary_app, load_event, lambda_context, body)
    assert status == 200
    lime = out["explanations"][0]["lime"]
    assert (lime["sampling"], lime["output_space"]) == ("discretized", "probability")
    assert lime["model_prediction"] == pytest.approx(out["predictions"][0]["probability"], abs=1e-6)
    assert any("<" in w["condition"] for w in lime["weights"])  # quartile bins
    status, out = post(binary_app, load_event, lambda_context, {"instances": [row], "parameters": {"class": "bad"}})
    assert {w["condition"] for w in out["explanations"][0]["lime"]["weights"]} == {
        "age = 41", "income = 52000", "debt_ratio = 0.31", "tenure = 6"
    }  # fmt: skip


def test_same_seed_same_attributions(binary_app, load_event, lambda_context):
    body = {"instances": [[41, 52000, 0.31, 6]], "parameters": {"seed": 42, "num_samples": 1000}}
    first, again = (post(binary_app, load_event, lambda_context, body)[1] for _ in range(2))
    assert first == again
    body["parameters"]["seed"] = 43
    other = post(binary_app, load_event, lambda_context, body)[1]
    assert other["explanations"][0]["lime"] != first["explanations"][0]["lime"]


# --- errors: the predict parser's, then the explain parameters' ----------------------------------


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


def test_nsamples_auto_is_shaps_default(binary_app, load_event, lambda_context):
    row = [[41, 52000, 0.31, 6]]
    _, auto = post(binary_app, load_event, lambda_context, {"instances": row, "parameters": {"nsamples": "auto"}})
    _, default = post(binary_app, load_event, lambda_context, {"instances": row})
    assert auto == default


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
