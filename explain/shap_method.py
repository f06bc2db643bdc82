"""SHAP attributions: ``shap.KernelExplainer`` over the bundle's weighted background of real training rows.

Built once (cold start) per output space over one batch predict function of *column-space* rows
(one value per raw column, ``build.bundle.schema``); per request only ``explain``. A coalition
switches whole columns between the instance and a background row, so every column gets one value
(a categorical column one value, not one per level; a missing indicator is part of its column)
and every row the model is sent is a valid one (a level code, a value, a date from a real row).
What differs from the textbook call, and why:

- the background is the bundle's real training rows (k-means medoids) *with their cluster weights*
  (shap's ``DenseData`` carries them; a plain array would weigh every row equally);
- missing values (NaN) never reach shap: the instance's and the background's NaN become
  ``MISSING`` (a finite float64 beyond the float32 range, so never a value a column can hold) and
  ``MISSING`` becomes NaN again in the rows sent to the model. shap 0.54 happens to compare NaN as
  equal in its varying-column test, but it is not part of its contract, and a NaN in its synthetic
  rows or weights would silently spread;
- ``l1_reg=False``: shap's default keeps ~10 non-zero values and zeroes the rest, which a user
  reads as "no effect". A top-k request keeps the k largest |value| of that full solution and
  refits them under the efficiency constraint (``_TopKSolve``), instead of shap's
  ``num_features(k)``, whose LARS path costs ~0.9 s per output at 100 features and k = 99 (a
  20-row, 8-class request at the caps took 35 s, past API Gateway's 29 s);
- the output space is explicit. ``probability`` explains the model's output as is (regression: the
  value); ``log_odds`` explains logit(p) of a binary model, the space in which an additive logit
  model's SHAP values are its per-feature terms. In either space ``base_value + sum(values)`` equals
  the explained output of the row (KernelSHAP's efficiency constraint), reported as ``output``;
- sampling is seeded: shap draws coalitions from numpy's global generator, so each call seeds it and
  restores the previous state afterwards, under one lock shared by every instance (two instances,
  e.g. the probability and log-odds explainers, would otherwise interleave their draws).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

PROBABILITY = "probability"
LOG_ODDS = "log_odds"
OUTPUT_SPACES = (PROBABILITY, LOG_ODDS)
# Clip probabilities this far from 0 and 1 before taking log-odds (float32 sigmoids saturate).
_EPS = 1e-7
# What a missing value (NaN) is while shap holds it: finite, and beyond any float32 a column can hold.
MISSING = -1e300

BatchPredict = Callable[[np.ndarray], np.ndarray]
# numpy's global generator is process-wide: every ShapMethod seeds and draws from it under this lock.
_GLOBAL_RNG_LOCK = threading.Lock()


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def default_nsamples(n_features: int) -> int:
    """shap's ``nsamples="auto"``: 2 M + 2048."""
    return 2 * n_features + 2048


@dataclass(frozen=True)
class ShapResult:
    """Attributions for one row: ``values`` (n_features, n_outputs), ``base_values`` and ``outputs`` (n_outputs,)."""

    values: np.ndarray
    base_values: np.ndarray
    outputs: np.ndarray
    nsamples: int


