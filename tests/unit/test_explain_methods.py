"""explain/: SHAP, LIME and the quality fields over plain numpy models whose attributions are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from litelens.build.stats import lime_training_stats
from litelens.explain import quality
from litelens.explain.lime_method import (
    CLASSIFICATION,
    KERNEL_WIDTHS,
    REGRESSION,
    RIDGE_ALPHAS,
    LimeMethod,
    LimeSampling,
    weighted_ridge,
)
from litelens.explain.lime_sampling import training_moments
from litelens.explain.shap_method import OutputSpace, ShapMethod, log_odds

FEATURES = ["a", "b", "c", "d", "e", "f"]
BETA = np.array([2.0, -1.5, 0.8, 0.0, 3.0, -0.4])
INTERCEPT = 0.3


@pytest.fixture(scope="module")
def training_rows():
    rng = np.random.default_rng(7)
    return rng.normal([0, 1, -1, 0, 2, 0], [1.0, 2.0, 0.5, 1.0, 1.5, 3.0], size=(2000, 6))


@pytest.fixture(scope="module")
def background():
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(8, 6))
    weights = rng.uniform(0.1, 1.0, 8)
    return rows, weights / weights.sum()


def linear(X):
    return (np.asarray(X, dtype=np.float64) @ BETA + INTERCEPT)[:, None]


def logistic(X):
    return 1.0 / (1.0 + np.exp(-linear(X)))


def exact_linear_shap(x, background):
    rows, weights = background
    return BETA * (x - weights @ rows)


# --- SHAP ---------------------------------------------------------------------------------------


def test_shap_recovers_a_linear_model_exactly_against_the_weighted_background(background):
    # GIVEN a linear model and a background whose cluster weights are far from uniform
    shap = ShapMethod(linear, *background, FEATURES)
    x = np.array([1.0, -2.0, 0.5, 3.0, -1.0, 2.0])
    # WHEN explaining a row
    result = shap.explain(x, seed=1)
    # THEN every value is beta_j (x_j - weighted mean_j): exact, every feature non-zero but the null one
    np.testing.assert_allclose(result.values[:, 0], exact_linear_shap(x, background), atol=1e-8)
    rows, weights = background
    np.testing.assert_allclose(result.base_values[0], (weights @ linear(rows))[0], atol=1e-12)
    assert result.values[3, 0] == pytest.approx(0.0, abs=1e-8)
    unweighted = BETA * (x - rows.mean(axis=0))
    assert not np.allclose(result.values[:, 0], unweighted, atol=1e-3), "weights must be honoured"


def test_shap_log_odds_space_recovers_the_logit_terms(background):
    shap = ShapMethod(logistic, *background, FEATURES, output_space=OutputSpace.LOG_ODDS)
    x = np.array([0.2, 1.0, -0.5, 0.0, 0.4, -1.0])
    result = shap.explain(x, seed=0)
    np.testing.assert_allclose(result.values[:, 0], exact_linear_shap(x, background), atol=1e-6)
    assert result.outputs[0] == pytest.approx(log_odds(logistic(x[None]))[0, 0])
    assert quality.additivity_gap(result.values[:, 0], result.base_values[0], result.outputs[0]) <= 1e-9


def test_shap_gives_every_feature_a_value():
    rng = np.random.default_rng(0)
    n = 30
    beta = rng.normal(size=n)
    names = [f"x{j}" for j in range(n)]
    bg = rng.normal(size=(5, n))
    f = lambda X: np.tanh(np.asarray(X) @ beta / 4)[:, None]  # noqa: E731
    shap = ShapMethod(f, bg, np.full(5, 0.2), names)
    x = rng.normal(size=n)
    everything = shap.explain(x, nsamples=500)
    assert np.count_nonzero(everything.values) == n


def test_shap_is_deterministic_across_instances_in_threads(background):
    # GIVEN two explainers (like the probability and log-odds pair) used from several threads at once
    from concurrent.futures import ThreadPoolExecutor

    pair = [
        ShapMethod(logistic, *background, FEATURES),
        ShapMethod(logistic, *background, FEATURES, output_space=OutputSpace.LOG_ODDS),
    ]
    rng = np.random.default_rng(4)
    beta = rng.normal(size=20)
    wide = [
        ShapMethod(
            lambda X, b=beta: np.tanh(np.asarray(X) @ b)[:, None],
            rng.normal(size=(4, 20)),
            np.full(4, 0.25),
            [f"x{j}" for j in range(20)],
        )
        for _ in range(2)
    ]
    x = rng.normal(size=20)
    expected = [m.explain(x, nsamples=200, seed=7).values for m in wide]
    # WHEN they run interleaved THEN each gives what it gives alone (numpy's generator is shared)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: wide[i % 2].explain(x, nsamples=200, seed=7).values, range(16)))
    for i, values in enumerate(got):
        np.testing.assert_array_equal(values, expected[i % 2])
    # and the probability/log-odds pair over one background keeps its two output spaces apart
    row = background[0][0]
    alone = [m.explain(row, nsamples=200, seed=7).values for m in pair]
    with ThreadPoolExecutor(8) as pool:
        mixed = list(pool.map(lambda i: pair[i % 2].explain(row, nsamples=200, seed=7).values, range(16)))
    for i, values in enumerate(mixed):
        np.testing.assert_array_equal(values, alone[i % 2])
    assert not np.allclose(alone[0], alone[1])


def test_shap_nsamples_is_zero_when_nothing_is_sampled(background):
    rows, _ = background
    shap = ShapMethod(linear, rows[:1], np.ones(1), FEATURES)
    many = shap.explain(np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]), nsamples=50, target_error=None)
    assert many.nsamples == 50 and not many.exact
    only_one_varies = rows[0].copy()
    only_one_varies[2] += 1.0
    alone = shap.explain(only_one_varies, nsamples=50)
    assert alone.nsamples == 0 and alone.exact


def test_shap_same_seed_same_values_other_seed_other_values():
    rng = np.random.default_rng(1)
    n = 40
    beta = rng.normal(size=n)
    f = lambda X: (np.asarray(X) @ beta + np.sin(np.asarray(X)[:, 0] * np.asarray(X)[:, 1]))[:, None]  # noqa: E731
    shap = ShapMethod(f, rng.normal(size=(6, n)), np.full(6, 1 / 6), [f"x{j}" for j in range(n)])
    x = rng.normal(size=n)
    state = np.random.get_state()
    first, again, other = (shap.explain(x, nsamples=300, seed=s).values for s in (5, 5, 6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert np.array_equal(np.random.get_state()[1], state[1]), "the global generator must be restored"


# --- LIME ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lime_regression(training_rows, background):
    return LimeMethod(linear, lime_training_stats(training_rows), background[0], FEATURES, mode=REGRESSION)


def test_lime_weights_of_a_linear_model_match_the_bin_means(lime_regression, training_rows):
    # For f = beta . x and independent bins, LIME's weight for "x_j in its bin" is
    # beta_j (mean of that bin - mean of the other bins), from the training stats (up to sampling noise
    # and the gap between a bin's mean and its truncated normal's: lime's own sampler gives the same).
    stats = lime_training_stats(training_rows)
    x = training_rows[0]
    exp = lime_regression.explain(x, [0], num_samples=50_000, seed=0, sampling=LimeSampling.DISCRETIZED)
    fit = exp.results[0]
    weights = np.zeros(len(FEATURES))
    for j, w in fit.weights:
        weights[j] = w
    expected = np.zeros(len(FEATURES))
    for j in range(len(FEATURES)):
        own = int(np.searchsorted(stats["bins"][j], x[j]))
        means = np.asarray(stats["means"][j])
        expected[j] = BETA[j] * (means[own] - np.delete(means, own).mean())
    np.testing.assert_allclose(weights, expected, atol=0.1 * np.abs(expected).max())
    assert [j for j, _ in fit.weights] == sorted(range(len(FEATURES)), key=lambda j: -abs(weights[j]))
    for j, name in enumerate(FEATURES):
        assert name in exp.conditions[j]
    assert fit.model_prediction == pytest.approx(linear(x[None])[0, 0])
    assert (exp.sampling, exp.output_space) == (LimeSampling.DISCRETIZED, "value")


def test_continuous_lime_of_a_linear_model_is_its_terms_against_the_training_mean(lime_regression, training_rows):
    # GIVEN f = beta . x + c: around any row the surrogate is f itself
    stats = lime_training_stats(training_rows)
    mean = np.array([training_moments(stats, j)[0] for j in range(len(FEATURES))])
    x = training_rows[3]
    exp = lime_regression.explain(x, [0], num_samples=2000, seed=1)
    fit = exp.results[0]
    # THEN each column's weight is beta_j (x_j - training mean_j) (the exact Shapley value against the
    # training mean), the intercept f(training mean), the fit perfect and local (up to the ridge's
    # alpha = 0.01 shrinkage)
    np.testing.assert_allclose(fit.values, BETA * (x - mean), rtol=1e-3, atol=1e-3)
    assert fit.intercept == pytest.approx(linear(mean[None])[0, 0], rel=1e-3)
    assert fit.score == pytest.approx(1.0, abs=1e-4)
    assert fit.local_error < 0.01
    assert exp.conditions[0] == f"a = {x[0]:.6g}"
    assert (exp.sampling, exp.output_space) == (LimeSampling.CONTINUOUS, "value")


def test_training_moments_from_the_bin_stats_are_the_training_mean_and_std(training_rows):
    stats = lime_training_stats(training_rows)
    for j in range(len(FEATURES)):
        mean, std = training_moments(stats, j)
        assert mean == pytest.approx(training_rows[:, j].mean(), rel=1e-9, abs=1e-12)
        assert std == pytest.approx(training_rows[:, j].std(), rel=1e-9)


@pytest.mark.parametrize("sampling", list(LimeSampling))
def test_lime_fit_fields_match_an_independent_weighted_ridge(lime_regression, training_rows, sampling):
    from sklearn.linear_model import Ridge

    def model(X):  # a nonlinear model, so the fit is not exact
        return linear(X) + np.sin(X[:, [0]]) * 2.0

    lime = LimeMethod(model, lime_training_stats(training_rows), training_rows[:8], FEATURES, mode=REGRESSION)
    x = training_rows[5]
    fit = lime.explain(x, [0], num_samples=3000, seed=11, sampling=sampling).results[0]
    # local_prediction: the surrogate at x; every weight is its column's term there
    assert fit.local_prediction == pytest.approx(fit.intercept + sum(w for _, w in fit.weights), abs=1e-9)
    # score: weighted R^2 of the same ridge (lime's alpha 1 for discretized) on the same neighbourhood, refit here
    samples = lime.neighbourhood(x, 3000, 11, sampling)
    outputs = model(samples.values)[:, 0]
    width = KERNEL_WIDTHS[sampling] * np.sqrt(len(FEATURES))  # lime's 0.75 for discretized samples
    weights = np.sqrt(np.exp(-(samples.distances**2) / width**2))
    ridge = Ridge(alpha=RIDGE_ALPHAS[sampling]).fit(samples.features, outputs, sample_weight=weights)
    assert fit.score == pytest.approx(ridge.score(samples.features, outputs, sample_weight=weights), abs=1e-9)
    np.testing.assert_allclose(fit.values, ridge.coef_ * samples.features[0], atol=1e-9)
    assert fit.intercept == pytest.approx(ridge.intercept_, abs=1e-9)
    assert fit.local_prediction == pytest.approx(ridge.predict(samples.features[:1])[0], abs=1e-9)
    assert fit.local_error == pytest.approx(abs(fit.local_prediction - model(x[None])[0, 0]), abs=1e-12)
    assert fit.score < 0.999


def test_weighted_ridge_of_a_constant_target_scores_as_sklearn_does():
    features = np.random.default_rng(0).normal(size=(50, 3))
    _, coef, score, spread = weighted_ridge(features, np.ones((50, 1)), np.ones(50))
    assert score[0] == 1.0 and spread[0] == 0.0
    np.testing.assert_array_equal(coef, 0.0)


@pytest.mark.parametrize("sampling", list(LimeSampling))
def test_lime_is_deterministic_per_seed(lime_regression, training_rows, sampling):
    x = training_rows[3] + 0.3
    a, b, c = (
        lime_regression.explain(x, [0], num_samples=500, seed=s, sampling=sampling).results[0] for s in (2, 2, 3)
    )
    assert a == b
    np.testing.assert_array_equal(a.values, b.values)
    assert a.weights != c.weights


@pytest.mark.parametrize("sampling", list(LimeSampling))
def test_lime_top_k_keeps_the_full_fits_largest_weights_unchanged_and_sums_the_rest(
    lime_regression, training_rows, sampling
):
    x = training_rows[4]
    full = lime_regression.explain(x, [0], num_samples=2000, seed=5, sampling=sampling).results[0]
    top = lime_regression.explain(x, [0], num_samples=2000, num_features=2, seed=5, sampling=sampling).results[0]
    # THEN the two kept are the full fit's two largest |weight|, unchanged (no refit)
    assert top.weights == full.weights[:2]
    assert full.rest is None and len(full.weights) == len(FEATURES)
    # and rest is the sum of the four left out: the surrogate at the row still adds up
    assert top.rest == pytest.approx(sum(w for _, w in full.weights[2:]), abs=1e-12)
    assert top.intercept + sum(w for _, w in top.weights) + top.rest == pytest.approx(top.local_prediction, abs=1e-9)
    assert (top.score, top.local_prediction) == (full.score, full.local_prediction)


@pytest.mark.parametrize("sampling", list(LimeSampling))
def test_lime_classification_explains_each_requested_class(training_rows, background, sampling):
    def probabilities(X):
        p = logistic(X)[:, 0]
        return np.column_stack([1 - p, p])

    lime = LimeMethod(
        probabilities, lime_training_stats(training_rows), background[0], FEATURES, mode=CLASSIFICATION,
        class_names=["no", "yes"],
    )  # fmt: skip
    x = training_rows[2]
    exp = lime.explain(x, [0, 1], num_samples=2000, seed=0, sampling=sampling)
    neg, pos = dict(exp.results[0].weights), dict(exp.results[1].weights)
    # P(no) = 1 - P(yes) (and logit(no) = -logit(yes)): the two surrogates mirror each other
    for j in range(len(FEATURES)):
        assert neg[j] == pytest.approx(-pos[j], abs=1e-9)
    expected = probabilities(x[None])[0, 1]
    if sampling == LimeSampling.CONTINUOUS:  # a classifier's continuous surrogate explains the log-odds
        assert exp.output_space == OutputSpace.LOG_ODDS
        expected = log_odds(expected)
        # the log-odds are linear in x: the fit is exact, every weight beta_j (x_j - training mean_j)
        assert exp.results[1].score == pytest.approx(1.0, abs=1e-4)
        assert exp.results[1].local_error < 0.01
    assert exp.results[1].model_prediction == pytest.approx(expected)


def test_bin_sampler_draws_what_lime_draws(training_rows, lime_regression):
    """Our vectorized sampler against lime's own __data_inverse: same bin frequencies, same per-bin values."""
    explainer = lime_regression._explainer
    x = training_rows[0]
    n = 20000
    ours_ind, ours_val = lime_regression._sampler.sample(x, n, np.random.RandomState(0))
    explainer.random_state = explainer.discretizer.random_state = np.random.RandomState(0)
    lime_ind, lime_val = explainer._LimeTabularExplainer__data_inverse(x, n)
    np.testing.assert_array_equal(ours_ind[0], lime_ind[0])
    np.testing.assert_array_equal(ours_val[0], x)
    disc = explainer.discretizer
    ours_bins, lime_bins = disc.discretize(ours_val[1:]), disc.discretize(lime_val[1:])
    for j in range(len(FEATURES)):
        for b in range(4):
            ours_sel, lime_sel = ours_bins[:, j] == b, lime_bins[:, j] == b
            assert ours_sel.mean() == pytest.approx(lime_sel.mean(), abs=0.02)
            spread = disc.stds[j][b]
            assert ours_val[1:][ours_sel, j].mean() == pytest.approx(lime_val[1:][lime_sel, j].mean(), abs=0.1 * spread)
            assert ours_val[1:][ours_sel, j].std() == pytest.approx(lime_val[1:][lime_sel, j].std(), rel=0.1)
        assert ours_ind[:, j].mean() == pytest.approx(lime_ind[:, j].mean(), abs=0.02)


