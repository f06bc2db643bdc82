"""explain/ in the schema's column space: one attribution per original column, missing values and
unseen levels explained without error.

The fast tests run SHAP and LIME over MIXED_SCHEMA (numeric with missing values, an integer score, a
categorical with a missing level, a boolean, a date) with a plain numpy model on the encoded inputs;
the ``mixed_bundle`` tests run the served TFLite model through ``Explanations.from_model``.
"""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from litelens.build.bundle.schema import UNKNOWN
from litelens.build.stats import lime_training_stats
from litelens.explain import quality
from litelens.explain.lime_method import CLASSIFICATION, CONTINUOUS, DISCRETIZED, KEEP_SHARE, SAMPLINGS, LimeMethod
from litelens.explain.service import ExplainOptions, Explanations
from litelens.explain.shap_method import LOG_ODDS, ShapMethod, log_odds
from tests.support.bundles import MIXED_DAY0, MIXED_SCHEMA, mixed_rows

INCOME, SCORE, APPLICANT, MARRIED, SIGNUP = range(5)
SELF_EMPLOYED, EMPLOYED, MISSING_TYPE = 2.0, 0.0, MIXED_SCHEMA.columns[APPLICANT].missing_code
# weights over MIXED_SCHEMA's 12 inputs (income, income:missing, score, 4 applicant types, 2 married, 3 date parts)
BETA = np.array([-4e-5, 0.8, -0.4, -0.5, -0.2, 1.2, 0.6, 0.3, -0.3, 0.05, 0.02, 0.1])


def assert_real_values(Z: np.ndarray) -> None:
    """The model gets a column's value or NaN (missing), never a stand-in (a huge finite number) for one."""
    assert (np.abs(Z[~np.isnan(Z)]) < 1e30).all(), "a stand-in for a missing value reached the model"


def risk(Z: np.ndarray) -> np.ndarray:
    """P(bad) of column-space rows: a logistic model on the encoded inputs (non-linear in the columns)."""
    Z = np.asarray(Z, dtype=np.float64)
    assert_real_values(Z)
    X = MIXED_SCHEMA.encode(Z).astype(np.float64)
    X[:, 9] -= 2022  # the year, centred
    return 1.0 / (1.0 + np.exp(-(X @ BETA + 2.0)))[:, None]


