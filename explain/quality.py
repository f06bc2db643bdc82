"""The quality fields of an explanation: how far to trust it, computed from the attributions themselves.

- ``additivity_gap``: |sum(phi) + base - f(x)| in SHAP's output space. KernelSHAP enforces
  efficiency, so anything above rounding says the attributions do not add up to the score.
- LIME's ``score`` (weighted R^2 of the local ridge on its samples) and ``local_prediction`` (the
  surrogate at the instance) come from the fit itself (``lime_method``).
- ``agreement``: whether the two methods point at the same columns. Top-k by |attribution| from
  each (the full solutions', not the top-k answers'), their ``overlap``, and the rank correlations
  (Spearman's rho, Kendall's tau-b) of the two methods' signed attributions over the *union* of the
  two top-k sets (``columns`` of them). Over every column, the many near-zero attributions of
  irrelevant columns would dominate the ranks with noise; over the union the correlation says whether
  the columns either method calls important are ordered alike. None when it is undefined (fewer
  than 2 columns, or one method constant on them).
- ``lime_warnings``: a LIME fit that should not be read as a local explanation, as
  ``{"code", "message"}``: ``W_LIME_POOR_FIT`` when its R^2 is below ``MIN_LIME_SCORE`` (0.5: the
  surrogate explains less than half of the model's variation around the row), ``W_LIME_NOT_LOCAL`` when
  its local error exceeds ``MAX_LIME_LOCAL_ERROR`` (0.1 in a classifier's output space, log-odds or
  probability; for a regression value 0.1 x the model's std over the neighbourhood, whose units are
  the target's).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from litelens.explain.arrays import Floats
from litelens.explain.shap_method import OutputSpace

DEFAULT_TOP_K = 5
MIN_LIME_SCORE = 0.5
MAX_LIME_LOCAL_ERROR = 0.1
W_LIME_POOR_FIT = "lime_poor_fit"
W_LIME_NOT_LOCAL = "lime_not_local"


def additivity_gap(values: Floats, base_value: float, output: float) -> float:
    return float(abs(float(np.sum(values, dtype=np.float64)) + float(base_value) - float(output)))


def top_k(attributions: Floats, k: int) -> list[int]:
    """Indices of the k largest |attributions|, largest first; ties broken by feature order."""
    order = np.lexsort((np.arange(len(attributions)), -np.abs(attributions)))
    return [int(j) for j in order[:k] if attributions[j] != 0]


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def rank_correlations(a: ArrayLike, b: ArrayLike) -> tuple[float | None, float | None]:
    """(Spearman rho, Kendall tau-b) of a and b; None where undefined (a constant vector)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None, None
    rho = stats.spearmanr(a, b).statistic
    tau = stats.kendalltau(a, b).statistic
    return _finite_or_none(rho), _finite_or_none(tau)


def agreement(shap_values: ArrayLike, lime_values: ArrayLike, feature_names: Sequence[str], k: int) -> dict[str, Any]:
    """Top-k overlap of SHAP values (F,) and LIME weights (F,), and their rank correlations over the
    union of the two top-k sets."""
    n = len(feature_names)
    k = max(1, min(int(k), n))
    shap = np.asarray(shap_values, dtype=np.float64)
    lime = np.asarray(lime_values, dtype=np.float64)
    shap_top, lime_top = top_k(shap, k), top_k(lime, k)
    union = sorted(set(shap_top) | set(lime_top))
    rho, tau = rank_correlations(shap[union], lime[union])
    return {
        "k": k,
        "overlap": len(set(shap_top) & set(lime_top)),
        "shap_top": [feature_names[j] for j in shap_top],
        "lime_top": [feature_names[j] for j in lime_top],
        "columns": len(union),
        "spearman": rho,
        "kendall": tau,
    }


def lime_warnings(score: float, local_error: float, output_space: str, spread: float) -> list[dict[str, str]]:
    """The warnings of one LIME fit (module docstring); ``spread``: the model's weighted std over the
    neighbourhood, the scale of a regression value's local error."""
    out = []
    if score < MIN_LIME_SCORE:
        out.append({
            "code": W_LIME_POOR_FIT,
            "message": f"LIME's surrogate explains {score:.2f} of the model's variation around the row "
            f"(R^2 below {MIN_LIME_SCORE}): its weights do not describe the model here",
        })  # fmt: skip
    regression = output_space not in (OutputSpace.PROBABILITY, OutputSpace.LOG_ODDS)
    limit = MAX_LIME_LOCAL_ERROR * (spread if regression else 1.0)
    if local_error > limit:
        scale = f"{MAX_LIME_LOCAL_ERROR} x the model's std around the row" if regression else f"{limit} {output_space}"
        out.append({
            "code": W_LIME_NOT_LOCAL,
            "message": f"LIME's surrogate misses the model at the row by {local_error:.3g} (over {scale}): "
            "its weights describe the neighbourhood more than the row",
        })  # fmt: skip
    return out