# --- quality ------------------------------------------------------------------------------------


def _ranks(v):
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v))
    return ranks


def _kendall_by_pairs(a, b):
    concordant = discordant = 0
    for i, j in itertools.combinations(range(len(a)), 2):
        s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
        concordant += s > 0
        discordant += s < 0
    return (concordant - discordant) / (len(a) * (len(a) - 1) / 2)


def test_agreement_against_hand_computed_overlap_and_rank_correlations_over_the_union():
    rng = np.random.default_rng(4)
    names = [f"f{j}" for j in range(12)]
    shap_values = rng.normal(size=12)
    lime_vec = shap_values + rng.normal(0, 0.5, 12)
    result = quality.agreement(shap_values, lime_vec, names, k=4)
    shap_top = list(np.argsort(-np.abs(shap_values))[:4])
    lime_top = list(np.argsort(-np.abs(lime_vec))[:4])
    union = sorted(set(shap_top) | set(lime_top))
    assert result["overlap"] == len(set(shap_top) & set(lime_top))
    assert result["shap_top"] == [names[j] for j in shap_top]
    assert result["columns"] == len(union)
    a, b = shap_values[union], lime_vec[union]
    assert result["spearman"] == pytest.approx(np.corrcoef(_ranks(a), _ranks(b))[0, 1])
    assert result["kendall"] == pytest.approx(_kendall_by_pairs(a, b))


