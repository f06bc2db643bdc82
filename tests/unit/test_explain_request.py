"""The explain request's parameters count what the explainers attribute: the original columns."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from litelens.functions.common.errors import ClientError
from litelens.functions.explain.request import Caps, parse_parameters
from tests.support.bundles import MIXED_SCHEMA


def test_top_k_and_the_smallest_budget_count_original_columns():
    # GIVEN a card of 5 raw columns that encode to 12 model inputs
    card = SimpleNamespace(schema=MIXED_SCHEMA, task="binary", classes=["good", "bad"])
    assert len(MIXED_SCHEMA.names) == 5 and MIXED_SCHEMA.n_inputs == 12
    # THEN top-k goes up to the 5 columns, and the smallest SHAP budget is 2 x 5 + 2
    assert parse_parameters({"num_features": 5}, card, Caps()).num_features == 5
    with pytest.raises(ClientError, match="num_features must be between 1 and 5"):
        parse_parameters({"num_features": 6}, card, Caps())
    assert parse_parameters({"nsamples": 12}, card, Caps()).nsamples == 12
    with pytest.raises(ClientError, match="nsamples must be between 12 and"):
        parse_parameters({"nsamples": 11}, card, Caps())
