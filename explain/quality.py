"""The quality fields of an explanation: how far to trust it, computed from the attributions themselves.

- ``additivity_gap``: |sum(phi) + base - f(x)| in SHAP's output space. KernelSHAP enforces
  efficiency, so anything above rounding says the attributions do not add up to the score.
- LIME's ``score`` (weighted R^2 of the local ridge on its samples) and ``local_prediction`` (the
  surrogate at the instance) come from the fit itself (``lime_method``).
- ``agreement``: whether the two methods point at the same features. Top-k by |attribution| from
  each, their overlap, and the rank correlations (Spearman's rho, Kendall's tau-b) of the two
  methods' signed attributions over all features (a feature LIME left out counts as 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DEFAULT_TOP_K = 5


def additivity_gap(values: np.ndarray, base_value: float, output: float) -> float:
    return float(abs(float(np.sum(values, dtype=np.float64)) + float(base_value) - float(output)))


def top_k(attributions: np.ndarray, k: int) -> list[int]:
    """Indices of the k largest |attributions|, largest first; ties broken by feature order."""
    order = np.lexsort((np.arange(len(attributions)), -np.abs(attributions)))
    return [int(j) for j in order[:k] if attributions[j] != 0]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def rank_correlations(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
    """(Spearman rho, Kendall tau-b) of a and b; None where undefined (a constant vector)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None, None
    rho = stats.spearmanr(a, b).statistic
    tau = stats.kendalltau(a, b).statistic
    return _finite_or_none(rho), _finite_or_none(tau)


def agreement(
    shap_values: np.ndarray, lime_weights: Mapping[int, float], feature_names: Sequence[str], k: int
) -> dict[str, Any]:
    """Top-k overlap and rank correlation of SHAP values (F,) and LIME weights {feature index: weight}."""
    n = len(feature_names)
    k = max(1, min(int(k), n))
    lime = np.zeros(n)
    for j, weight in lime_weights.items():
        lime[j] = weight
    shap_top, lime_top = top_k(np.asarray(shap_values, dtype=np.float64), k), top_k(lime, k)
    rho, tau = rank_correlations(shap_values, lime)
    return {
        "k": k,
        "overlap": len(set(shap_top) & set(lime_top)),
        "shap_top": [feature_names[j] for j in shap_top],
        "lime_top": [feature_names[j] for j in lime_top],
        "spearman": rho,
        "kendall": tau,
    }