def test_agreement_ignores_the_columns_neither_method_ranks_high():
    # GIVEN two methods that agree on the 3 columns that matter and disagree on 9 near-zero ones
    shap_values = np.array([3.0, -2.0, 1.0] + [1e-3 * j for j in range(9)])
    lime_vec = np.array([2.5, -1.5, 0.8] + [-1e-3 * j for j in range(9)])
    result = quality.agreement(shap_values, lime_vec, [f"f{j}" for j in range(12)], k=3)
    # THEN the rank correlations are over the 3 columns of the union, where they agree perfectly
    assert (result["columns"], result["overlap"]) == (3, 3)
    assert result["spearman"] == pytest.approx(1.0) and result["kendall"] == pytest.approx(1.0)
    # (over all 12 columns the noise would have dragged them down)
    assert quality.rank_correlations(shap_values, lime_vec)[0] < 0.5


def test_agreement_rank_correlation_is_null_when_undefined():
    result = quality.agreement(np.zeros(3), np.array([1.0, 0.0, 0.0]), list("abc"), k=2)
    assert result["spearman"] is None and result["kendall"] is None
    assert result["shap_top"] == [] and result["columns"] == 1


def test_lime_warnings_name_a_poor_fit_and_a_fit_that_misses_the_row():
    assert quality.lime_warnings(0.9, 0.02, OutputSpace.LOG_ODDS, 1.0) == []
    codes = [w["code"] for w in quality.lime_warnings(0.3, 0.02, OutputSpace.LOG_ODDS, 1.0)]
    assert codes == [quality.W_LIME_POOR_FIT]
    codes = [w["code"] for w in quality.lime_warnings(0.9, 0.2, "probability", 1.0)]
    assert codes == [quality.W_LIME_NOT_LOCAL]
    # a regression value's local error is measured against the model's spread around the row
    assert quality.lime_warnings(0.9, 20.0, "value", 500.0) == []
    assert [w["code"] for w in quality.lime_warnings(0.9, 60.0, "value", 500.0)] == [quality.W_LIME_NOT_LOCAL]
    (warning,) = quality.lime_warnings(0.9, 60.0, "value", 500.0)
    assert "60" in warning["message"]


