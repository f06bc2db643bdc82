"""The ``--demo synthetic`` dataset: 100 features, a binary target, and a known additive truth.

Rows are drawn with a fixed seed; each feature ``x_j`` is independent, standard normal. The label is
Bernoulli(sigmoid(logit(x))) with the additive logit::

    logit(x) = INTERCEPT + sum_j g_j(x_j)

    g_0(x)  =  1.6 x                    strong, linear
    g_1(x)  = -1.3 x                    strong, linear
    g_2(x)  =  1.2 tanh(1.5 x)          strong, saturating
    g_3(x)  =  0.7 (x^2 - 1)            strong, U-shaped
    g_4(x)  =  0.9 sin(1.2 x)           medium, smooth wave
    g_5(x)  =  0.8 x                    medium, linear
    g_6(x)  = -0.6 x                    medium, linear
    g_7(x)  =  0.5 softplus(3 x) / 3    medium, smoothed hinge (about 0.5 max(x, 0))
    g_8 .. g_19: weak linear terms, coefficients 0.30 down to 0.08 with alternating sign
    g_20 .. g_99: zero (pure noise features)

Because the model is additive, the exact SHAP value (in log-odds) of feature ``j`` for row ``x``
against a weighted background ``B`` (weights ``w``) is ``g_j(x_j) - sum_k w_k g_j(B_kj)``:
:func:`true_shap_values` computes it from :func:`true_logit_terms`. The explanation-accuracy tests
compare a trained model's attributions with these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from litelens.build.pipeline import BuildConfig

N_FEATURES = 100
INTERCEPT = -0.2
FEATURE_NAMES: list[str] = [f"x{j:03d}" for j in range(N_FEATURES)]
TARGET = "label"
CLASSES = ["negative", "positive"]

# Weak linear coefficients of x008..x019 (alternating sign, decreasing magnitude).
_WEAK = np.array([0.30, -0.28, 0.25, -0.22, 0.20, -0.18, 0.16, -0.14, 0.12, -0.10, 0.09, -0.08])


def _softplus(z: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, z)


def true_logit_terms(X: np.ndarray) -> np.ndarray:
    """``g_j(x_j)`` for every row and feature: shape ``(n, 100)``, float64. Their row sum + INTERCEPT is the logit."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != N_FEATURES:
        raise ValueError(f"expected shape (n, {N_FEATURES}), got {X.shape}")
    terms = np.zeros_like(X)
    terms[:, 0] = 1.6 * X[:, 0]
    terms[:, 1] = -1.3 * X[:, 1]
    terms[:, 2] = 1.2 * np.tanh(1.5 * X[:, 2])
    terms[:, 3] = 0.7 * (X[:, 3] ** 2 - 1.0)
    terms[:, 4] = 0.9 * np.sin(1.2 * X[:, 4])
    terms[:, 5] = 0.8 * X[:, 5]
    terms[:, 6] = -0.6 * X[:, 6]
    terms[:, 7] = 0.5 * _softplus(3.0 * X[:, 7]) / 3.0
    terms[:, 8:20] = X[:, 8:20] * _WEAK
    return terms


def true_logit(X: np.ndarray) -> np.ndarray:
    """The ground-truth log-odds of the positive class, shape ``(n,)``."""
    return INTERCEPT + true_logit_terms(X).sum(axis=1)


def true_shap_values(X: np.ndarray, background: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Exact log-odds SHAP values of the additive truth against a weighted background, shape ``(n, 100)``."""
    background = np.asarray(background, dtype=np.float64)
    w = np.full(len(background), 1.0 / len(background)) if weights is None else np.asarray(weights, np.float64)
    baseline = (w / w.sum()) @ true_logit_terms(background)
    return true_logit_terms(X) - baseline


def make_synthetic(n_rows: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(X float32 (n, 100), y int64 0/1 (n,), feature names)`` drawn from the documented truth."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES)).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-true_logit(X)))
    y = (rng.random(n_rows) < p).astype(np.int64)
    return X, y, list(FEATURE_NAMES)


def recommended_config(seed: int = 0) -> BuildConfig:
    """Training settings under which the 128-64 MLP recovers the truth closely (see the module docstring).

    An L1 penalty on the first layer zeroes the 80 pure-noise features' weights (without it the MLP
    fits their noise within a few epochs); large batches keep the build quick.
    """
    from litelens.build.pipeline import BuildConfig

    return BuildConfig(
        epochs=40, batch_size=512, learning_rate=4e-3, l2=0.0, l1_first=3e-3, patience=5, lr_patience=2, seed=seed
    )
