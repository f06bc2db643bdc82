"""Explain handler latency (SHAP, LIME, both; 1 and 10 rows) and cold start beside the textbook shap/lime calls.

One run builds the synthetic 100-feature 128-64-1 binary model (``--demo synthetic``, the same
builder as ``bench predict``), writes it as a bundle and keeps the Keras model, then measures, side
by side:

- warm latency through ``functions/explain/app.py`` (REST API proxy event in, proxy response out)
  with the defaults (SHAP's budget ``default_nsamples`` and target error over the bundle's k-means-10
  background, every feature kept; LIME 5000 samples): SHAP alone, LIME alone and both, for 1 and for 10 rows;
- the textbook use of the same libraries on the same weights: ``shap.KernelExplainer`` on the
  tf.keras model's ``predict`` with a sampled background of the same size (default l1_reg), and
  ``lime.lime_tabular.LimeTabularExplainer`` built on the raw training rows with
  ``explain_instance`` over ``predict``; plus lime's own ``explain_instance`` over the TFLite batch
  predict, to separate the runtime's share from the sampler's;
- cold start: fresh processes that import the handler (shap, lime, sklearn, the bundle, both
  explainers) and answer one explain request;
- one request at the server's caps (instances, nsamples, num_samples), against the function's 29 s
  timeout;

- SHAP's error beside its time (``shap_accuracy``): litelens' defaults, the textbook call and the
  error-vs-time curves of both against a reference, on this bundle and on a 30-feature model
  (``--no-accuracy`` skips it);

and prints the explain function's targets (warm SHAP+LIME latency for one row, cold start) next to
the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from litelens.functions.common import constants
from litelens.infra.bench import shap_accuracy
from litelens.infra.bench.explain_lime import lime_figures, print_lime_figures
from litelens.infra.bench.harness import (
    add_model_arguments,
    build_models,
    p50_p99,
    python312,
    rest_v1_event,
    verdict,
)
from litelens.infra.local.loader import load_app

ROOT = Path(__file__).resolve().parents[2]
EXPLAIN_APP = ROOT / "functions" / "explain" / "app.py"
DOCKERFILE = ROOT / "functions" / "explain" / "Dockerfile"
REQUIREMENTS = ROOT / "functions" / "explain" / "requirements.txt"
TASK_ROOT = "${LAMBDA_TASK_ROOT}"
BUNDLE_ARG = "${LITELENS_BUNDLE}"
FUNCTION_TIMEOUT_S = 29.0
TARGETS = {"both_1_p50_ms": 150.0, "cold_s": 3.0}
ACCURACY_FEATURES = 30  # the second model of the LIME and SHAP accuracy reports: the first 30 synthetic columns
VARIANTS = {"shap": ["shap"], "lime": ["lime"], "shap+lime": ["shap", "lime"]}

COLD_CHILD = r"""
import importlib.util, json, sys, time
t_start = time.perf_counter()
if sys.argv[3]:
    sys.path.insert(0, sys.argv[3])
import lime.lime_tabular, numpy, scipy.stats, sklearn  # what the app loads (not shap), its cost reported apart
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
t1 = time.perf_counter()
response = app.lambda_handler(json.load(open(sys.argv[2])), None)
t2 = time.perf_counter()
assert response["statusCode"] == 200, response
print("COLD " + json.dumps({"imports_s": t0 - t_start, "init_s": t1 - t0, "first_s": t2 - t1}))
"""


def dockerfile_copies() -> list[tuple[str, str]]:
    """(source in the repo, destination under the task root) of the Dockerfile's COPY lines into the task root."""
    copies = []
    for line in DOCKERFILE.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "COPY" and parts[2].startswith(TASK_ROOT):
            copies.append((parts[1], parts[2][len(TASK_ROOT) :].lstrip("/")))
    return copies


