"""MIXED_SCHEMA's columns for the column-space explain tests (tests/support/bundles.py builds the bundle):
the columns by index, applicant_type's level codes, a messy row, and the exact Shapley values of a
model over columns to check SHAP against."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from litelens.build.bundle.schema import UNKNOWN
from tests.support.bundles import MIXED_SCHEMA

INCOME, SCORE, APPLICANT, MARRIED, SIGNUP = range(5)
SELF_EMPLOYED, EMPLOYED, MISSING_TYPE = 2.0, 0.0, MIXED_SCHEMA.columns[APPLICANT].missing_code


def exact_shapley(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, background: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, float]:
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


def messy_row() -> np.ndarray:
    """A row with a missing income, an unseen applicant type and a missing date."""
    return np.array([np.nan, 2.0, UNKNOWN, 1.0, np.nan])