def exact_shapley(f, x: np.ndarray, background: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Shapley values of f at x over every coalition of columns, "off" columns from each weighted background row."""
    m = len(x)

    def value(coalition: tuple[int, ...]) -> float:
        rows = background.copy()
        rows[:, list(coalition)] = x[list(coalition)]
        return float(weights @ f(rows)[:, 0])

    phi = np.zeros(m)
    for j in range(m):
        others = [k for k in range(m) if k != j]
        for size in range(m):
            share = math.factorial(size) * math.factorial(m - size - 1) / math.factorial(m)
            for coalition in itertools.combinations(others, size):
                phi[j] += share * (value((*coalition, j)) - value(coalition))
    return phi, value(())


@pytest.fixture(scope="module")
def training():
    Z, _ = mixed_rows(3000, seed=5)
    return Z


@pytest.fixture(scope="module")
def background(training):
    # real rows, two of them with a missing income, one with a missing applicant type; uneven weights
    picks = [0, 1, 2, 3, 4, 5]
    rows = training[picks].copy()
    rows[1, INCOME] = np.nan
    rows[4, INCOME] = np.nan
    rows[2, APPLICANT] = MISSING_TYPE
    weights = np.array([0.3, 0.1, 0.2, 0.15, 0.05, 0.2])
    return rows, weights


def messy_row() -> np.ndarray:
    """A row with a missing income, an unseen applicant type and a missing date."""
    return np.array([np.nan, 2.0, UNKNOWN, 1.0, np.nan])


# --- SHAP over columns ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "x",
    [
        np.array([30_000.0, 2.0, SELF_EMPLOYED, 0.0, MIXED_DAY0 + 100]),
        messy_row(),
        np.array([np.nan, 5.0, MISSING_TYPE, 0.0, MIXED_DAY0 + 1300]),
    ],
    ids=["complete", "missing-and-unknown", "missing-level"],
)
def test_shap_over_columns_is_the_exact_enumeration_with_missing_values(background, x):
    # GIVEN a background with missing values and a row with (or without) missing values
    rows, weights = background
    shap = ShapMethod(risk, rows, weights, MIXED_SCHEMA.names)
    # WHEN explaining it (5 columns: shap enumerates all 2^5 - 2 coalitions)
    result = shap.explain(x, seed=0)
    # THEN one value per column, equal to the Shapley values computed here over every coalition
    exact, base = exact_shapley(risk, x, rows, weights)
    assert result.values.shape == (5, 1)
    np.testing.assert_allclose(result.values[:, 0], exact, atol=1e-10)
    assert result.base_values[0] == pytest.approx(base, abs=1e-12)
    assert result.outputs[0] == pytest.approx(risk(x[None])[0, 0], abs=1e-12)
    assert quality.additivity_gap(result.values[:, 0], result.base_values[0], result.outputs[0]) <= 1e-12


def test_shap_log_odds_over_columns_with_missing_values(background):
    rows, weights = background
    shap = ShapMethod(risk, rows, weights, MIXED_SCHEMA.names, output_space=LOG_ODDS)
    x = messy_row()
    result = shap.explain(x, seed=0)
    exact, _ = exact_shapley(lambda Z: log_odds(risk(Z)), x, rows, weights)
    np.testing.assert_allclose(result.values[:, 0], exact, atol=1e-9)
    assert quality.additivity_gap(result.values[:, 0], result.base_values[0], result.outputs[0]) <= 1e-9


def test_shap_a_missing_value_equal_to_every_background_row_does_not_vary(background):
    # GIVEN a background whose incomes are all missing and a row whose income is missing too
    rows, weights = background
    rows = rows.copy()
    rows[:, INCOME] = np.nan
    shap = ShapMethod(risk, rows, weights, MIXED_SCHEMA.names)
    result = shap.explain(messy_row(), seed=0)
    # THEN income gets exactly 0 (missing equals missing), and the others still add up
    assert result.values[INCOME, 0] == 0.0
    assert quality.additivity_gap(result.values[:, 0], result.base_values[0], result.outputs[0]) <= 1e-12


def test_shap_missing_values_in_a_wide_numeric_row_sampled_and_seeded():
    # GIVEN 40 plain numeric columns (shap samples coalitions), NaN in the row and in the background
    rng = np.random.default_rng(2)
    beta = rng.normal(size=40)
    filler = rng.normal(size=40)

    def f(Z):
        Z = np.asarray(Z, dtype=np.float64)
        assert_real_values(Z)
        return np.tanh(np.where(np.isnan(Z), filler, Z) @ beta / 4)[:, None]

    bg = rng.normal(size=(5, 40))
    bg[0, :3] = np.nan
    x = rng.normal(size=40)
    x[[1, 7]] = np.nan
    shap = ShapMethod(f, bg, np.full(5, 0.2), [f"x{j}" for j in range(40)])
    first, again = shap.explain(x, nsamples=400, seed=3), shap.explain(x, nsamples=400, seed=3)
    np.testing.assert_array_equal(first.values, again.values)
    assert np.isfinite(first.values).all()
    assert quality.additivity_gap(first.values[:, 0], first.base_values[0], first.outputs[0]) <= 1e-9
    assert first.outputs[0] == pytest.approx(f(x[None])[0, 0])


# --- LIME over columns ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lime(training, background):
    def probabilities(Z):
        p = risk(Z)[:, 0]
        return np.column_stack([1 - p, p])

    return LimeMethod(
        probabilities, lime_training_stats(training, MIXED_SCHEMA), background[0], MIXED_SCHEMA.names,
        mode=CLASSIFICATION, class_names=["good", "bad"], schema=MIXED_SCHEMA,
    )  # fmt: skip


NUMBER = r"-?\d+\.\d{2}"
ISO = r"\d{4}-\d{2}-\d{2}"


def bin_condition(name: str, value: str) -> str:
    return rf"({name} <= {value}|{value} < {name} <= {value}|{name} > {value})"


def test_lime_conditions_read_as_the_columns_values(lime):
    x = np.array([30_000.0, 2.0, SELF_EMPLOYED, 1.0, MIXED_DAY0 + 100])
    income, score, applicant, married, signup = lime.conditions(x)
    assert re.fullmatch(bin_condition("income", NUMBER), income), income
    assert re.fullmatch(bin_condition("score", NUMBER), score), score
    assert applicant == "applicant_type = self-employed"
    assert married == "married = yes"
    assert re.fullmatch(bin_condition("signup", ISO), signup), signup
    # the date bin holds the instance's date: its edges, read as dates, bracket 2020-04-10
    edges = re.findall(ISO, signup)
    assert all(edge >= "2020-01-01" for edge in edges)
    if signup.startswith("signup <="):
        assert edges[0] >= "2020-04-10"


def test_lime_conditions_of_missing_values_and_an_unseen_level(lime):
    assert lime.conditions(messy_row()) == [
        "income is missing",
        lime.conditions(np.array([1.0, 2.0, 0.0, 0.0, MIXED_DAY0]))[1],
        "applicant_type = (unknown)",
        "married = yes",
        "signup is missing",
    ]
    row = np.array([50_000.0, 3.0, MISSING_TYPE, 0.0, MIXED_DAY0])
    assert lime.conditions(row)[APPLICANT : MARRIED + 1] == ["applicant_type is missing", "married = no"]


def test_lime_samples_categorical_levels_by_training_frequency(lime, training):
    # GIVEN a row of a self-employed applicant
    x = np.array([30_000.0, 2.0, SELF_EMPLOYED, 0.0, MIXED_DAY0 + 100])
    indicators, values = lime._sampler.sample(x, 40_000, np.random.RandomState(0))
    # THEN the applicant type is drawn as level codes (missing included) with the training shares
    codes, counts = np.unique(training[:, APPLICANT], return_counts=True)
    drawn = values[1:, APPLICANT]
    assert set(np.unique(drawn)) == set(codes)
    for code, count in zip(codes, counts, strict=True):
        assert (drawn == code).mean() == pytest.approx(count / len(training), abs=0.01)
    # and its interpretable feature is "the same level as the instance"
    np.testing.assert_array_equal(indicators[:, APPLICANT], values[:, APPLICANT] == SELF_EMPLOYED)
    np.testing.assert_array_equal(indicators[:, MARRIED], values[:, MARRIED] == 0.0)
    # numbers and dates are drawn from the training bins, never missing when the instance has a value
    assert not np.isnan(values[:, [INCOME, SIGNUP]]).any()


def test_lime_keeps_a_missing_value_or_an_unseen_level_in_a_share_of_the_samples(lime):
    x = messy_row()
    indicators, values = lime._sampler.sample(x, 20_000, np.random.RandomState(1))
    for j in (INCOME, SIGNUP):
        kept = np.isnan(values[:, j])
        assert kept[0] and kept.mean() == pytest.approx(KEEP_SHARE, abs=0.02)
        np.testing.assert_array_equal(indicators[:, j], kept)
    unseen = values[:, APPLICANT] == UNKNOWN
    assert unseen.mean() == pytest.approx(KEEP_SHARE, abs=0.02)
    np.testing.assert_array_equal(indicators[:, APPLICANT], unseen)
    assert set(np.unique(values[~unseen, APPLICANT])) <= {0.0, 1.0, 2.0, MISSING_TYPE}


def test_lime_conditions_of_the_continuous_neighbourhood_read_as_the_rows_values(lime):
    x = np.array([30_000.0, 2.0, SELF_EMPLOYED, 1.0, MIXED_DAY0 + 100])
    assert lime.conditions(x, CONTINUOUS) == [
        "income = 30000",
        "score = 2",
        "applicant_type = self-employed",
        "married = yes",
        "signup = 2020-04-10",
    ]
    continuous, discretized = lime.conditions(messy_row(), CONTINUOUS), lime.conditions(messy_row(), DISCRETIZED)
    assert continuous[SCORE] == "score = 2" and discretized[SCORE] != continuous[SCORE]
    # a missing value or an unseen level reads the same in both
    assert continuous[:SCORE] + continuous[SCORE + 1 :] == discretized[:SCORE] + discretized[SCORE + 1 :]


def test_continuous_neighbourhood_moves_around_the_row_and_redraws_levels_with_the_radius(lime, training):
    # GIVEN a row of a self-employed, married applicant
    x = np.array([30_000.0, 2.0, SELF_EMPLOYED, 1.0, MIXED_DAY0 + 100])
    samples = lime.neighbourhood(x, 40_000, 0, CONTINUOUS)
    np.testing.assert_array_equal(samples.values[0], x)
    assert samples.distances[0] == 0.0
    # THEN numbers and dates move around the row's value: mean the row's, variance std^2 E[r^2] = std^2 / 3
    for j in (INCOME, SIGNUP):
        moved = samples.values[1:, j]
        std = np.nanstd(training[:, j])
        assert moved.mean() == pytest.approx(x[j], abs=0.02 * std)
        assert moved.std() == pytest.approx(std / np.sqrt(3), rel=0.05)
    # and a level is redrawn from training with probability r (half the samples, on average); its
    # feature is "same level as the row" minus the level's training share
    same = samples.values[:, APPLICANT] == SELF_EMPLOYED
    share = (training[:, APPLICANT] == SELF_EMPLOYED).mean()
    assert same.mean() == pytest.approx(0.5 + 0.5 * share, abs=0.02)
    np.testing.assert_allclose(samples.features[:, APPLICANT], same - share, atol=0.01)
    # distances: training stds for the numbers, 1 per changed level
    assert (samples.distances[~same] >= 1.0).all()
    again = lime.neighbourhood(x, 500, 7, CONTINUOUS)
    np.testing.assert_array_equal(again.values, lime.neighbourhood(x, 500, 7, CONTINUOUS).values)


def test_continuous_neighbourhood_keeps_a_missing_value_or_an_unseen_level_in_half_the_samples(lime):
    x = messy_row()
    samples = lime.neighbourhood(x, 20_000, 1, CONTINUOUS)
    for j in (INCOME, SIGNUP):
        kept = np.isnan(samples.values[:, j])
        assert kept[0] and kept.mean() == pytest.approx(KEEP_SHARE, abs=0.02)
        np.testing.assert_array_equal(samples.features[:, j], kept)
        assert not np.isnan(samples.values[~kept, j]).any()
    unseen = samples.values[:, APPLICANT] == UNKNOWN
    assert unseen.mean() == pytest.approx(KEEP_SHARE, abs=0.02)
    np.testing.assert_array_equal(samples.features[:, APPLICANT], unseen)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_lime_explains_a_messy_row_per_column_deterministically(lime, sampling):
    x = messy_row()
    a, b, c = (lime.explain(x, [0, 1], num_samples=2000, seed=s, sampling=sampling) for s in (4, 4, 5))
    assert a == b
    assert a.results[1].weights != c.results[1].weights
    assert sorted(j for j, _ in a.results[1].weights) == list(range(5))
    assert all(np.isfinite(w) for _, w in a.results[1].weights)
    p = risk(x[None])[0, 0]
    assert a.results[1].model_prediction == pytest.approx(log_odds(p) if sampling == CONTINUOUS else p)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_lime_weight_of_a_categorical_column_follows_the_model(lime, sampling):
    # GIVEN the model's +1.2 (log-odds) for self-employed against -0.5 for employed
    row = np.array([40_000.0, 3.0, SELF_EMPLOYED, 0.0, MIXED_DAY0 + 700])
    self_employed = dict(lime.explain(row, [1], num_samples=4000, seed=0, sampling=sampling).results[1].weights)
    row[APPLICANT] = EMPLOYED
    employed = dict(lime.explain(row, [1], num_samples=4000, seed=0, sampling=sampling).results[1].weights)
    # THEN "applicant_type = self-employed" raises P(bad), "applicant_type = employed" lowers it
    assert self_employed[APPLICANT] > 0 > employed[APPLICANT]


# --- the served model: Explanations over the mixed bundle ----------------------------------------


@pytest.fixture(scope="module")
def served(mixed_bundle):
    from litelens.functions.common.model import load_model

    model = load_model(str(mixed_bundle))
    return model, Explanations.from_model(model)


def served_risk(model):
    return lambda Z: model.predict_batch(MIXED_SCHEMA.encode(Z)).astype(np.float64)


def test_served_explanations_name_the_original_columns_and_add_up(served):
    model, explanations = served
    Z, _ = mixed_rows(4, seed=11)
    Z[1] = messy_row()
    columns = explanations.predict_output_columns(Z)
    out = explanations.explain(Z, columns, [0, 1], ExplainOptions(target_class="bad"))
    assert out[2:] == [None, None]
    for row, z in zip(out[:2], Z[:2], strict=True):
        shap, lime = row["shap"], row["lime"]
        assert list(shap["values"]) == MIXED_SCHEMA.names
        assert shap["additivity_gap"] <= 1e-9
        assert shap["output"] == pytest.approx(float(served_risk(model)(z[None])[0, 0]), abs=1e-7)
        assert sorted(w["feature"] for w in lime["weights"]) == sorted(MIXED_SCHEMA.names)
        assert set(row["agreement"]["shap_top"]) <= set(MIXED_SCHEMA.names)
    conditions = {w["feature"]: w["condition"] for w in out[1]["lime"]["weights"]}
    assert conditions["income"] == "income is missing"
    assert conditions["applicant_type"] == "applicant_type = (unknown)"
    assert conditions["married"] == "married = yes"
    assert conditions["signup"] == "signup is missing"


def test_served_shap_is_the_exact_enumeration_over_the_five_columns(served):
    model, explanations = served
    background, weights = model.bundle.shap_background()
    assert np.isnan(background).any() or (background[:, APPLICANT] == MISSING_TYPE).any()
    for x in (np.array([35_000.0, 2.0, SELF_EMPLOYED, 0.0, MIXED_DAY0 + 30]), messy_row()):
        result = explanations.shap["probability"].explain(x, seed=0)
        exact, base = exact_shapley(served_risk(model), x, background, weights)
        np.testing.assert_allclose(result.values[:, 0], exact, atol=1e-6)
        assert result.base_values[0] == pytest.approx(base, abs=1e-6)


def test_served_categorical_value_follows_the_level(served):
    # GIVEN one applicant, once self-employed (the data's risk +1.2) and once employed
    _, explanations = served
    row = np.array([52_000.0, 3.0, SELF_EMPLOYED, 0.0, MIXED_DAY0 + 700])
    self_employed = explanations.shap["probability"].explain(row, seed=0).values[APPLICANT, 0]
    row[APPLICANT] = EMPLOYED
    employed = explanations.shap["probability"].explain(row, seed=0).values[APPLICANT, 0]
    # THEN applicant_type pushes P(bad) up for the one and down for the other
    assert self_employed > 0 > employed
    assert self_employed - employed > 0.05


def test_served_explanations_are_deterministic_by_seed(served):
    _, explanations = served
    x = messy_row()
    options = ExplainOptions(seed=3, nsamples=20)  # fewer than the 30 coalitions: shap samples
    first, again = explanations.explain_row(x, [1], options), explanations.explain_row(x, [1], options)
    assert first == again
    other = explanations.explain_row(x, [1], ExplainOptions(seed=4, nsamples=20))
    assert other["lime"]["weights"] != first["lime"]["weights"]
