"""SHAP attributions: ``shap.KernelExplainer`` over the bundle's weighted k-means background.

Built once (cold start) per output space over one batch predict function; per request only
``explain``. What differs from the textbook call, and why:

- the background is the bundle's k-means summary *with its cluster weights* (shap's ``DenseData``
  carries them; a plain array would weigh every centre equally);
- ``l1_reg=False`` unless the caller asks for the top k features: shap's default keeps ~10 non-zero
  values and zeroes the rest, which a user reads as "no effect";
- the output space is explicit. ``probability`` explains the model's output as is (regression: the
  value); ``log_odds`` explains logit(p) of a binary model, the space in which an additive logit
  model's SHAP values are its per-feature terms. In either space ``base_value + sum(values)`` equals
  the explained output of the row (KernelSHAP's efficiency constraint), reported as ``output``;
- sampling is seeded: shap draws coalitions from numpy's global generator, so each call seeds it and
  restores the previous state afterwards.
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

BatchPredict = Callable[[np.ndarray], np.ndarray]


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
        f = self._log_odds_output if output_space == LOG_ODDS else self._output
        data = DenseData(background, self.feature_names, None, weights)
        self._explainer = shap.KernelExplainer(f, data, link="identity")
        self._lock = threading.Lock()

    def _output(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._predict(X), dtype=np.float64)

    def _log_odds_output(self, X: np.ndarray) -> np.ndarray:
        return log_odds(self._predict(X))

    @property
    def base_values(self) -> np.ndarray:
        """E_background[f] (weighted), (n_outputs,)."""
        return np.atleast_1d(np.asarray(self._explainer.expected_value, dtype=np.float64))

    def explain(
        self, x: np.ndarray, *, nsamples: int | None = None, top_k: int | None = None, seed: int = 0
    ) -> ShapResult:
        """Attributions of one row ``x`` (F,). ``top_k``: keep only that many non-zero values (shap's l1_reg)."""
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        n = default_nsamples(x.shape[1]) if nsamples is None else int(nsamples)
        l1_reg: str | bool = f"num_features({int(top_k)})" if top_k is not None and top_k < x.shape[1] else False
        with self._lock:
            state = np.random.get_state()
            np.random.seed(seed)
            try:
                raw = self._explainer.shap_values(x, nsamples=n, l1_reg=l1_reg, silent=True)
                outputs = np.atleast_1d(np.asarray(self._explainer.fx, dtype=np.float64))  # f(x), as explained
                used = int(getattr(self._explainer, "nsamples", 0) or 0)  # shap caps it at 2^M - 2
            finally:
                np.random.set_state(state)
        values = np.asarray(raw, dtype=np.float64)
        # shap returns (1, F) for a scalar output and (1, F, D) for a vector output.
        values = values.reshape(x.shape[1], -1) if values.ndim == 2 else values[0]
        return ShapResult(
            values=values, base_values=self.base_values, outputs=outputs, nsamples=min(used, n) if used else n
        )
