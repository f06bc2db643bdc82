"""SHAP accuracy beside time: litelens' KernelSHAP, the textbook shap call and a reference, in one run.

Part of ``litelens bench explain``. For each model (the synthetic 100-feature bundle and a 30-feature
model trained on its first 30 columns, both TFLite bundles), on a few held-out rows:

- the **reference**: the mean of ``REFERENCE_RUNS`` litelens runs at ``REFERENCE_NSAMPLES`` distinct
  coalitions each (its estimated relative error is printed, so its precision is on the page), or the
  exact enumeration when it fits;
- **litelens at its defaults** (``shap_method.default_nsamples`` budget, ``DEFAULT_TARGET_ERROR``);
- the **textbook call**: ``shap.KernelExplainer`` over the same TFLite function and the same weighted
  background (shap's ``DenseData``), ``nsamples="auto"``, its default ``l1_reg``;

each as error (mean |err| / mean |phi| against the reference, over the rows), Spearman of the values
with the reference's (median over rows), the estimated relative error litelens reports, and warm p50
time per row; then the error-vs-time curve over budgets for litelens (``target_error`` off: the whole
budget spent) and for ``shap.KernelExplainer`` (``l1_reg=False``, every feature estimated, as litelens).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from litelens.infra.bench.harness import verdict

REFERENCE_NSAMPLES = 2**17
REFERENCE_RUNS = 2  # independent reference runs averaged (their error falls by sqrt(REFERENCE_RUNS))
ROWS = 4
LITELENS_CURVE = (1000, 2000, 4000, 8000, 16000)
TEXTBOOK_CURVE = (1000, 2248, 4000, 8000)
TARGETS = {100: 0.05, 30: 0.03}  # default SHAP relative error (mean |err| / mean |phi|) per model width


def _error(values: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(values - reference).mean() / np.abs(reference).mean())


def _spearman(values: np.ndarray, reference: np.ndarray) -> float:
    from scipy import stats

    return float(stats.spearmanr(values, reference).statistic)


def _measure(explain: Callable[..., np.ndarray], rows: np.ndarray, refs: list[np.ndarray]) -> dict[str, Any]:
    """Error, Spearman, warm p50 seconds and p50 CPU seconds of ``explain(x) -> values (F,)`` over ``rows`` (CPU
    time: what the call costs on a machine it does not share; wall time on a loaded one is longer). (``...``: for
    the lambdas that bind a loop variable as a default, which mypy cannot type against one argument.)"""
    explain(rows[0])  # warm
    times, cpu, errors, rhos = [], [], [], []
    for x, ref in zip(rows, refs, strict=True):
        start, start_cpu = time.perf_counter(), time.process_time()
        values = explain(x)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        errors.append(np.abs(values - ref).mean())
        rhos.append(_spearman(values, ref))
    scale = np.mean([np.abs(r).mean() for r in refs])
    return {
        "error": float(np.mean(errors) / scale),
        "spearman": float(np.median(rhos)),
        "p50": float(np.median(times)),
        "cpu": float(np.median(cpu)),
    }


def accuracy_report(bundle: Path, rows: np.ndarray, log: Callable[[str], None]) -> dict[str, Any]:
    """Every figure for one bundle (binary, probability space) over ``rows`` (n, F)."""
    import shap
    from shap.utils._legacy import DenseData

    from litelens.explain.service import Explanations
    from litelens.explain.shap_method import DEFAULT_TARGET_ERROR, OutputSpace, default_nsamples
    from litelens.functions.common.model import load_model

    model = load_model(str(bundle), str(bundle.parent), None)
    explanations = Explanations.from_model(model)
    method = explanations.shap[OutputSpace.PROBABILITY]
    n_features = rows.shape[1]
    log(f"  {n_features} features: reference, {REFERENCE_RUNS} x {REFERENCE_NSAMPLES} coalitions for {len(rows)} rows")
    reference = [
        [method.explain(x, nsamples=REFERENCE_NSAMPLES, target_error=None, seed=10_000 + 100 * i + k)
         for k in range(REFERENCE_RUNS)]
        for i, x in enumerate(rows)
    ]  # fmt: skip
    refs = [np.mean([r.values[:, 0] for r in runs], axis=0) for runs in reference]
    report: dict[str, Any] = {
        "features": n_features,
        "reference_relative_error": float(
            np.mean([r.relative_error[0] for runs in reference for r in runs]) / np.sqrt(REFERENCE_RUNS)
        ),
        "reference_exact": all(r.exact for runs in reference for r in runs),
    }
    defaults = [method.explain(x) for x in rows]
    report["litelens"] = _measure(lambda x: method.explain(x).values[:, 0], rows, refs) | {
        "estimated": float(np.mean([r.relative_error[0] for r in defaults])),
        "nsamples": int(np.median([r.nsamples for r in defaults])),
        "budget": default_nsamples(n_features),
        "target_error": DEFAULT_TARGET_ERROR,
    }
    background, weights = model.bundle.shap_background()
    data = DenseData(np.asarray(background, dtype=np.float64), explanations.features, None, np.array(weights, float))
    textbook = shap.KernelExplainer(lambda X: explanations._positive(np.asarray(X))[:, 0], data)
    log(f"  {n_features} features: shap.KernelExplainer, nsamples auto and the curve")
    report["textbook"] = _measure(lambda x: np.ravel(textbook.shap_values(x[None], silent=True)), rows, refs)
    report["litelens_curve"] = [
        {"nsamples": n} | _measure(lambda x, n=n: method.explain(x, nsamples=n, target_error=None).values[:, 0],
                                   rows, refs)
        for n in LITELENS_CURVE
    ]  # fmt: skip
    report["textbook_curve"] = [
        {"nsamples": n}
        | _measure(
            lambda x, n=n: np.ravel(textbook.shap_values(x[None], nsamples=n, l1_reg=False, silent=True)), rows, refs
        )
        for n in TEXTBOOK_CURVE
    ]
    return report


def print_report(report: dict[str, Any]) -> None:
    n = report["features"]
    ref = "exact enumeration"
    if not report["reference_exact"]:
        ref = f"litelens, mean of {REFERENCE_RUNS} x {REFERENCE_NSAMPLES} coalitions"
        ref += f", estimated relative error {report['reference_relative_error']:.4f}"
    print(f"\nSHAP accuracy, {n} features (binary, probability), {ROWS} rows; reference: {ref}")
    print(f"{'':58s}{'error':>8s}{'spearman':>10s}{'est.':>8s}{'p50':>11s}{'cpu p50':>11s}")
    lite = report["litelens"]
    label = f"litelens defaults (budget {lite['budget']}, target {lite['target_error']}, used {lite['nsamples']})"
    print(
        f"{label:58s}{lite['error']:8.4f}{lite['spearman']:10.3f}{lite['estimated']:8.4f}"
        f"{lite['p50'] * 1e3:8.1f} ms{lite['cpu'] * 1e3:8.1f} ms"
    )
    book = report["textbook"]
    label = "textbook shap.KernelExplainer (nsamples auto, l1_reg default)"
    print(
        f"{label:58s}{book['error']:8.4f}{book['spearman']:10.3f}{'':8s}"
        f"{book['p50'] * 1e3:8.1f} ms{book['cpu'] * 1e3:8.1f} ms"
    )
    print(
        f"  litelens: {book['error'] / lite['error']:.1f}x lower error, {book['p50'] / lite['p50']:.1f}x the speed "
        f"(cpu {book['cpu'] / lite['cpu']:.1f}x)"
    )
    print("error vs time, nsamples: error / p50 (cpu p50); the whole budget spent, shap with l1_reg=False:")
    for name, curve in (("litelens", report["litelens_curve"]), ("shap.KernelExplainer", report["textbook_curve"])):
        points = "  ".join(
            f"{p['nsamples']}: {p['error']:.4f} / {p['p50'] * 1e3:.0f} ({p['cpu'] * 1e3:.0f}) ms" for p in curve
        )
        print(f"  {name:22s}{points}")
    target = TARGETS.get(n)
    if target is not None:
        print(f"  target: default error <= {target:.0%}: {lite['error']:.1%}  {verdict(lite['error'] <= target)}")
