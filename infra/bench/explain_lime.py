"""LIME's locality figures for ``litelens bench explain``: how local the default neighbourhood is, against
lime's discretized one, on the synthetic models of 30 and 100 features.

Per model and sampling mode, over rows the model never saw (explained class: positive), through
``Explanations.explain_row`` at the defaults (5000 samples, every column, both explainers): the median
and 10th percentile of the surrogate's weighted R^2 (``score``), the share of rows below the
``W_LIME_POOR_FIT`` threshold, the median and 90th percentile of ``local_error`` (in the surrogate's
output space: log-odds for continuous, probability for discretized), the kernel weights' effective
sample size (sum(w)^2 / sum(w^2) / n) and 95th/5th percentile ratio, the median Spearman rank
correlation with SHAP over the union of both top-5 sets (``agreement``), and LIME's own time per row
(p50). The targets: median score >= 0.7 and median local error <= 0.05 at the defaults.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from litelens.infra.bench.harness import verdict

TARGETS = {"score": 0.7, "local_error": 0.05}


def lime_figures(bundle: Path, rows: int = 20, seed: int = 99) -> dict[str, dict[str, float]]:
    """Per sampling mode, the figures above for the bundle at ``bundle`` (a synthetic model)."""
    from litelens.build import synthetic
    from litelens.explain import quality
    from litelens.explain.lime_method import LimeSampling
    from litelens.explain.service import ExplainOptions, Explanations
    from litelens.functions.common.model import load_model

    explanations = Explanations.from_model(load_model(str(bundle)))
    n_features = len(explanations.features)
    X, _, _ = synthetic.make_synthetic(n_rows=rows, seed=seed)
    X = X[:, :n_features].astype(np.float64)
    out: dict[str, dict[str, float]] = {}
    for sampling in LimeSampling:
        fits, spearman, ess, ratio, seconds = [], [], [], [], []
        options = ExplainOptions(target_class="positive", lime_sampling=sampling)
        for i, x in enumerate(X):
            row = explanations.explain_row(x, [1], options)
            fits.append(row["lime"])
            spearman.append(row["agreement"]["spearman"])
            samples = explanations.lime.neighbourhood(x, 5000, i, sampling)
            weights = explanations.lime.kernel_weights(samples.distances, sampling)
            ess.append(weights.sum() ** 2 / np.square(weights).sum() / len(weights))
            ratio.append(np.percentile(weights, 95) / np.percentile(weights, 5))
            start = time.perf_counter()
            explanations.lime.explain(x, [1], seed=i, sampling=sampling)
            seconds.append(time.perf_counter() - start)
        scores = np.array([f["score"] for f in fits])
        errors = np.array([f["local_error"] for f in fits])
        out[sampling] = {
            "score": float(np.median(scores)),
            "score_p10": float(np.percentile(scores, 10)),
            "poor": float(np.mean(scores < quality.MIN_LIME_SCORE)),
            "local_error": float(np.median(errors)),
            "local_error_p90": float(np.percentile(errors, 90)),
            "ess": float(np.median(ess)),
            "ratio": float(np.median(ratio)),
            "spearman": float(np.median([s for s in spearman if s is not None] or [np.nan])),
            "ms": float(np.median(seconds) * 1000),
            "space": fits[0]["output_space"],
        }
    return out


def print_lime_figures(figures: Mapping[str, Mapping[str, Mapping[str, Any]]], rows: int) -> None:
    """The table, one line per (model, sampling mode), and the targets' verdicts at the defaults."""
    from litelens.explain.lime_method import LimeSampling

    print(f"\nLIME locality, {rows} unseen rows per model (medians; local error in the surrogate's output space)")
    head = ("score", "p10", "<0.5", "local err", "p90", "ESS", "w95/w5", "rho SHAP", "ms/row")
    print(f"{'':36s}" + "".join(f"{h:>10s}" for h in head))
    for model, modes in figures.items():
        for sampling, f in modes.items():
            cells = (f["score"], f["score_p10"], f["poor"], f["local_error"], f["local_error_p90"], f["ess"],
                     f["ratio"], f["spearman"], f["ms"])  # fmt: skip
            label = f"{model} {sampling} ({f['space']})"
            print(f"{label:36s}" + "".join(f"{c:10.3f}" if i < 8 else f"{c:10.1f}" for i, c in enumerate(cells)))
    print(f"targets at the defaults (continuous): median score >= {TARGETS['score']}, median local error <= "
          f"{TARGETS['local_error']}")  # fmt: skip
    for model, modes in figures.items():
        f = modes[LimeSampling.CONTINUOUS]
        ok = f["score"] >= TARGETS["score"] and f["local_error"] <= TARGETS["local_error"]
        print(f"  {model}: score {f['score']:.3f}, local error {f['local_error']:.4f}  {verdict(ok)}")
