"""TFLite export (float32, float16, dynamic-range, full-integer int8) and its evaluation next to Keras."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from litelens.build.bundle import Quantization, Task, predicted_index
from litelens.build.bundle.errors import LitelensError
from litelens.build.bundle.tflite import TFLiteRunner, native_output_captured
from litelens.build.metrics import GATED, best_f1_threshold, confusion, task_metrics
from litelens.build.mlp import import_tensorflow

REPRESENTATIVE_ROWS = 256
# Ops left in float in int8 mode: the standardization at the input, the regression rescaling at the output.
FLOAT_OPS_IN_INT8 = ("SUB", "MUL", "DIV", "ADD", "SQRT", "RSQRT", "MAXIMUM")


class ExportError(LitelensError, RuntimeError):
    """The converter failed; carries what it printed."""


def to_tflite(model: Any, quantization: str, representative: np.ndarray | None = None, seed: int = 0) -> bytes:
    """Convert a Keras model; inputs and outputs stay float32 in every mode."""
    if quantization not in tuple(Quantization):
        raise ValueError(f"unknown quantization {quantization!r}")
    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization != Quantization.NONE:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == Quantization.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == Quantization.INT8:
        if representative is None:
            raise ValueError("int8 quantization needs representative rows")
        rng = np.random.default_rng(seed)
        take = rng.choice(len(representative), size=min(REPRESENTATIVE_ROWS, len(representative)), replace=False)
        rows = np.asarray(representative, dtype=np.float32)[np.sort(take)]

        def dataset() -> Iterator[list[np.ndarray]]:
            for row in rows:
                yield [row[None, :]]

        converter.representative_dataset = dataset
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32
        # Activations are quantized per tensor: raw features of very different scales (income ~1e5,
        # a ratio ~0.3) would share one int8 scale and the small ones would round to zero. So the
        # in-model standardization (SUB/MUL) and the regression un-scaling stay float; every dense
        # layer and activation after it is int8.
        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(FLOAT_OPS_IN_INT8))

        def convert() -> bytes:
            debugger = tf.lite.experimental.QuantizationDebugger(
                converter=converter, debug_dataset=dataset, debug_options=options
            )
            return debugger.get_nondebug_quantized_model()

        return _quietly(convert, quantization)
    return _quietly(converter.convert, quantization)


def _quietly(convert: Callable[[], bytes], quantization: str) -> bytes:
    """Run a conversion with its native logs and Python warnings held back; show them only on failure."""
    with native_output_captured() as output, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bytes(convert())
        except Exception as exc:
            failure = exc
    printed = "\n".join(output)[-2000:]
    raise ExportError(f"TFLite conversion ({quantization}) failed: {failure}\n{printed}")


def tflite_predict(model_bytes: bytes, X: np.ndarray, chunk_rows: int = 16384) -> np.ndarray:
    """Run the exported model with the serving runtime (LiteRT) on a batch; float64 (n, outputs).

    In chunks of ``chunk_rows``: one interpreter over 200k validation rows would allocate every
    layer's activations for all of them at once."""
    with native_output_captured():  # LiteRT announces its XNNPACK delegate from C++
        return TFLiteRunner(model_bytes).run(X, chunk_rows).astype(np.float64)


@dataclass
class Evaluation:
    """Both models on the validation rows at one decision threshold (binary; else 0.5, unused)."""

    keras: dict[str, float]
    tflite: dict[str, float]
    max_abs_delta: float
    model_bytes: int
    threshold: float
    confusion: np.ndarray  # the served (TFLite) model's, rows = actual, columns = predicted

    rows: int = 0  # validation rows: accuracy moves in steps of 1 / rows

    def worst_drop(self, task: str, allowed: float = 0.0) -> tuple[str, float]:
        """``(metric, keras - tflite)`` for the gated metric furthest beyond its allowed drop.

        Accuracy's allowance is ``allowed`` plus one validation row: on 80 rows one flipped label is
        0.0125, and a gate finer than a row refuses a model for a coin toss."""
        drops = [(m, self.keras[m] - self.tflite[m]) for m in GATED[task] if np.isfinite(self.keras.get(m, np.nan))]
        if not drops:
            return "none", 0.0
        return max(drops, key=lambda d: d[1] - self.allowance(d[0], allowed))

    def allowance(self, metric: str, allowed: float) -> float:
        return allowed + (1.0 / self.rows if metric == "accuracy" and self.rows else 0.0)

    def refused(self, task: str, allowed: float) -> bool:
        metric, drop = self.worst_drop(task, allowed)
        return drop > self.allowance(metric, allowed)


def evaluate(
    task: str,
    y_val: np.ndarray,
    keras_pred: np.ndarray,
    model_bytes: bytes,
    X_val: np.ndarray,
    classes: Sequence[str] | None = None,
    threshold: float | str | None = None,
) -> Evaluation:
    """Keras' predictions ``keras_pred`` and the exported model's on ``X_val``, scored side by side.

    ``threshold`` (binary): a number, ``"auto"`` (the one maximizing the served model's F1 on these
    rows) or None (0.5)."""
    tflite_pred = tflite_predict(model_bytes, X_val)
    if task == Task.BINARY and threshold == "auto":
        threshold = best_f1_threshold(y_val, tflite_pred)
    cut = 0.5 if threshold is None or task != Task.BINARY else float(threshold)
    n_classes = tflite_pred.shape[1] if task == Task.MULTICLASS else 2
    matrix = np.zeros((0, 0), dtype=np.int64)
    if task != Task.REGRESSION:
        matrix = confusion(y_val, predicted_index(task, tflite_pred, cut), n_classes)
    return Evaluation(
        keras=task_metrics(task, y_val, keras_pred, classes, cut),
        tflite=task_metrics(task, y_val, tflite_pred, classes, cut),
        max_abs_delta=float(np.max(np.abs(tflite_pred - keras_pred))),
        model_bytes=len(model_bytes),
        threshold=cut,
        confusion=matrix,
        rows=len(y_val),
    )