def stage_image(root: Path, bundle: Path, *, compile_with: str | None = None) -> float:
    """The explain image's /var/task without Docker: the pinned requirements installed into ``root`` (uv, the
    Lambda platform's wheels, --no-deps as the Dockerfile does), then the Dockerfile's COPY lines replayed
    (``bundle`` for the bundle build arg). Optionally precompiled like the image. Returns its size in MB."""
    uv = Path(sys.executable).with_name("uv")
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--no-deps", "--require-hashes", "--target", str(root),
         "--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12", "-r", str(REQUIREMENTS)],
        check=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}, timeout=900,
    )  # fmt: skip
    shutil.rmtree(root / "bin", ignore_errors=True)
    for source, dest in dockerfile_copies():
        if source.startswith(BUNDLE_ARG):
            shutil.copytree(bundle, root / dest, dirs_exist_ok=True)
            continue
        sources = sorted(ROOT.glob(source)) if "*" in source else [ROOT / source]
        if not sources:
            raise FileNotFoundError(f"the Dockerfile copies {source}, which matches nothing")
        for src in sources:
            # Docker's rule: a destination ending in / is a folder that receives the source by name
            target = root / dest / src.name if dest.endswith("/") else root / dest
            if src.is_dir():
                shutil.copytree(src, target, dirs_exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)
    if compile_with:
        subprocess.run(
            [compile_with, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(root)],
            check=True, capture_output=True, timeout=900,
        )  # fmt: skip
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, "the bundle and Keras model")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls per 1-row measurement (default 15)")
    parser.add_argument("--repeats-10", type=int, default=4, help="timed calls per 10-row measurement (default 4)")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh processes for the cold start (default 3)")
    parser.add_argument("--no-caps", action="store_true", help="skip the request at the server's caps")
    parser.add_argument("--lime-rows", type=int, default=20, help="rows per model for LIME's locality (0: skip)")
    parser.add_argument(
        "--no-accuracy", action="store_true", help="skip SHAP's error-vs-time report (100- and 30-feature models)"
    )
    parser.add_argument(
        "--no-image", action="store_true", help="skip the cold start from the image's packages (python3.12 -I)"
    )


def explain_event(rows: list[list[float]], parameters: dict[str, Any]) -> dict[str, Any]:
    event = rest_v1_event(json.dumps({"instances": rows, "parameters": parameters}))
    event["resource"] = event["path"] = "/explain"
    event["requestContext"].update(resourcePath="/explain", path="/v1/explain")
    return event


def cold_starts(
    python: str, flags: list[str], app: Path, path: str, event_file: Path, env: dict[str, str], runs: int
) -> dict[str, float]:
    """Medians over ``runs`` fresh processes: library imports, litelens init, first request, whole process (s)."""
    reports: dict[str, list[float]] = {"imports_s": [], "init_s": [], "first_s": [], "process_s": []}
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(
            [python, *flags, "-c", COLD_CHILD, str(app), str(event_file), path],
            env=env, capture_output=True, text=True, timeout=300, cwd=app.parent,
        )  # fmt: skip
        elapsed = time.perf_counter() - start
        line = next((x for x in result.stdout.splitlines() if x.startswith("COLD ")), None)
        if result.returncode != 0 or line is None:
            raise RuntimeError(f"cold start of {app} failed: {result.stderr[-2000:]}")
        for key, value in {**json.loads(line[5:]), "process_s": elapsed}.items():
            reports[key].append(value)
    return {key: float(np.median(values)) for key, values in reports.items()}


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:9.1f} ms"


