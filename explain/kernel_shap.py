"""KernelSHAP, vectorised: shap.KernelExplainer's estimator, one model call per round of coalitions.

The estimator is shap's (0.54, ``shap.explainers._kernel``): only *varying* columns (the instance
differs from some background row, shap's ``allclose`` with NaN equal to NaN) get a value, the others
0; a coalition keeps the instance's value of its columns and a background row's elsewhere, and its
value is the weighted mean of the model over the background; the sizes are enumerated or sampled
as shap does (``coalitions``); the values are the efficiency-constrained weighted least squares fit
(``kernel_fit``). With fewer than two varying columns there is nothing to estimate (one column
gets ``f(x) - E[f]``).

What is new: a round draws its coalitions as one mask matrix, builds every synthetic row
(coalition x background row) in one buffer and makes one model call (``MAX_CELLS_PER_CALL`` bounds
its memory), and averages over the background in numpy. The first round is the enumerated sizes,
f(x) and ``FIRST_ROUND_SHARE`` of the sampling budget; each later round is sized from the error
reached so far (it falls as 1 / sqrt(draws)) until the estimated relative error (mean standard error
over mean |value|) reaches ``target_error`` or the budget of distinct coalitions is spent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from litelens.explain.arrays import BatchFunction, Floats, Indices, Masks
from litelens.explain.coalitions import CoalitionDraws, plan_sizes
from litelens.explain.kernel_fit import KernelFit

FIRST_ROUND_SHARE = 0.25
MIN_DRAWS_PER_COLUMN = 4  # a round draws at least this many per varying column
MAX_ROUNDS = 8
MAX_CELLS_PER_CALL = 1 << 23  # synthetic rows x columns per model call (64 MB of float64)


@dataclass(frozen=True)
class KernelShapResult:
    """One row's estimate: ``values`` and ``std_errors`` (n_columns, n_outputs); ``base_values``, ``outputs`` and
    ``relative_error`` (n_outputs,); ``nsamples`` distinct coalitions evaluated; ``exact`` when that was every
    coalition (or fewer than two columns vary); ``influence`` (n_columns, n_draws, n_outputs) each draw's share
    of each value's error, so that ``cov(phi_j, phi_k) = sum_d influence[j, d] influence[k, d]``."""

    values: Floats
    std_errors: Floats
    base_values: Floats
    outputs: Floats
    nsamples: int
    relative_error: Floats
    exact: bool
    influence: Floats
    rounds: int  # model calls made (rounds that brought coalitions not evaluated before)


def sum_std_error(influence: Floats, columns: Indices, output: int) -> float:
    """The standard error of the sum of the values of ``columns`` for one output, covariances included."""
    if influence.shape[1] == 0 or len(columns) == 0:
        return 0.0
    return float(np.sqrt(np.sum(influence[columns, :, output].sum(axis=0) ** 2)))


def relative_error(values: Floats, std_errors: Floats) -> Floats:
    """Mean standard error over mean |value| per output (0 where every value is 0)."""
    size = np.abs(values).mean(axis=0)
    return np.where(size > 0, std_errors.mean(axis=0) / np.where(size > 0, size, 1.0), 0.0)


