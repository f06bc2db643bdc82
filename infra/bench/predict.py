"""Predict handler latency, cold start, memory and package size beside a raw-interpreter floor and a tf.keras handler.

One run builds a synthetic 100-feature 128-64-1 binary model (``--demo synthetic``), writes it as a
bundle (TFLite) and keeps the same Keras model, then measures, side by side:

- warm latency through each handler (a REST API proxy event in, a proxy response dict out) for 1,
  100 and 1000 rows, p50/p99: litelens's ``functions/predict/app.py``; the floor (the raw TFLite
  interpreter invoke on a ready float32 array: no JSON, no validation); a handler a user would write
  on tf.keras (``json.loads`` + ``model(x)`` + ``json.dumps``) on the same weights; and the parse of
  the body alone (``functions.common.events.loads``, what the litelens handler uses), which no model runtime removes;
- cold start: fresh processes that import the handler, load the model and answer one request, for
  litelens (from the source tree and, when built, from the sam artifact in an isolated python3.12) and
  for the Keras handler; the peak RSS of those processes after a 100-row request;
- the built package size (``sam build PredictFunction``, zipped and unzipped),

and prints the predict function's targets (warm latency and its ratio to tf.keras, cold start, peak
RSS, package size) next to the measured ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from litelens.functions.common import constants
from litelens.functions.common.events import loads as litelens_loads
from litelens.infra.bench.harness import (
    add_model_arguments,
    build_models,
    fmt,
    p50_p99,
    python312,
    rest_v1_event,
    time_calls,
    verdict,
)
from litelens.infra.local.loader import load_app

ROOT = Path(__file__).resolve().parents[2]
PREDICT_APP = ROOT / "functions" / "predict" / "app.py"
SIZES = (1, 100, 1000)
MB = 1024 * 1024
TARGETS = {
    "warm_1_p50_us": 100.0,
    "warm_1_vs_keras": 30.0,
    "warm_1000_p50_ms": 10.0,
    "cold_ms": 300.0,
    "cold_vs_keras": 10.0,
    "rss_mb": 100.0,
    "zip_mb": 40.0,
    "unzipped_mb": 130.0,
}

# The handler a user would write on tf.keras: load at import, json in, model(x), json out.
KERAS_APP = '''"""Baseline: a predict handler on tf.keras (what litelens replaces)."""
import json
import os

import numpy as np
import keras

MODEL = keras.models.load_model(os.environ["KERAS_MODEL_PATH"])
CLASSES = ["0", "1"]


def lambda_handler(event, context):
    x = np.asarray(json.loads(event["body"])["instances"], dtype=np.float32)
    p = MODEL(x, training=False).numpy()[:, 0].tolist()
    predictions = [{"probability": v, "label": CLASSES[int(v >= 0.5)]} for v in p]
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"predictions": predictions})}
'''

# A fresh process: time import + load + one 1-row request, then a 100-row request, then report VmHWM.
COLD_CHILD = r"""
import importlib.util, json, sys, time
t0 = time.perf_counter()
if sys.argv[2]:
    sys.path.insert(0, sys.argv[2])
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
app = importlib.util.module_from_spec(spec)
spec.loader.exec_module(app)
events = json.load(open(sys.argv[3]))
response = app.lambda_handler(events["1"], None)
cold = time.perf_counter() - t0
assert response["statusCode"] == 200, response
assert app.lambda_handler(events["100"], None)["statusCode"] == 200
hwm = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
sys.__stdout__.write("\nCOLD " + json.dumps({"cold_s": cold, "hwm_kb": hwm}) + "\n")
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, "the bundle, Keras model and build")
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per warm measurement (default 1.5)")
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per cold-start variant (default 5)")
    parser.add_argument("--keras-cold-runs", type=int, default=3, help="fresh processes for the Keras handler")
    parser.add_argument(
        "--sam-build-dir", help="an existing sam build of PredictFunction to size and cold-start (default: build one)"
    )
    parser.add_argument(
        "--no-package", action="store_true", help="skip the sam build (package size, artifact cold start)"
    )


def cold_starts(
    python: str, app: Path, extra_path: str, events_file: Path, env: dict[str, str], runs: int, flags: list[str]
) -> tuple[list[float], list[float], list[float]]:
    """(in-process seconds, whole-process seconds, peak RSS MB) of ``runs`` fresh processes."""
    inside, whole, rss = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(
            [python, *flags, "-c", COLD_CHILD, str(app), extra_path, str(events_file)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        elapsed = time.perf_counter() - start
        line = next((x for x in result.stdout.splitlines() if x.startswith("COLD ")), None)
        if result.returncode != 0 or line is None:
            raise RuntimeError(f"cold start of {app} failed: {result.stderr[-2000:]}")
        report = json.loads(line[5:])
        inside.append(report["cold_s"])
        whole.append(elapsed)
        rss.append(report["hwm_kb"] / 1024)
    return inside, whole, rss


def sam_build(bundle: Path, work: Path) -> Path:
    sam = Path(sys.executable).parent / "sam"
    cmd = [str(sam), "build", "PredictFunction", "--template-file", str(ROOT / "template.yaml")]
    cmd += ["--build-dir", str(work / "sam-build"), "--cache-dir", str(work / "sam-cache")]
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "LITELENS_BUNDLE": str(bundle)}
    result = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"sam build failed: {result.stdout[-1500:]}{result.stderr[-1500:]}")
    return work / "sam-build" / "PredictFunction"


