"""explain/kernel_shap (with coalitions and kernel_fit): exact Shapley values by enumeration, shap's values
within Monte-Carlo error, standard errors that match the spread over seeds, and the honest top-k of the
``shap`` answer block."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest

from litelens.build.bundle.schema import Schema
from litelens.build.stats import lime_training_stats
from litelens.explain import quality
from litelens.explain.coalitions import plan_sizes
from litelens.explain.kernel_shap import KernelShap
from litelens.explain.service import ExplainOptions, Explanations
from litelens.explain.shap_method import BUDGET_PER_COLUMN, OutputSpace, ShapMethod, default_nsamples, log_odds


def nonlinear(Z: np.ndarray) -> np.ndarray:
    """Two outputs with interactions of up to three columns (NaN read as 0.5), for any width >= 7."""
    Z = np.where(np.isnan(Z), 0.5, np.asarray(Z, dtype=np.float64))
    first = np.tanh(Z[:, 0] * Z[:, 1]) + Z[:, 2] ** 2 * np.sin(Z[:, 3]) + Z[:, 4] * Z[:, 5] * Z[:, 6]
    second = np.exp(-0.2 * (Z**2).sum(axis=1)) + 0.3 * np.arange(Z.shape[1]) @ Z.T / Z.shape[1]
    return np.column_stack([first, second])


def brute_force_shapley(f, x, background, weights):
    """Shapley values (M, D) of v(S) = sum_b w_b f(x_S, background_b) by the permutation-free subset formula."""
    m = len(x)
    weights = weights / weights.sum()

    def v(subset):
        keep = np.zeros(m, dtype=bool)
        keep[list(subset)] = True
        return weights @ f(np.where(keep, x, background))

    cache = {s: v(s) for size in range(m + 1) for s in itertools.combinations(range(m), size)}
    phi = np.zeros((m, len(cache[()])))
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for size in range(m):
            share = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for s in itertools.combinations(others, size):
                phi[j] += share * (cache[tuple(sorted((*s, j)))] - cache[s])
    return phi, cache[()]


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    background = rng.normal(size=(6, 9))
    weights = rng.uniform(0.1, 1.0, 6)
    return background, weights, rng.normal(size=9)


def test_every_coalition_enumerated_is_the_exact_shapley_value(problem):
    # GIVEN a nonlinear two-output model over 9 columns and a weighted background
    background, weights, x = problem
    exact, base = brute_force_shapley(nonlinear, x, background, weights)
    # WHEN the budget holds every coalition (2^9 - 2 = 510)
    result = KernelShap(nonlinear, background, weights).explain(x, budget=510)
    # THEN every value of both outputs is the enumeration's, reported as exact with no error
    np.testing.assert_allclose(result.values, exact, atol=1e-10)
    np.testing.assert_allclose(result.base_values, base, atol=1e-12)
    assert result.exact and result.nsamples == 510 and result.rounds == 1
    assert not result.std_errors.any() and not result.relative_error.any()


def test_missing_values_switch_with_their_column_and_equal_missing_does_not_vary(problem):
    background, weights, x = problem
    background, x = background.copy(), x.copy()
    background[:2, 1] = np.nan
    background[:, 8] = np.nan  # missing in every background row ...
    x[[1, 8]] = np.nan  # ... and in the row: column 8 does not vary
    exact, _ = brute_force_shapley(nonlinear, x, background, weights)
    result = KernelShap(nonlinear, background, weights).explain(x, budget=254)
    assert 8 not in KernelShap(nonlinear, background, weights).varying(x)
    assert result.exact and result.nsamples == 254  # 8 varying columns: 2^8 - 2
    np.testing.assert_allclose(result.values, exact, atol=1e-10)
    assert (result.values[8] == 0).all()


def test_default_budget_is_exact_up_to_13_columns_then_64_per_column_at_least_shaps_auto():
    assert [default_nsamples(m) for m in (5, 13)] == [2**5 - 2, 2**13 - 2]
    assert default_nsamples(14) == 2 * 14 + 2048 and default_nsamples(100) == 5600
    assert default_nsamples(30) == 2 * 30 + 2048 and default_nsamples(500) == BUDGET_PER_COLUMN * 500
    assert plan_sizes(13, default_nsamples(13)).exact and not plan_sizes(14, default_nsamples(14)).exact


def test_enumerated_sizes_follow_shaps_rule():
    # 100 columns: sizes 1 and 99 (200 coalitions) fit a 6400 budget, size 2 (9900) does not
    plan = plan_sizes(100, 6400)
    assert len(plan.masks) == 200 and set(plan.masks.sum(axis=1)) == {1, 99} and plan.sizes[0] == 2
    assert plan.weights.sum() + plan.weight_left == pytest.approx(1.0)
    assert plan.probabilities.sum() == pytest.approx(1.0)


def test_values_match_shaps_kernel_explainer_within_monte_carlo_error():
    shap = pytest.importorskip("shap")
    from shap.utils._legacy import DenseData

    # GIVEN 14 columns (exact enumeration: the oracle) and a sampled budget of 1200 coalitions
    rng = np.random.default_rng(5)
    background, weights = rng.normal(size=(4, 14)), np.array([0.1, 0.2, 0.3, 0.4])
    x = rng.normal(size=14)

    def f(Z):
        return nonlinear(Z)[:, 0]

    exact = KernelShap(f, background, weights).explain(x, budget=2**14).values[:, 0]
    ours = [KernelShap(f, background, weights).explain(x, budget=1200, seed=s) for s in range(8)]
    explainer = shap.KernelExplainer(f, DenseData(background, [str(j) for j in range(14)], None, weights.copy()))
    theirs = []
    for seed in range(8):
        np.random.seed(seed)
        theirs.append(np.ravel(explainer.shap_values(x[None], nsamples=1200, l1_reg=False, silent=True)))
    # THEN both scatter around the same exact values by the same amount, and our SE predicts shap's scatter
    our_error = np.mean([np.abs(r.values[:, 0] - exact).mean() for r in ours])
    their_error = np.mean([np.abs(t - exact).mean() for t in theirs])
    assert 0.7 < our_error / their_error < 1.4
    their_rms = np.sqrt(np.mean([(t - exact) ** 2 for t in theirs], axis=0)).mean()
    assert 0.7 < np.mean([r.std_errors[:, 0].mean() for r in ours]) / their_rms < 1.3


def test_standard_errors_match_the_spread_over_seeds(problem):
    # GIVEN a fixed model of 16 columns, sampled at 700 coalitions under 150 seeds
    rng = np.random.default_rng(2)
    background, weights = rng.normal(size=(5, 16)), rng.uniform(0.2, 1.0, 5)
    x = rng.normal(size=16)
    estimator = KernelShap(nonlinear, background, weights)
    runs = [estimator.explain(x, budget=700, seed=s) for s in range(150)]
    values = np.array([r.values for r in runs])  # (seeds, 16, 2)
    spread = values.std(axis=0, ddof=1)
    reported = np.array([r.std_errors for r in runs]).mean(axis=0)
    # THEN the reported SE is the spread (within 30%), overall and for most columns of the first output
    assert 0.7 < reported[:, 0].mean() / spread[:, 0].mean() < 1.3
    assert np.mean(np.abs(reported[:, 0] / spread[:, 0] - 1) < 0.3) >= 0.8
    # and so is the SE of a sum of values (covariances included), what ``rest_std_error`` reports
    columns = np.array([3, 9, 12, 15])
    sums = values[:, columns, 0].sum(axis=1)
    from litelens.explain.kernel_shap import sum_std_error

    reported_sum = np.mean([sum_std_error(r.influence, columns, 0) for r in runs])
    assert 0.7 < reported_sum / sums.std(ddof=1) < 1.3
    # and relative_error is mean SE over mean |value|
    r = runs[0]
    assert r.relative_error[0] == pytest.approx(r.std_errors[:, 0].mean() / np.abs(r.values[:, 0]).mean())


def test_sampling_stops_at_the_target_error_or_the_budget():
    rng = np.random.default_rng(3)
    background, weights = rng.normal(size=(5, 30)), np.full(5, 0.2)
    x = rng.normal(size=30)
    estimator = KernelShap(nonlinear, background, weights)
    loose = estimator.explain(x, budget=20_000, target_error=0.05)
    assert loose.nsamples < 20_000 and loose.relative_error.max() <= 0.05
    everything = estimator.explain(x, budget=3000, target_error=None)
    # (a paired draw is kept whole: the last one may not fit, leaving one coalition unspent)
    assert 2999 <= everything.nsamples <= 3000 and not everything.exact
    tight = estimator.explain(x, budget=3000, target_error=1e-6)
    assert 2999 <= tight.nsamples <= 3000 and tight.relative_error.max() > 1e-6  # what was reached, reported


def test_one_model_call_per_round_and_distinct_coalitions_within_the_budget():
    # GIVEN 10 columns and a budget under 2^10 - 2, so some coalitions are drawn twice
    rng = np.random.default_rng(4)
    background, weights = rng.normal(size=(3, 10)), np.full(3, 1 / 3)
    x = rng.normal(size=10)
    calls = []

    def f(Z):
        calls.append(np.array(Z))
        return nonlinear(Z)

    estimator = KernelShap(f, background, weights)
    calls.clear()
    result = estimator.explain(x, budget=400, target_error=None, seed=1)
    # THEN one call per round, every synthetic row block a distinct coalition, as many as reported
    assert len(calls) == result.rounds
    np.testing.assert_array_equal(calls[0][-1], x)  # f(x) rides with the first round
    rows = np.concatenate([calls[0][:-1], *calls[1:]])
    coalitions = {tuple(keep) for keep in rows.reshape(-1, 3, 10)[:, 0, :] == x}
    assert 399 <= result.nsamples <= 400 and len(rows) == result.nsamples * 3 == len(coalitions) * 3


def test_every_output_in_one_solve_equals_each_output_alone(problem):
    background, weights, x = problem
    x = np.concatenate([x, [0.3, -0.2, 1.0]])
    background = np.column_stack([background, np.ones((6, 3))])
    both = KernelShap(nonlinear, background, weights).explain(x, budget=300, seed=7)
    for d in range(2):
        alone = KernelShap(lambda Z, d=d: nonlinear(Z)[:, d], background, weights).explain(x, budget=300, seed=7)
        np.testing.assert_allclose(both.values[:, d], alone.values[:, 0], atol=1e-12)
        np.testing.assert_allclose(both.std_errors[:, d], alone.std_errors[:, 0], atol=1e-12)


def test_same_seed_same_answer_other_seed_other_answer(problem):
    rng = np.random.default_rng(8)
    background, weights = rng.normal(size=(4, 25)), np.full(4, 0.25)
    x = rng.normal(size=25)
    method = ShapMethod(nonlinear, background, weights, [f"c{j}" for j in range(25)])
    first, again, other = (method.explain(x, nsamples=800, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(first.values, again.values)
    np.testing.assert_array_equal(first.std_errors, again.std_errors)
    assert not np.array_equal(first.values, other.values)


def test_log_odds_space_of_a_binary_model_sampled_adds_up():
    rng = np.random.default_rng(9)
    background, weights = rng.normal(size=(4, 20)), np.full(4, 0.25)
    beta = rng.normal(size=20)

    def probability(Z):
        return 1 / (1 + np.exp(-(np.asarray(Z) @ beta)))[:, None]

    x = rng.normal(size=20)
    result = ShapMethod(
        probability, background, weights, [f"c{j}" for j in range(20)], output_space=OutputSpace.LOG_ODDS
    ).explain(x, nsamples=1000)
    # an additive logit: the log-odds values are exact terms, so the estimate has no error to report
    np.testing.assert_allclose(result.values[:, 0], beta * (x - weights @ background), atol=1e-8)
    assert result.outputs[0] == pytest.approx(log_odds(probability(x[None]))[0, 0])
    assert result.relative_error[0] < 1e-6


# --- the shap block of the answer: honest top-k --------------------------------------------------


@pytest.fixture(scope="module")
def service():
    rng = np.random.default_rng(12)
    names = [f"c{j}" for j in range(20)]
    training = rng.normal(size=(500, 20))
    card = SimpleNamespace(schema=Schema.numeric(names), task="regression", classes=None, target="y")
    explanations = Explanations(
        card, lambda X: nonlinear(X)[:, :1], training[:5], np.full(5, 0.2), lime_training_stats(training)
    )
    return explanations, rng.normal(size=20)


def test_top_k_keeps_the_full_solutions_values_and_folds_the_rest(service):
    explanations, x = service
    options = ExplainOptions(explainers=("shap",), nsamples=600)
    full = explanations.explain_row(x, [0], options)["shap"]
    top = explanations.explain_row(x, [0], ExplainOptions(explainers=("shap",), nsamples=600, num_features=4))["shap"]
    # THEN the 4 largest |values| of the full solution, unchanged, largest first; the other 16 summed
    largest = sorted(full["values"], key=lambda c: -abs(full["values"][c]))[:4]
    assert list(top["values"]) == largest and list(top["std_errors"]) == largest
    assert all(top["values"][c] == full["values"][c] for c in largest)
    assert top["rest_columns"] == 16
    assert top["rest"] == pytest.approx(sum(v for c, v in full["values"].items() if c not in largest), abs=1e-12)
    assert top["base_value"] + sum(top["values"].values()) + top["rest"] == pytest.approx(top["output"], abs=1e-9)
    assert top["rest_std_error"] > 0 and not full["exact"]
    assert top["relative_error"] == full["relative_error"] > 0 and top["target_error"] == options.target_error
    assert "rest" not in full and "rest_std_error" not in full
    assert quality.additivity_gap(np.array(list(full["values"].values())), full["base_value"], full["output"]) < 1e-9
