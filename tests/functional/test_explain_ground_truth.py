"""Attributions against the synthetic data's documented additive truth (build.synthetic).

The 100-feature bundle's MLP is trained on labels drawn from sigmoid(INTERCEPT + sum_j g_j(x_j)),
so in log-odds space its exact SHAP values against the bundle's weighted background are close to
g_j(x_j) - sum_k w_k g_j(B_kj) (``synthetic.true_shap_values``); 80 of the features are noise.
"""

from __future__ import annotations

import numpy as np
import pytest

from litelens.build import synthetic
from litelens.explain.service import ExplainOptions, Explanations
from litelens.functions.common.model import load_model

N_ROWS = 8


@pytest.fixture(scope="module")
def explained(synthetic_bundle):
    model = load_model(str(synthetic_bundle))
    explanations = Explanations.from_model(model)
    background, weights = model.bundle.shap_background()
    X, _, _ = synthetic.make_synthetic(n_rows=N_ROWS, seed=123)  # rows the model never saw
    X = X.astype(np.float64)
    params = ExplainOptions(output_space="log_odds", target_class="positive", seed=0)
    rows = [explanations.explain_row(x, [1], params) for x in X]
    return X, rows, synthetic.true_shap_values(X, background, weights)


def test_shap_log_odds_recovers_the_true_contributions(explained):
    _, rows, truth = explained
    values = np.array([[row["shap"]["values"][f] for f in synthetic.FEATURE_NAMES] for row in rows])
    r = np.corrcoef(values.ravel(), truth.ravel())[0, 1]
    assert r >= 0.95, f"Pearson r over features and instances = {r:.3f}"


def test_shap_additivity_gap_is_rounding_only(explained):
    _, rows, _ = explained
    for row in rows:
        shap = row["shap"]
        assert shap["output_space"] == "log_odds"
        assert shap["additivity_gap"] <= 1e-6
        assert abs(sum(shap["values"].values()) + shap["base_value"] - shap["output"]) <= 1e-6


def test_lime_top_features_are_the_true_top_features(explained):
    _, rows, truth = explained
    informative = set(synthetic.FEATURE_NAMES[:20])
    for row, true_row in zip(rows, truth, strict=True):
        lime_top = [w["feature"] for w in row["lime"]["weights"][:5]]
        true_top = {synthetic.FEATURE_NAMES[j] for j in np.argsort(-np.abs(true_row))[:5]}
        assert len(set(lime_top) & true_top) >= 3, (lime_top, sorted(true_top))
        assert set(lime_top) <= informative, lime_top


def test_same_seed_same_attributions_on_100_features(synthetic_bundle, explained):
    X, rows, _ = explained
    explanations = Explanations.from_model(load_model(str(synthetic_bundle)))
    again = explanations.explain_row(X[0], [1], ExplainOptions(output_space="log_odds", target_class="positive"))
    assert again == rows[0]


def test_lime_weights_follow_the_true_contributions(explained):
    # the default LIME explains log-odds around the row: a column's weight is its local slope times
    # the row's distance from the training mean, close to g_j(x_j) - E g_j for an additive truth
    X, rows, _ = explained
    weights = np.array(
        [[w["weight"] for w in sorted(row["lime"]["weights"], key=lambda w: w["feature"])] for row in rows]
    )
    truth = synthetic.true_logit_terms(X) - synthetic.true_logit_terms(np.zeros((1, synthetic.N_FEATURES)))
    r = np.corrcoef(weights[:, :20].ravel(), truth[:, :20].ravel())[0, 1]
    assert r >= 0.8, f"Pearson r over the 20 informative features and the rows = {r:.3f}"


def test_lime_locality_at_the_defaults_against_the_discretized_neighbourhood(synthetic_bundle):
    # GIVEN 24 rows the model never saw, explained at LIME's defaults and with lime's discretized sampling
    explanations = Explanations.from_model(load_model(str(synthetic_bundle)))
    X, _, _ = synthetic.make_synthetic(n_rows=24, seed=321)
    figures = {}
    for sampling in ("continuous", "discretized"):
        options = ExplainOptions(explainers=("lime",), target_class="positive", lime_sampling=sampling)
        fits = [explanations.explain_row(x, [1], options)["lime"] for x in X.astype(np.float64)]
        figures[sampling] = (np.median([f["score"] for f in fits]), np.median([f["local_error"] for f in fits]))
    # THEN the defaults fit locally (median R^2 >= 0.7, median local error <= 0.05 log-odds), where lime's
    # discretized neighbourhood is a global fit (R^2 below 0.5)
    score, local_error = figures["continuous"]
    assert score >= 0.7 and local_error <= 0.05, figures
    assert figures["discretized"][0] < 0.5, figures
