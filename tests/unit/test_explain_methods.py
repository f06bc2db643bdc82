"""explain/: SHAP, LIME and the quality fields over plain numpy models whose attributions are known."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from litelens.build.stats import lime_training_stats
from litelens.explain import quality
from litelens.explain.lime_method import CLASSIFICATION, REGRESSION, LimeMethod
from litelens.explain.shap_method import LOG_ODDS, ShapMethod, log_odds

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
    shap = ShapMethod(logistic, *background, FEATURES, output_space=LOG_ODDS)
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
        ShapMethod(logistic, *background, FEATURES, output_space=LOG_ODDS),
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
    exp = lime_regression.explain(x, [0], num_samples=50_000, seed=0)
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


def test_lime_fit_fields_match_an_independent_weighted_ridge(lime_regression, training_rows):
    from sklearn.linear_model import Ridge

    x = training_rows[5]
    exp = lime_regression.explain(x, [0], num_samples=3000, seed=11)
    fit = exp.results[0]
    # local_prediction: the surrogate at x, where every in-bin indicator is 1
    assert fit.local_prediction == pytest.approx(fit.intercept + sum(w for _, w in fit.weights), abs=1e-9)
    # score: weighted R^2 of the same ridge (alpha=1) on the same neighbourhood, refit here
    indicators, outputs, distances = lime_regression.neighbourhood(x, 3000, 11)
    weights = np.sqrt(np.exp(-(distances**2) / (0.75 * np.sqrt(len(FEATURES))) ** 2))
    ridge = Ridge(alpha=1.0).fit(indicators, outputs[:, 0], sample_weight=weights)
    residual = outputs[:, 0] - ridge.predict(indicators)
    mean = np.average(outputs[:, 0], weights=weights)
    r2 = 1 - np.sum(weights * residual**2) / np.sum(weights * (outputs[:, 0] - mean) ** 2)
    assert fit.score == pytest.approx(r2, abs=1e-9)
    np.testing.assert_allclose(sorted(w for _, w in fit.weights), sorted(ridge.coef_), atol=1e-9)


def test_lime_is_deterministic_per_seed(lime_regression, training_rows):
    x = training_rows[3]
    a, b, c = (lime_regression.explain(x, [0], num_samples=500, seed=s).results[0] for s in (2, 2, 3))
    assert a == b
    assert a.weights != c.weights


def test_lime_top_k_keeps_k_features(lime_regression, training_rows):
    exp = lime_regression.explain(training_rows[1], [0], num_samples=1000, num_features=2)
    assert len(exp.results[0].weights) == 2


def test_lime_top_k_keeps_the_largest_weights_of_the_full_fit_without_forward_selection(
    lime_regression, training_rows, monkeypatch
):
    from sklearn.linear_model import Ridge

    # GIVEN lime's forward selection (k x F ridge fits: too slow for the timeout) made to fail
    def forward_selection(*args, **kwargs):
        raise AssertionError("forward_selection must not run")

    monkeypatch.setattr(lime_regression._explainer.base, "forward_selection", forward_selection)
    x = training_rows[4]
    # WHEN asking for k = 2 <= 6 features (lime's "auto" would pick forward selection)
    fit = lime_regression.explain(x, [0], num_samples=2000, num_features=2, seed=5).results[0]
    # THEN the two kept are the two largest |coef| of the full weighted ridge (lime's highest_weights)
    indicators, outputs, distances = lime_regression.neighbourhood(x, 2000, 5)
    weights = np.sqrt(np.exp(-(distances**2) / (0.75 * np.sqrt(len(FEATURES))) ** 2))
    coef = Ridge(alpha=0.01).fit(indicators, outputs[:, 0], sample_weight=weights).coef_
    assert {j for j, _ in fit.weights} == set(np.argsort(-np.abs(coef))[:2].tolist())


def test_lime_classification_explains_each_requested_class(training_rows, background):
    def probabilities(X):
        p = logistic(X)[:, 0]
        return np.column_stack([1 - p, p])

    lime = LimeMethod(
        probabilities, lime_training_stats(training_rows), background[0], FEATURES, mode=CLASSIFICATION,
        class_names=["no", "yes"],
    )  # fmt: skip
    exp = lime.explain(training_rows[2], [0, 1], num_samples=2000, seed=0)
    neg, pos = dict(exp.results[0].weights), dict(exp.results[1].weights)
    # P(no) = 1 - P(yes): the two surrogates mirror each other
    for j in range(len(FEATURES)):
        assert neg[j] == pytest.approx(-pos[j], abs=1e-9)


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


def test_agreement_against_hand_computed_overlap_and_rank_correlations():
    rng = np.random.default_rng(4)
    names = [f"f{j}" for j in range(12)]
    shap_values = rng.normal(size=12)
    lime_weights = {j: float(shap_values[j] + rng.normal(0, 0.5)) for j in range(12)}
    result = quality.agreement(shap_values, lime_weights, names, k=4)
    shap_top = set(np.argsort(-np.abs(shap_values))[:4])
    lime_vec = np.array([lime_weights[j] for j in range(12)])
    lime_top = set(np.argsort(-np.abs(lime_vec))[:4])
    assert result["overlap"] == len(shap_top & lime_top)
    assert result["shap_top"] == [names[j] for j in np.argsort(-np.abs(shap_values))[:4]]
    assert result["spearman"] == pytest.approx(np.corrcoef(_ranks(shap_values), _ranks(lime_vec))[0, 1])
    assert result["kendall"] == pytest.approx(_kendall_by_pairs(shap_values, lime_vec))


def test_agreement_counts_features_lime_left_out_as_zero():
    result = quality.agreement(np.array([3.0, -2.0, 1.0, 0.5]), {0: 1.0, 2: 0.2}, list("abcd"), k=2)
    assert result["lime_top"] == ["a", "c"]
    assert result["overlap"] == 1


def test_agreement_rank_correlation_is_null_when_undefined():
    result = quality.agreement(np.zeros(3), {0: 1.0}, list("abc"), k=2)
    assert result["spearman"] is None and result["kendall"] is None
    assert result["shap_top"] == []


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