class ShapMethod:
    """KernelSHAP for a batch predict function ``f(X (n, F)) -> (n, n_outputs)``."""

    def __init__(
        self,
        predict: BatchPredict,
        background: np.ndarray,
        weights: np.ndarray,
        feature_names: Sequence[str],
        *,
        output_space: str = PROBABILITY,
    ) -> None:
        import shap
        from shap.utils._legacy import DenseData

        if output_space not in OUTPUT_SPACES:
            raise ValueError(f"unknown output space {output_space!r}")
        background = np.asarray(background, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64).copy()  # DenseData normalizes in place
        if background.ndim != 2 or background.shape[1] != len(feature_names) or len(weights) != len(background):
            raise ValueError(f"background {background.shape} / weights {weights.shape} do not match the features")
        self.feature_names = list(feature_names)
        self.output_space = output_space
        self._predict = predict
        background_missing = np.isnan(background)
        self._background_missing = bool(background_missing.any())
        self._instance_missing = False  # set per explain call, under _GLOBAL_RNG_LOCK
        background = np.where(background_missing, MISSING, background)
        f = self._log_odds_output if output_space == LOG_ODDS else self._output
        data = DenseData(background, self.feature_names, None, weights)
        self._explainer = _top_k_kernel_explainer(shap.KernelExplainer)(f, data, link="identity")

    def _model_rows(self, X: np.ndarray) -> np.ndarray:
        """shap's rows as the model takes them: ``MISSING`` back to NaN (only when a NaN came in)."""
        if not (self._background_missing or self._instance_missing):
            return X
        X = np.asarray(X, dtype=np.float64)
        return np.where(X == MISSING, np.nan, X)

    def _output(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._predict(self._model_rows(X)), dtype=np.float64)

    def _log_odds_output(self, X: np.ndarray) -> np.ndarray:
        return log_odds(self._predict(self._model_rows(X)))

    @property
    def base_values(self) -> np.ndarray:
        """E_background[f] (weighted), (n_outputs,)."""
        return np.atleast_1d(np.asarray(self._explainer.expected_value, dtype=np.float64))

    def explain(
        self, x: np.ndarray, *, nsamples: int | None = None, top_k: int | None = None, seed: int = 0
    ) -> ShapResult:
        """Attributions of one row ``x`` (F,), NaN = missing. ``top_k``: keep only that many non-zero values."""
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        missing = np.isnan(x)
        if missing.any():
            x = np.where(missing, MISSING, x)
        n = default_nsamples(x.shape[1]) if nsamples is None else int(nsamples)
        with _GLOBAL_RNG_LOCK:
            self._instance_missing = bool(missing.any())
            state = np.random.get_state()
            np.random.seed(seed)
            explainer = self._explainer
            explainer.top_k = top_k if top_k is not None and top_k < x.shape[1] else None
            explainer.nsamples = 0  # shap sets it only when it samples (more than one feature varies)
            try:
                raw = explainer.shap_values(x, nsamples=n, l1_reg=False, silent=True)
                outputs = np.atleast_1d(np.asarray(explainer.fx, dtype=np.float64))  # f(x), as explained
                used = int(explainer.nsamples or 0)  # shap caps it at 2^M - 2; 0 when nothing was sampled
            finally:
                np.random.set_state(state)
        values = np.asarray(raw, dtype=np.float64)
        # shap returns (1, F) for a scalar output and (1, F, D) for a vector output.
        values = values.reshape(x.shape[1], -1) if values.ndim == 2 else values[0]
        return ShapResult(values=values, base_values=self.base_values, outputs=outputs, nsamples=min(used, n))


def _top_k_kernel_explainer(base: type) -> type:
    """``base`` (shap's KernelExplainer) whose per-output solve keeps only ``top_k`` features.

    shap's ``solve(fraction_evaluated, dim)`` fits every varying feature (``l1_reg=False``). With
    ``top_k`` set, the k largest |phi| of that fit are refitted alone, one of them eliminated by the
    efficiency constraint as shap does, so ``base + sum(values) == f(x)`` still holds exactly and
    every other value is 0. Reads shap's per-row state (``maskMatrix``, ``kernelWeights``, ``ey``,
    ``fx``, ``fnull``, ``link``): shap is pinned, and the tests check the result against an
    independent weighted least-squares solve."""

    class TopKKernelExplainer(base):
        top_k: int | None = None

        def solve(self, fraction_evaluated: float, dim: int) -> tuple[np.ndarray, np.ndarray]:
            phi, phi_var = super().solve(fraction_evaluated, dim)
            if self.top_k is None or self.top_k >= self.M:
                return phi, phi_var
            keep = np.argsort(-np.abs(phi), kind="stable")[: self.top_k]
            return self._refit(keep, dim), phi_var

        def _refit(self, keep: np.ndarray, dim: int) -> np.ndarray:
            total = self.link.f(self.fx[dim]) - self.link.f(self.fnull[dim])
            phi = np.zeros(self.M)
            *free, last = keep.tolist()
            if free:
                y = self.linkfv(self.ey[:, dim]) - self.link.f(self.fnull[dim]) - self.maskMatrix[:, last] * total
                X = self.maskMatrix[:, free] - self.maskMatrix[:, [last]]
                WX = self.kernelWeights[:, None] * X
                try:  # the normal equations, as shap solves them (an SVD per output costs ~10x more)
                    w = np.linalg.solve(X.T @ WX, WX.T @ y)
                except np.linalg.LinAlgError:
                    sqrt_w = np.sqrt(self.kernelWeights)
                    w = np.linalg.lstsq(sqrt_w[:, None] * X, sqrt_w * y, rcond=None)[0]
                phi[free] = w
            phi[last] = total - phi[free].sum()
            return phi

    return TopKKernelExplainer
