"""The explainers' build-time summaries: LIME stats equal lime's own, k-means background as shap's, synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest

from litelens.build import synthetic
from litelens.build.stats import kmeans_background, lime_training_stats


def _rows(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.normal(50, 10, 300),
            rng.integers(0, 2, 300).astype(float),  # binary: quartiles collapse, lime de-duplicates them
            rng.exponential(2.0, 300),
            np.round(rng.uniform(0, 5, 300)),
        ]
    )


def test_lime_stats_match_what_lime_computes_from_the_rows():
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    X = _rows()
    names = ["a", "b", "c", "d"]
    # GIVEN lime's explainer computing everything from the rows, and one given only our stats
    own = lime_tabular.LimeTabularExplainer(X, feature_names=names, discretize_continuous=True, random_state=0)
    stats = lime_training_stats(X)
    given = lime_tabular.LimeTabularExplainer(
        X, feature_names=names, discretize_continuous=True, training_data_stats=stats, random_state=0
    )
    # THEN the discretizers and sampling distributions agree feature by feature
    for j in range(X.shape[1]):
        assert np.allclose(stats["bins"][j], np.unique(np.percentile(X[:, j], [25, 50, 75])))
        for attr in ("means", "stds", "mins", "maxs"):
            assert np.allclose(getattr(own.discretizer, attr)[j], getattr(given.discretizer, attr)[j]), (attr, j)
        assert own.discretizer.names[j] == given.discretizer.names[j]
        assert np.allclose(own.feature_values[j], given.feature_values[j])
        assert np.allclose(own.feature_frequencies[j], given.feature_frequencies[j])


def test_kmeans_background_weights_are_cluster_shares_and_values_are_real():
    X = _rows()
    rows, weights = kmeans_background(X, k=10, seed=0)
    assert rows.shape == (10, 4) and weights.shape == (10,)
    assert np.isclose(weights.sum(), 1.0) and np.all(weights > 0)
    # every background row is a real training row (no averages: a 0/1 column stays 0/1)
    assert {tuple(r) for r in rows} <= {tuple(r) for r in X.astype(np.float64)}
    # weights are multiples of 1/n (cluster sizes)
    assert np.allclose(weights * len(X), np.round(weights * len(X)))


def test_kmeans_background_caps_k_at_distinct_rows():
    X = np.repeat(np.array([[1.0, 2.0], [3.0, 4.0]]), 5, axis=0)
    rows, weights = kmeans_background(X, k=10)
    assert len(rows) == 2 and np.allclose(sorted(weights), [0.5, 0.5])


def test_synthetic_data_is_seeded_and_follows_its_additive_truth():
    X, y, names = synthetic.make_synthetic(n_rows=4000, seed=0)
    X2, y2, _ = synthetic.make_synthetic(n_rows=4000, seed=0)
    assert X.dtype == np.float32 and X.shape == (4000, 100) and names[0] == "x000" and names[-1] == "x099"
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(y, synthetic.make_synthetic(n_rows=4000, seed=1)[1])
    terms = synthetic.true_logit_terms(X)
    assert np.allclose(terms.sum(axis=1) + synthetic.INTERCEPT, synthetic.true_logit(X))
    assert np.all(terms[:, 20:] == 0) and np.all(np.std(terms[:, :8], axis=0) > 0.25)
    # labels follow the logit: observed positive rate per logit decile tracks sigmoid(logit)
    logit = synthetic.true_logit(X)
    order = np.argsort(logit)
    for chunk in np.array_split(order, 10):
        assert abs(y[chunk].mean() - np.mean(1 / (1 + np.exp(-logit[chunk])))) < 0.06


def test_true_shap_values_are_exact_for_the_additive_logit():
    X, _, _ = synthetic.make_synthetic(n_rows=50, seed=2)
    background, weights = X[:7].astype(np.float64), np.arange(1, 8) / 28
    phi = synthetic.true_shap_values(X, background, weights)
    # efficiency: attributions sum to f(x) - E_w[f(background)]
    expected = synthetic.true_logit(X) - weights @ synthetic.true_logit(background)
    assert np.allclose(phi.sum(axis=1), expected)
