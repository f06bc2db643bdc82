"""What the explain handler answers for the three task bundles over the event fixtures: every field of
an explanation, SHAP's additivity checked against the model, and what each parameter changes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.bundles import FEATURES
from tests.support.explain_requests import call, post


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


def test_nsamples_auto_is_shaps_default(binary_app, load_event, lambda_context):
    row = [[41, 52000, 0.31, 6]]
    _, auto = post(binary_app, load_event, lambda_context, {"instances": row, "parameters": {"nsamples": "auto"}})
    _, default = post(binary_app, load_event, lambda_context, {"instances": row})
    assert auto == default