def run(args: argparse.Namespace) -> int:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="litelens-bench-explain-"))
    work.mkdir(parents=True, exist_ok=True)
    bundle, _, keras_model = build_models(work, args.train_rows, args.epochs, log)
    from litelens.build import synthetic

    X_train, _, features = synthetic.make_synthetic(n_rows=args.train_rows, seed=0)
    X_test, _, _ = synthetic.make_synthetic(n_rows=10, seed=99)
    rows1, rows10 = X_test[:1].tolist(), X_test.tolist()

    app = load_app(EXPLAIN_APP, {constants.MODEL_URI: str(bundle), constants.LOG_LEVEL: "ERROR"})
    # quiet the per-request log line while timing
    app.log.info = app.log.metrics = lambda *a, **k: None

    results: dict[str, list[float]] = {}

    def handler(rows: list[list[float]], explainers: list[str]) -> Callable[[], Any]:
        event = explain_event(rows, {"explainers": explainers})

        def call() -> None:
            response = app.lambda_handler(event, None)
            assert response["statusCode"] == 200, response["body"]

        return call

    for name, explainers in VARIANTS.items():
        log(f"litelens {name}: 1 and 10 rows")
        results[f"litelens {name} x1"] = timed(handler(rows1, explainers), args.repeats)
        results[f"litelens {name} x10"] = timed(handler(rows10, explainers), args.repeats_10, warmup=1)

    # --- the textbook calls on the same weights ---
    import shap
    from lime.lime_tabular import LimeTabularExplainer

    def keras_predict(X: np.ndarray) -> np.ndarray:
        return keras_model.predict(np.asarray(X, dtype=np.float32), verbose=0)

    def keras_proba(X: np.ndarray) -> np.ndarray:
        p = keras_predict(X)[:, 0]
        return np.column_stack([1 - p, p])

    textbook_shap = shap.KernelExplainer(keras_predict, shap.sample(X_train, 10, random_state=0))
    textbook_lime = LimeTabularExplainer(
        X_train, mode="classification", feature_names=features, class_names=synthetic.CLASSES, random_state=0
    )

    def textbook(rows: np.ndarray, which: list[str]) -> Callable[[], Any]:
        def call() -> None:
            for x in rows:
                if "shap" in which:
                    textbook_shap.shap_values(x[None, :], silent=True)
                if "lime" in which:
                    textbook_lime.explain_instance(x, keras_proba, num_features=10, num_samples=5000)

        return call

    for name, explainers in VARIANTS.items():
        log(f"textbook {name}: 1 and 10 rows")
        results[f"textbook {name} x1"] = timed(textbook(X_test[:1], explainers), max(3, args.repeats // 3))
        results[f"textbook {name} x10"] = timed(textbook(X_test, explainers), 1, warmup=0)

    lime_on_tflite = LimeTabularExplainer(
        X_train[:10], mode="classification", feature_names=features, training_data_stats=app.MODEL.bundle.lime_stats(),
        random_state=0,
    )  # fmt: skip
    results["lime's own explain_instance on TFLite x1"] = timed(
        lambda: lime_on_tflite.explain_instance(
            X_test[0], app.EXPLANATIONS.predict_output_columns, labels=(1,), num_features=100, num_samples=5000
        ),
        max(3, args.repeats // 3),
    )

    # --- cold start ---
    event_file = work / "explain-event.json"
    event_file.write_text(json.dumps(explain_event(rows1, {})))
    env = {**os.environ, constants.MODEL_URI: str(bundle), constants.LOG_LEVEL: "ERROR"}
    log(f"cold start from the source tree (.venv): {args.cold_runs} fresh processes")
    colds = {".venv, source tree": cold_starts(sys.executable, [], EXPLAIN_APP, "", event_file, env, args.cold_runs)}
    image_mb = None
    python = python312()
    if not args.no_image and python:
        image = work / "image"
        shutil.rmtree(image, ignore_errors=True)
        log(f"staging the image's /var/task in {image} (requirements + Dockerfile copies, precompiled)")
        image_mb = stage_image(image, bundle, compile_with=python)
        clean_env = {"PATH": os.environ.get("PATH", ""), constants.LOG_LEVEL: "ERROR"}
        colds["image packages, python3.12 -I"] = cold_starts(
            python, ["-I"], image / "app.py", str(image), event_file, clean_env, args.cold_runs
        )

    # --- a request at the caps ---
    caps_s = None
    if not args.no_caps:
        caps = app.CAPS
        log(f"one request at the caps: {caps.instances} rows, nsamples {caps.nsamples}, num_samples {caps.num_samples}")
        X_caps, _, _ = synthetic.make_synthetic(n_rows=caps.instances, seed=7)
        event = explain_event(X_caps.tolist(), {"nsamples": caps.nsamples, "num_samples": caps.num_samples})
        caps_s = timed(lambda: app.lambda_handler(event, None), 1, warmup=0)[0]

    # --- a 30-feature model beside the 100-feature one (LIME's locality, SHAP's accuracy) ---
    narrow = None
    if args.lime_rows or not args.no_accuracy:
        narrow = build_models(work, args.train_rows, args.epochs, log, n_features=ACCURACY_FEATURES)[0]
    lime_locality = {}
    if args.lime_rows:
        log(f"LIME locality: {args.lime_rows} rows per model, continuous and discretized")
        assert narrow is not None  # built above
        lime_locality = {
            f"{n} features": lime_figures(b, args.lime_rows) for n, b in ((ACCURACY_FEATURES, narrow), (100, bundle))
        }
    # --- SHAP accuracy beside time ---
    accuracy = []
    if not args.no_accuracy:
        log("SHAP accuracy: the 100-feature bundle and a 30-feature model, against a reference")
        accuracy.append(shap_accuracy.accuracy_report(bundle, X_test[: shap_accuracy.ROWS], log))
        rows = X_test[: shap_accuracy.ROWS, :ACCURACY_FEATURES]
        assert narrow is not None  # built above
        accuracy.append(shap_accuracy.accuracy_report(narrow, rows, log))

    # --- report ---
    print(f"\nexplain latency, {len(features)} features, bundle {bundle} (warm, through the handler; p50 / p99)")
    print(f"{'':44s}{'p50':>12s}{'p99':>12s}{'vs textbook p50':>18s}")
    for n in ("x1", "x10"):
        for name in VARIANTS:
            ours = p50_p99(results[f"litelens {name} {n}"])
            theirs = p50_p99(results[f"textbook {name} {n}"])
            print(f"litelens {name + ' ' + n:35s}{ms(ours[0])}{ms(ours[1])}{theirs[0] / ours[0]:16.1f}x")
            print(f"textbook {name + ' ' + n:35s}{ms(theirs[0])}{ms(theirs[1])}")
    lime_own = p50_p99(results["lime's own explain_instance on TFLite x1"])
    print(f"{'lime explain_instance (own sampler), TFLite x1':44s}{ms(lime_own[0])}{ms(lime_own[1])}")
    print(f"\ncold start, median of {args.cold_runs} fresh processes (import -> one explain request answered):")
    print(f"{'':34s}{'imports':>10s}{'init':>10s}{'1st req':>10s}{'total':>10s}{'process':>10s}")
    for name, c in colds.items():
        total = c["imports_s"] + c["init_s"] + c["first_s"]
        print(
            f"{name:34s}{c['imports_s']:9.2f}s{c['init_s']:9.2f}s{c['first_s']:9.2f}s{total:9.2f}s{c['process_s']:9.2f}s"
        )
    print("  imports: lime.lime_tabular + sklearn + scipy + numpy (the app no longer imports shap); init: app.py")
    if image_mb is not None:
        print(f"  image packages + code + bundle: {image_mb:.0f} MB (no matplotlib/scikit-image; shap skips its plots)")
    if caps_s is not None:
        print(
            f"request at the caps ({app.CAPS.instances} rows, nsamples {app.CAPS.nsamples}, num_samples "
            f"{app.CAPS.num_samples}): {caps_s:.1f} s of the {FUNCTION_TIMEOUT_S:.0f} s timeout "
            f"({verdict(caps_s < FUNCTION_TIMEOUT_S)})"
        )
    if lime_locality:
        print_lime_figures(lime_locality, args.lime_rows)
    both = p50_p99(results["litelens shap+lime x1"])[0] * 1000
    cold_name = "image packages, python3.12 -I" if "image packages, python3.12 -I" in colds else ".venv, source tree"
    cold_run = colds[cold_name]
    cold = cold_run["imports_s"] + cold_run["init_s"] + cold_run["first_s"]
    for report in accuracy:
        shap_accuracy.print_report(report)
    print("\ntargets (explain: warm SHAP+LIME latency, cold start):")
    both_ok = verdict(both <= TARGETS["both_1_p50_ms"])
    print(f"  SHAP+LIME, 1 row, warm p50 <= {TARGETS['both_1_p50_ms']:.0f} ms: {both:.0f} ms  {both_ok}")
    print(
        f"  cold start <= {TARGETS['cold_s']:.0f} s ({cold_name}: imports + init + first request): {cold:.2f} s  "
        f"{verdict(cold <= TARGETS['cold_s'])}"
    )
    print(f"  (machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0