class KernelShap:
    """KernelSHAP of ``f(Z (n, F)) -> (n, D)`` against a weighted background ``(B, F)`` (NaN = missing).

    ``dtype``: of the synthetic rows ``f`` gets; float32 when ``f`` takes float32 anyway (a model on plain numeric
    columns), which halves their memory and skips a conversion."""

    def __init__(
        self,
        f: BatchFunction,
        background: ArrayLike,
        weights: ArrayLike,
        dtype: type[np.floating[Any]] = np.float64,
    ) -> None:
        self.f = f
        self.dtype = dtype
        self.background = np.asarray(background, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        self.weights = w / w.sum()
        outputs = np.asarray(f(self.background.astype(dtype)), dtype=np.float64).reshape(len(w), -1)
        self.base_values = self.weights @ outputs

    def varying(self, x: Floats) -> Indices:
        """Indices of the columns where ``x`` differs from some background row."""
        same = np.isclose(x[None, :], self.background, equal_nan=True).all(axis=0)
        return np.flatnonzero(~same)

    def coalition_values(self, x: Floats, varying: Indices, masks: Masks, with_x: bool) -> Floats:
        """E_background[f] of each coalition (n, D), in one model call per ``MAX_CELLS_PER_CALL``; ``with_x``:
        f(x) as one more row at the end."""
        n, b, width = len(masks), len(self.background), len(x)
        if n == 0 and not with_x:  # a round of coalitions drawn before
            return np.zeros((0, len(self.base_values)))
        keep = np.zeros((n, width), dtype=bool)
        keep[:, varying] = masks
        step = max(1, MAX_CELLS_PER_CALL // (b * width))
        values = []
        for start in range(0, max(n, 1), step):
            part = keep[start : start + step]
            last = with_x and start + step >= n
            rows = np.empty((len(part) * b + last, width), dtype=self.dtype)
            synthetic = rows[: len(part) * b].reshape(len(part), b, width)
            synthetic[...] = self.background
            np.copyto(synthetic, x, where=part[:, None, :])
            if last:
                rows[-1] = x
            out = np.asarray(self.f(rows), dtype=np.float64).reshape(len(rows), -1)
            values.append(np.einsum("nbd,b->nd", out[: len(part) * b].reshape(len(part), b, -1), self.weights))
            if last:
                values.append(out[-1:])
        return np.concatenate(values)

    def explain(
        self, x: ArrayLike, *, budget: int, target_error: float | None = None, seed: int = 0
    ) -> KernelShapResult:
        """The attributions of one row ``x`` (F,) from at most ``budget`` distinct coalitions, fewer once the
        estimated relative error of every output is ``target_error`` (None or 0: spend the budget)."""
        x = np.asarray(x, dtype=np.float64)
        varying = self.varying(x)
        m, d = len(varying), len(self.base_values)
        if m <= 1:
            fx = np.asarray(self.f(x[None].astype(self.dtype)), dtype=np.float64).reshape(d)
            values = np.zeros((len(x), d))
            values[varying] = fx - self.base_values
            none = np.zeros((len(x), 0, d))
            return KernelShapResult(values, np.zeros_like(values), self.base_values, fx, 0, np.zeros(d), True, none, 1)
        plan = plan_sizes(m, budget)
        draws = CoalitionDraws(plan, np.random.default_rng(seed))
        left = budget - len(plan.masks)
        first = draws.draw(0 if plan.exact else self._first_round(draws, m, left), left)
        out = self.coalition_values(x, varying, np.concatenate([plan.masks, first.new_masks]), with_x=True)
        fx = out[-1]
        fit = KernelFit(plan, out[: len(plan.masks)], fx, self.base_values)
        fit.add(first.new_masks, out[len(plan.masks) : -1], first.draws)
        rounds = calls = 1
        while True:
            phi, influence = fit.solve()
            se = np.sqrt((influence**2).sum(axis=1))
            reached = relative_error(phi, se)
            left = budget - len(plan.masks) - len(draws)
            if plan.exact or left <= 0 or rounds >= MAX_ROUNDS:
                break
            if target_error and float(reached.max()) <= target_error:
                break
            more = _draws_for(fit.n_draws, float(reached.max()), target_error) if target_error else left
            # at most ``left`` draws: each brings one or two coalitions, so that fills the budget or nearly
            step = draws.draw(min(max(more, MIN_DRAWS_PER_COLUMN * m), left), left)
            if len(step.draws) == 0:
                break
            fit.add(step.new_masks, self.coalition_values(x, varying, step.new_masks, with_x=False), step.draws)
            rounds, calls = rounds + 1, calls + bool(len(step.new_masks))
        values, std_errors = np.zeros((len(x), d)), np.zeros((len(x), d))
        values[varying], std_errors[varying] = phi, se
        if m == len(x):  # every column varies: no copy of what can be the largest array here
            full_influence = influence
        else:
            full_influence = np.zeros((len(x), influence.shape[1], d))
            full_influence[varying] = influence
        used = len(plan.masks) + len(draws)
        return KernelShapResult(
            values, std_errors, self.base_values, fx, used, reached, plan.exact, full_influence, calls
        )

    @staticmethod
    def _first_round(draws: CoalitionDraws, m: int, left: int) -> int:
        most = left * draws.draws_per_coalition()
        return int(min(most, max(MIN_DRAWS_PER_COLUMN * m, FIRST_ROUND_SHARE * most)))


def _draws_for(done: int, reached: float, target: float) -> int:
    """How many more draws should bring the relative error from ``reached`` (after ``done``) to ``target``."""
    return math.ceil(done * ((reached / target) ** 2 * 1.1 - 1.0))
