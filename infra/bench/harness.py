"""What every benchmark shares: the synthetic model it measures, the event it sends, the timer.

``build_models`` trains the synthetic 100-feature 128-64-1 binary MLP once and writes it both as a
litelens bundle (TFLite) and as a saved Keras model, so each benchmark compares the same weights;
``rest_v1_event`` is the proxy event API Gateway sends; ``time_calls`` and ``p50_p99`` time a call.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def add_model_arguments(parser: argparse.ArgumentParser, work_dir_holds: str) -> None:
    """The options every benchmark shares: which model to build and where."""
    parser.add_argument("--demo", choices=["synthetic"], default="synthetic", help="the model to measure")
    parser.add_argument("--work-dir", help=f"where {work_dir_holds} go (default: a temp dir)")
    parser.add_argument("--train-rows", type=int, default=4000, help="synthetic rows to train on (default 4000)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (weights do not change latency)")


def rest_v1_event(body: str) -> dict[str, Any]:
    """The REST API (payload 1.0) proxy event API Gateway sends for POST /predict."""
    return {
        "resource": "/predict",
        "path": "/predict",
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/json", "Host": "example.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/predict",
            "httpMethod": "POST",
            "path": "/v1/predict",
            "stage": "v1",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def build_models(
    work: Path, train_rows: int, epochs: int, log: Callable[[str], None], n_features: int = 100
) -> tuple[Path, Path, Any]:
    """(bundle folder, saved .keras path, the Keras model) of one synthetic 128-64-1 MLP on the first
    ``n_features`` of the 100 synthetic features (all of them by default; fewer keep the signal of x000..x019)."""
    from litelens.build import export, mlp, stats, synthetic
    from litelens.build.bundle import Quantization, Task, write_bundle
    from litelens.build.bundle.tflite import native_output_captured
    from litelens.build.pipeline import library_versions

    X, y, features = synthetic.make_synthetic(n_rows=train_rows, seed=0)
    X, features = np.ascontiguousarray(X[:, :n_features]), features[:n_features]
    mlp.seed_everything(0)
    keras_model = mlp.build_mlp(X, Task.BINARY, 1, (128, 64))
    keras_model.compile(optimizer="adam", loss="binary_crossentropy")
    with native_output_captured():
        keras_model.fit(X, y, epochs=epochs, batch_size=256, verbose=0)
    suffix = "" if n_features == 100 else f"-{n_features}"
    keras_path = work / f"keras{suffix}" / "model.keras"
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    keras_model.save(keras_path)
    model_bytes = export.to_tflite(keras_model, Quantization.NONE)
    background, weights = stats.kmeans_background(X, 10, 0)
    bundle = work / f"bundle{suffix}"
    write_bundle(
        bundle,
        name="synthetic-bench",
        task=Task.BINARY,
        features=features,
        classes=synthetic.CLASSES,
        target=synthetic.TARGET,
        model=model_bytes,
        shap_background=background,
        shap_weights=weights,
        lime_stats=stats.lime_training_stats(X),
        metrics={},
        quantization=Quantization.NONE,
        training={"epochs": epochs, "rows": train_rows, "purpose": "benchmark"},
        libraries=library_versions(),
        force=True,
    )
    log(f"built {bundle} ({len(model_bytes) / 1024:.0f} KiB TFLite) and {keras_path}")
    return bundle, keras_path, keras_model


def time_calls(fn: Callable[..., Any], seconds: float, max_calls: int = 20000) -> list[float]:
    """Per-call wall times (s) of ``fn()`` over about ``seconds`` (after a short warm-up). (``...``: mypy cannot
    type a lambda that binds a loop variable as a default, ``lambda n=n: ...``, against ``Callable[[], Any]``.)"""
    for _ in range(5):
        fn()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < max_calls and (len(times) < 30 or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def p50_p99(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def python312() -> str | None:
    for candidate in [shutil.which("python3.12"), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]:
        if (
            candidate
            and subprocess.run(  # a pyenv shim without 3.12 selected fails here, noisily: keep it quiet
                [str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 12)"], capture_output=True
            ).returncode
            == 0
        ):
            return str(candidate)
    return None


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
