"""SHAP attributions: KernelSHAP over the bundle's weighted background of real training rows.

Built once (cold start) per output space over one batch predict function of *column-space* rows
(one value per raw column, ``build.bundle.schema``); per request only ``explain``. A coalition
switches whole columns between the instance and a background row, so every column gets one value
(a categorical column one value, not one per level; a missing indicator is part of its column)
and every row the model is sent is a valid one (a level code, a value, a date from a real row; NaN
where the instance or the background row is missing). The estimator is ``kernel_shap.KernelShap``:
shap.KernelExplainer's weights, paired sampling, size enumeration and constrained solve, drawn and
evaluated a round at a time (one model call per round), with standard errors. What differs from
the textbook ``shap.KernelExplainer`` call, and why:

- the background is the bundle's real training rows (k-means medoids) *with their cluster weights*;
- every coalition is enumerated when ``2^M - 2`` fits the budget (M varying columns): the values are
  then the exact Shapley values, ``exact`` true and every standard error 0. shap's ``nsamples="auto"``
  (2 M + 2048) stops short of that from M = 12 on;
- otherwise coalitions are sampled in rounds until the estimated ``relative_error`` (mean standard
  error over mean |value|) reaches ``target_error`` or ``nsamples`` distinct coalitions are spent
  (``DEFAULT_TARGET_ERROR``, ``default_nsamples``: chosen by ``litelens bench explain``);
- every varying column gets a value (shap's default ``l1_reg`` keeps ~10 and zeroes the rest, which
  a user reads as "no effect"); top-k is the response's business (``service``: the k largest values
  unchanged, the others summed as ``rest``), never a refit;
- the output space is explicit. ``probability`` explains the model's output as is (regression: the
  value); ``log_odds`` explains logit(p) of a binary model, the space in which an additive logit
  model's SHAP values are its per-feature terms. In either space ``base_value + sum(values)`` equals
  the explained output of the row (KernelSHAP's efficiency constraint), reported as ``output``;
- sampling is seeded by the call (``numpy.random.default_rng(seed)``): no global state, so threads
  and the probability / log-odds pair never interleave their draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from litelens.explain.arrays import BatchFunction, Floats, Rows
from litelens.explain.kernel_shap import KernelShap, sum_std_error


class OutputSpace(StrEnum):
    """What an attribution explains, as every answer names it (``output_space``): ``probability`` the model's
    output as it is (for SHAP a regression model's value too), ``log_odds`` logit(p) of a binary model's
    probability, ``value`` LIME's surrogate of a regression model's value (``lime_method``)."""

    PROBABILITY = "probability"
    LOG_ODDS = "log_odds"
    VALUE = "value"


# The spaces SHAP explains in: what a request's ``output_space`` may name (log_odds: a binary model's).
SHAP_OUTPUT_SPACES = (OutputSpace.PROBABILITY, OutputSpace.LOG_ODDS)
# Clip probabilities this far from 0 and 1 before taking log-odds (float32 sigmoids saturate).
_EPS = 1e-7
# Stop sampling at this estimated relative error (mean SE / mean |value|; the mean |error| is about 0.8 of it),
# chosen with ``litelens bench explain`` against its high-budget reference (README, Benchmarks).
DEFAULT_TARGET_ERROR = 0.03
# The default budget of distinct coalitions: every coalition while that is at most EXACT_BUDGET (up to 13
# columns: exact), else BUDGET_PER_COLUMN per column, at least shap's "auto" (2 F + 2048), at any width.
# 56 per column (5600 at 100 columns) keeps SHAP + LIME of one 100-column row under the 150 ms warm p50
# target of ``litelens bench explain`` (how it was chosen: README, Benchmarks). The server's cap bounds it
# (``functions/explain/request``: 10 000 by default, which a 500-column bundle reaches) and the explain
# function's time budget bounds the rows a request may ask for at that cost.
EXACT_BUDGET = 2**13 - 2
BUDGET_PER_COLUMN = 56


def log_odds(p: ArrayLike) -> Floats:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def default_nsamples(n_features: int) -> int:
    """The default budget of distinct coalitions for ``n_features`` columns: every coalition up to 13 columns
    (exact), else ``BUDGET_PER_COLUMN`` per column and at least shap's "auto" (2 F + 2048)."""
    if n_features < 14 and (1 << n_features) - 2 <= EXACT_BUDGET:  # 2^F - 2 coalitions
        return max((1 << n_features) - 2, 1)
    return max(2 * n_features + 2048, BUDGET_PER_COLUMN * n_features)


@dataclass(frozen=True)
class ShapResult:
    """Attributions for one row: ``values`` and ``std_errors`` (n_features, n_outputs); ``base_values``,
    ``outputs`` and ``relative_error`` (n_outputs,); ``nsamples`` distinct coalitions evaluated; ``exact`` when
    they were every coalition; ``target_error`` the error sampling was asked to stop at."""

    values: Floats
    base_values: Floats
    outputs: Floats
    nsamples: int
    std_errors: Floats
    relative_error: Floats
    exact: bool
    target_error: float | None
    influence: Floats  # (n_features, n_draws, n_outputs): kernel_shap.KernelShapResult's

    def sum_std_error(self, columns: Sequence[int], output: int) -> float:
        """The standard error of the sum of the values of ``columns`` (covariances included) for one output."""
        return sum_std_error(self.influence, np.asarray(columns, dtype=np.intp), output)


class ShapMethod:
    """KernelSHAP for a batch predict function ``f(X (n, F)) -> (n, n_outputs)``."""

    def __init__(
        self,
        predict: BatchFunction,
        background: ArrayLike,
        weights: ArrayLike,
        feature_names: Sequence[str],
        *,
        output_space: OutputSpace = OutputSpace.PROBABILITY,
        row_dtype: type[np.floating[Any]] = np.float64,
    ) -> None:
        """``row_dtype``: of the column-space rows ``predict`` gets (float32 when it takes float32 anyway)."""
        if output_space not in SHAP_OUTPUT_SPACES:
            raise ValueError(f"unknown output space {output_space!r}")
        background = np.asarray(background, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)
        if background.ndim != 2 or background.shape[1] != len(feature_names) or len(weights) != len(background):
            raise ValueError(f"background {background.shape} / weights {weights.shape} do not match the features")
        self.feature_names = list(feature_names)
        self.output_space = output_space
        self._predict = predict
        f = self._log_odds_output if output_space == OutputSpace.LOG_ODDS else self._output
        self._estimator = KernelShap(f, background, weights, dtype=row_dtype)

    def _output(self, X: Rows) -> Floats:
        return np.asarray(self._predict(X), dtype=np.float64)

    def _log_odds_output(self, X: Rows) -> Floats:
        return log_odds(self._predict(X))

    @property
    def base_values(self) -> Floats:
        """E_background[f] (weighted), (n_outputs,)."""
        return self._estimator.base_values

    def explain(
        self,
        x: ArrayLike,
        *,
        nsamples: int | None = None,
        target_error: float | None = DEFAULT_TARGET_ERROR,
        seed: int = 0,
    ) -> ShapResult:
        """Attributions of one row ``x`` (F,), NaN = missing: at most ``nsamples`` distinct coalitions (default
        ``default_nsamples``), fewer once the estimated relative error is ``target_error`` (None: spend them all)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        budget = default_nsamples(x.shape[0]) if nsamples is None else int(nsamples)
        r = self._estimator.explain(x, budget=budget, target_error=target_error, seed=seed)
        return ShapResult(
            values=r.values,
            base_values=r.base_values,
            outputs=r.outputs,
            nsamples=r.nsamples,
            std_errors=r.std_errors,
            relative_error=r.relative_error,
            exact=r.exact,
            target_error=target_error,
            influence=r.influence,
        )
