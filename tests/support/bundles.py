"""Small trained bundles for tests, with fixed schemas other suites hard-code in their events.

Schemas (features, target, classes):
- every task: features ``age, income, debt_ratio, tenure`` in that order;
- binary: target ``default``, classes ``good, bad`` (the model outputs P(bad));
- multiclass: target ``tier``, classes ``low, medium, high``;
- regression: target ``amount``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FEATURES = ["age", "income", "debt_ratio", "tenure"]
TARGETS = {"binary": "default", "multiclass": "tier", "regression": "amount"}
CLASSES = {"binary": ["good", "bad"], "multiclass": ["low", "medium", "high"], "regression": None}


def credit_rows(n_rows: int, seed: int = 0) -> np.ndarray:
    """Plausible applicants: age 18-90 years, income 1e4-2e5 a year, debt ratio 0-1.5, tenure 0-40 years."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(18, 90, n_rows)
    income = np.clip(np.exp(rng.normal(np.log(55_000), 0.6, n_rows)), 10_000, 200_000)
    debt_ratio = np.clip(rng.gamma(2.0, 0.18, n_rows), 0.0, 1.5)
    tenure = np.clip(rng.uniform(0, 1, n_rows) * (age - 18), 0, 40)
    return np.column_stack([age, income, debt_ratio, tenure]).astype(np.float32)


def credit_target(X: np.ndarray, task: str, seed: int = 0) -> np.ndarray:
    """Labels with a learnable signal: risk rises with debt ratio, falls with income, age and tenure."""
    rng = np.random.default_rng(seed + 1)
    age, income, debt, tenure = (X[:, i].astype(np.float64) for i in range(4))
    risk = 3.0 * (debt - 0.36) - 1.2 * (np.log(income) - np.log(55_000)) - 0.02 * (age - 54) - 0.04 * (tenure - 10)
    if task == "binary":
        return (rng.random(len(X)) < 1 / (1 + np.exp(-2 * risk))).astype(np.int64)
    if task == "multiclass":
        noisy = risk + rng.normal(0, 0.3, len(X))
        return np.digitize(noisy, np.quantile(noisy, [1 / 3, 2 / 3])).astype(np.int64)
    if task == "regression":
        return (0.2 * income * (1 - np.tanh(risk)) + 50 * tenure + rng.normal(0, 500, len(X))).astype(np.float64)
    raise ValueError(f"unknown task {task!r}")


def make_test_bundle(
    out_dir: str | Path,
    task: str,
    *,
    n_rows: int = 400,
    epochs: int = 3,
    quantize: str = "none",
    seed: int = 0,
    name: str | None = None,
) -> Path:
    """Train and write a small bundle with the fixed schema of ``task``; returns its folder."""
    from litelens.build.pipeline import BuildConfig, build_bundle

    X = credit_rows(n_rows, seed)
    y = credit_target(X, task, seed)
    out = Path(out_dir)
    config = BuildConfig(epochs=epochs, batch_size=32, seed=seed, quantize=quantize, patience=epochs, background_k=10)
    build_bundle(
        X,
        y,
        FEATURES,
        TARGETS[task],
        task,
        out,
        config,
        name=name or f"test-{task}",
        classes=CLASSES[task],
        force=True,
        source=f"tests.support.bundles({task}, n_rows={n_rows}, seed={seed})",
        log=lambda _line: None,
    )
    return out


def make_synthetic_bundle(out_dir: str | Path, *, n_rows: int = 20000, seed: int = 0) -> Path:
    """The 100-feature synthetic binary bundle, trained well enough for ground-truth SHAP comparisons."""
    from litelens.build import synthetic
    from litelens.build.pipeline import build_bundle

    X, y, features = synthetic.make_synthetic(n_rows=n_rows, seed=seed)
    out = Path(out_dir)
    build_bundle(
        X,
        y,
        features,
        synthetic.TARGET,
        "binary",
        out,
        synthetic.recommended_config(seed=seed),
        name="synthetic",
        classes=synthetic.CLASSES,
        force=True,
        source=f"synthetic(n_rows={n_rows}, seed={seed})",
        log=lambda _line: None,
    )
    return out
