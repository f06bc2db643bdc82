"""Small trained bundles for tests, with fixed schemas other suites hard-code in their events.

Schemas (features, target, classes):
- every task: features ``age, income, debt_ratio, tenure`` in that order;
- binary: target ``default``, classes ``good, bad`` (the model outputs P(bad));
- multiclass: target ``tier``, classes ``low, medium, high``;
- regression: target ``amount``.

``make_mixed_bundle``: a binary bundle over raw columns of every kind (``MIXED_SCHEMA``: numeric with
missing values, an integer score, a categorical with missing values, a boolean, a date), built from
column-space rows as the CSV build produces them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from litelens.build.bundle.schema import CATEGORICAL, DATE, NUMERIC, Column, Excluded, Schema
from litelens.build.bundle.values import date_days

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


MIXED_DAY0 = date_days("2020-01-01")
MIXED_SCHEMA = Schema(
    (
        Column("income", NUMERIC, missing=True, median=52_000.0, min=10_000.0, max=200_000.0),
        Column("score", NUMERIC, median=3.0, min=1.0, max=6.0, integer=True),
        Column("applicant_type", CATEGORICAL, missing=True, levels=("employed", "retired", "self-employed")),
        Column("married", CATEGORICAL, levels=("no", "yes"), boolean=True),
        Column("signup", DATE, median=MIXED_DAY0 + 700, min=MIXED_DAY0, max=MIXED_DAY0 + 1400),
    ),
    (Excluded("customer_id", "ID-like: unique in every row"),),
)


def mixed_rows(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Column-space rows of MIXED_SCHEMA and their binary labels (risk: low income, self-employed,
    a low score, unmarried; ~5% of incomes and applicant types missing)."""
    rng = np.random.default_rng(seed)
    income = np.clip(np.exp(rng.normal(np.log(52_000), 0.5, n_rows)), 10_000, 200_000)
    score = rng.integers(1, 7, n_rows).astype(np.float64)
    kind = rng.choice(3, n_rows, p=[0.6, 0.15, 0.25]).astype(np.float64)
    married = rng.integers(0, 2, n_rows).astype(np.float64)
    signup = MIXED_DAY0 + rng.integers(0, 1401, n_rows)
    risk = -1.5 * (np.log(income) - np.log(52_000)) + 1.2 * (kind == 2) - 0.4 * (score - 3.5) - 0.6 * married
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-2 * risk))).astype(np.int64)
    income[rng.random(n_rows) < 0.05] = np.nan
    kind[rng.random(n_rows) < 0.05] = 3.0  # the missing code: applicant_type has 3 levels
    return np.column_stack([income, score, kind, married, signup]), y


def make_mixed_bundle(out_dir: str | Path, *, n_rows: int = 600, epochs: int = 4, seed: int = 0) -> Path:
    """Train and write the MIXED_SCHEMA binary bundle (target ``default``, classes ``good, bad``)."""
    from litelens.build.pipeline import BuildConfig, build_bundle

    Z, y = mixed_rows(n_rows, seed)
    out = Path(out_dir)
    config = BuildConfig(epochs=epochs, batch_size=32, seed=seed, patience=epochs, background_k=10)
    build_bundle(
        Z, y, MIXED_SCHEMA.names, "default", "binary", out, config, name="test-mixed", classes=["good", "bad"],
        force=True, source=f"tests.support.bundles.mixed(n_rows={n_rows}, seed={seed})", log=lambda _line: None,
        schema=MIXED_SCHEMA,
    )  # fmt: skip
    return out


def make_wide_bundle(out_dir: str | Path, *, n_features: int = 500, n_rows: int = 300, seed: int = 0) -> Path:
    """A binary bundle over ``n_features`` standard-normal numeric columns ``w000, w001, ...`` (the label
    follows the first ten), trained one epoch: a wide model whose explanations are costly, built cheaply."""
    from litelens.build.pipeline import BuildConfig, build_bundle

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features)).astype(np.float32)
    logit = X[:, :10].astype(np.float64) @ np.linspace(1.0, -1.0, 10)
    y = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    features = [f"w{j:03d}" for j in range(n_features)]
    config = BuildConfig(epochs=1, batch_size=64, seed=seed, patience=1, background_k=10)
    out = Path(out_dir)
    build_bundle(
        X, y, features, "label", "binary", out, config, name=f"test-wide-{n_features}",
        classes=["negative", "positive"], force=True, log=lambda _line: None,
        source=f"tests.support.bundles.wide(n_features={n_features}, seed={seed})",
    )  # fmt: skip
    return out