def test_a_deliberately_poor_lime_fit_is_flagged(training_rows):
    # GIVEN a model that flips sign every 0.1 of column a: no linear surrogate describes it anywhere
    def jagged(X):
        return np.sign(np.sin(30 * X[:, [0]]))

    lime = LimeMethod(jagged, lime_training_stats(training_rows), training_rows[:8], FEATURES, mode=REGRESSION)
    x = training_rows[0]
    exp = lime.explain(x, [0], num_samples=2000, seed=0)
    fit = exp.results[0]
    codes = [w["code"] for w in quality.lime_warnings(fit.score, fit.local_error, exp.output_space, fit.spread)]
    assert fit.score < quality.MIN_LIME_SCORE
    assert quality.W_LIME_POOR_FIT in codes


def test_additivity_gap():
    assert quality.additivity_gap(np.array([0.1, 0.2]), 0.5, 0.8) == pytest.approx(0.0, abs=1e-15)
    assert quality.additivity_gap(np.array([0.1, 0.2]), 0.5, 1.0) == pytest.approx(0.2)


def test_bundle_stats_drive_lime_without_training_rows(training_rows, background):
    """The explainer's bins come from the stats: the background rows do not move them."""
    stats = lime_training_stats(training_rows)
    shifted = background[0] + 100.0
    lime = LimeMethod(linear, stats, shifted, FEATURES, mode=REGRESSION)
    assert lime.conditions(training_rows[0]) == LimeMethod(
        linear, stats, background[0], FEATURES, mode=REGRESSION
    ).conditions(training_rows[0])