def package_size(artifact: Path, work: Path) -> tuple[float, float]:
    unzipped = sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file())
    archive = shutil.make_archive(str(work / "predict-package"), "zip", artifact)
    zipped = Path(archive).stat().st_size
    Path(archive).unlink()
    return unzipped / MB, zipped / MB


def run(args: argparse.Namespace) -> int:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="litelens-bench-predict-"))
    work.mkdir(parents=True, exist_ok=True)
    log(f"working in {work}")
    bundle, keras_path, keras_model = build_models(work, args.train_rows, args.epochs, log)
    keras_app = work / "keras_app" / "app.py"
    keras_app.parent.mkdir(exist_ok=True)
    keras_app.write_text(KERAS_APP)

    rng = np.random.default_rng(1)
    matrices = {n: rng.standard_normal((n, 100)).astype(np.float32) for n in SIZES}
    bodies = {n: json.dumps({"instances": matrices[n].tolist()}) for n in SIZES}
    events = {n: rest_v1_event(bodies[n]) for n in SIZES}
    events_file = work / "events.json"
    events_file.write_text(json.dumps({str(n): e for n, e in events.items()}))

    # Warm, in this process. Handler log lines go to /dev/null (they are still formatted and written).
    env = {constants.MODEL_URI: str(bundle), constants.SERVICE_NAME: "predict"}
    devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the whole measurement
    real_stdout, sys.stdout = sys.stdout, devnull
    try:
        litelens_app = load_app(PREDICT_APP, env)
        keras_handler = load_app(keras_app, {"KERAS_MODEL_PATH": str(keras_path)})
        from litelens.build.bundle.tflite import interpreter_class

        Interpreter, _ = interpreter_class()
        raw = Interpreter(model_content=(bundle / "model.tflite").read_bytes(), num_threads=1)
        raw_in, raw_out = raw.get_input_details()[0]["index"], raw.get_output_details()[0]["index"]

        def raw_invoke(X: np.ndarray) -> np.ndarray:
            raw.set_tensor(raw_in, X)
            raw.invoke()
            return raw.get_tensor(raw_out)

        warm: dict[int, dict[str, tuple[float, float]]] = {}
        for n in SIZES:
            ours = litelens_app.lambda_handler(events[n], None)
            theirs = keras_handler.lambda_handler(events[n], None)
            ours_p = [p["probability"] for p in json.loads(ours["body"])["predictions"]]
            theirs_p = [p["probability"] for p in json.loads(theirs["body"])["predictions"]]
            gap = float(np.max(np.abs(np.subtract(ours_p, theirs_p))))
            raw.resize_tensor_input(raw_in, [n, 100])
            raw.allocate_tensors()
            warm[n] = {
                "litelens": p50_p99(time_calls(lambda n=n: litelens_app.lambda_handler(events[n], None), args.seconds)),
                "raw": p50_p99(time_calls(lambda n=n: raw_invoke(matrices[n]), args.seconds)),
                "keras": p50_p99(time_calls(lambda n=n: keras_handler.lambda_handler(events[n], None), args.seconds)),
                "json": p50_p99(time_calls(lambda n=n: litelens_loads(bodies[n]), args.seconds)),
            }
            log(f"warm {n:>4} rows measured (litelens vs keras max |Δp| = {gap:.2e})")
    finally:
        sys.stdout = real_stdout
        devnull.close()
    del keras_model

    # Cold starts, each in fresh processes.
    child_env = {
        **{k: v for k, v in os.environ.items() if k not in (constants.MODEL_URI,)},
        constants.MODEL_URI: str(bundle),
        "KERAS_MODEL_PATH": str(keras_path),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    cold: dict[str, tuple[list[float], list[float], list[float]]] = {}
    cold["litelens (source tree)"] = cold_starts(
        sys.executable, PREDICT_APP, "", events_file, child_env, args.cold_runs, []
    )
    log("cold start litelens (source) measured")
    artifact, sizes = None, None
    if not args.no_package:
        artifact = Path(args.sam_build_dir) if args.sam_build_dir else sam_build(bundle, work)
        sizes = package_size(artifact, work)
        python = python312()
        if python:
            clean_env = {"PATH": "/usr/bin:/bin", "LITELENS_LOG_LEVEL": "WARNING"}
            cold["litelens (sam artifact, python3.12 -I -S)"] = cold_starts(
                python, artifact / "app.py", str(artifact), events_file, clean_env, args.cold_runs, ["-I", "-S"]
            )
            log("cold start litelens (artifact) measured")
    cold["tf.keras handler"] = cold_starts(
        sys.executable, keras_app, "", events_file, child_env, args.keras_cold_runs, []
    )
    log("cold start keras measured")

    # The table.
    print(f"litelens bench predict: synthetic bundle (100 features, 128-64-1, float32 TFLite), {os.cpu_count()} CPUs")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, work dir {work}")
    print()
    print("warm latency, REST v1 event -> response dict (p50 / p99)")
    header = f"{'rows':>5} | {'litelens handler':>19} | {'raw invoke (floor)':>19} | {'tf.keras handler':>19} |"
    header += f" {'body JSON parse':>19} | {'keras/litelens':>14}"
    print(header)
    print("-" * len(header))
    for n in SIZES:
        cells = []
        for key in ("litelens", "raw", "keras", "json"):
            p50, p99 = warm[n][key]
            cells.append(f"{fmt(p50)} / {fmt(p99)}")
        ratio = warm[n]["keras"][0] / warm[n]["litelens"][0]
        print(f"{n:>5} | " + " | ".join(f"{c:>19}" for c in cells) + f" | {ratio:>13.1f}x")
    print()
    print("cold start: fresh process, import + load model + answer 1 row (in-process median; whole process median)")
    for name, (inside, whole, rss) in cold.items():
        print(
            f"  {name:<44} {statistics.median(inside) * 1000:8.0f} ms   {statistics.median(whole) * 1000:8.0f} ms"
            f"   peak RSS after a 100-row request {max(rss):6.0f} MB"
        )
    if sizes:
        print(
            f"\npackage: sam build PredictFunction -> {sizes[0]:.1f} MB unzipped, {sizes[1]:.1f} MB zipped ({artifact})"
        )

    # Targets.
    ours_cold = statistics.median(
        cold.get("litelens (sam artifact, python3.12 -I -S)", cold["litelens (source tree)"])[0]
    )
    keras_cold = statistics.median(cold["tf.keras handler"][0])
    ours_rss = max(max(v[2]) for k, v in cold.items() if k.startswith("litelens"))
    warm1 = warm[1]["litelens"][0]
    checks = [
        (
            f"warm 1-row p50 <= {TARGETS['warm_1_p50_us']:.0f} us",
            f"{warm1 * 1e6:.0f} us",
            warm1 * 1e6 <= TARGETS["warm_1_p50_us"],
        ),
        (
            f"warm 1-row >= {TARGETS['warm_1_vs_keras']:.0f}x faster than tf.keras",
            f"{warm[1]['keras'][0] / warm1:.1f}x",
            warm[1]["keras"][0] / warm1 >= TARGETS["warm_1_vs_keras"],
        ),
        (
            f"1000-row p50 <= {TARGETS['warm_1000_p50_ms']:.0f} ms",
            f"{warm[1000]['litelens'][0] * 1000:.1f} ms (JSON parse alone {warm[1000]['json'][0] * 1000:.1f} ms)",
            warm[1000]["litelens"][0] * 1000 <= TARGETS["warm_1000_p50_ms"],
        ),
        (
            f"cold start <= {TARGETS['cold_ms']:.0f} ms",
            f"{ours_cold * 1000:.0f} ms",
            ours_cold * 1000 <= TARGETS["cold_ms"],
        ),
        (
            f"cold start >= {TARGETS['cold_vs_keras']:.0f}x faster than tf.keras",
            f"{keras_cold / ours_cold:.1f}x",
            keras_cold / ours_cold >= TARGETS["cold_vs_keras"],
        ),
        (f"peak RSS <= {TARGETS['rss_mb']:.0f} MB (100 rows)", f"{ours_rss:.0f} MB", ours_rss <= TARGETS["rss_mb"]),
    ]
    if sizes:
        checks.append((f"zipped <= {TARGETS['zip_mb']:.0f} MB", f"{sizes[1]:.1f} MB", sizes[1] <= TARGETS["zip_mb"]))
        checks.append(
            (f"unzipped <= {TARGETS['unzipped_mb']:.0f} MB", f"{sizes[0]:.1f} MB", sizes[0] <= TARGETS["unzipped_mb"])
        )
    print("\ntargets (predict: warm latency, cold start, memory, package size)")
    for name, measured, ok in checks:
        print(f"  {name:<46} {measured:<44} {verdict(ok)}")
    return 0
