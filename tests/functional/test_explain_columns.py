"""explain/ in the schema's column space over the served model: the ``mixed_bundle``'s TFLite model through
``Explanations.from_model`` gives one attribution per original column, missing values and unseen levels
explained without error (tests/unit/test_explain_columns.py: the same over a plain numpy model)."""

from __future__ import annotations

import numpy as np
import pytest

from litelens.explain.service import ExplainOptions, Explanations
from tests.support.bundles import MIXED_DAY0, MIXED_SCHEMA, mixed_rows
from tests.support.mixed_columns import APPLICANT, EMPLOYED, MISSING_TYPE, SELF_EMPLOYED, exact_shapley, messy_row


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
