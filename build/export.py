"""TFLite export (float32, float16, dynamic-range, full-integer int8) and its evaluation next to Keras."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from litelens.build.bundle import QUANTIZATIONS
from litelens.build.model import import_tensorflow, quiet_native_output

REPRESENTATIVE_ROWS = 256
# Ops left in float in int8 mode: the standardization at the input, the regression rescaling at the output.
FLOAT_OPS_IN_INT8 = ("SUB", "MUL", "DIV", "ADD", "SQRT", "RSQRT", "MAXIMUM")


class ExportError(RuntimeError):
    """The converter failed; carries what it printed."""


def to_tflite(model: Any, quantization: str, representative: np.ndarray | None = None, seed: int = 0) -> bytes:
    """Convert a Keras model; inputs and outputs stay float32 in every mode."""
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantization!r}")
    tf = import_tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantization != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
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
    with quiet_native_output() as output, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bytes(convert())
        except Exception as exc:
            failure = exc
    raise ExportError(f"TFLite conversion ({quantization}) failed: {failure}\n{''.join(output)[-2000:]}")


def tflite_predict(model_bytes: bytes, X: np.ndarray) -> np.ndarray:
    """Run the exported model with the serving runtime (LiteRT) on a batch; float64 (n, outputs)."""
    from litelens.functions.common.interpreter import interpreter_class

    interpreter_cls, _ = interpreter_class()
    X = np.ascontiguousarray(X, dtype=np.float32)
    with quiet_native_output():  # LiteRT announces its XNNPACK delegate from C++
        interpreter = interpreter_cls(model_content=model_bytes)
        inp = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(inp["index"], list(X.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], X)
        interpreter.invoke()
        out = interpreter.get_output_details()[0]
        return np.asarray(interpreter.get_tensor(out["index"]), dtype=np.float64)


def task_metrics(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """accuracy + ROC AUC (classification) or RMSE + R² (regression) of predictions ``pred`` (n, outputs)."""
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        p = pred.reshape(-1)
        return {"rmse": float(np.sqrt(np.mean((p - y) ** 2))), "r2": float(r2_score(y, p))}
    if task == "binary":
        p = pred.reshape(-1)
        metrics = {"accuracy": float(np.mean((p >= 0.5).astype(int) == y))}
        metrics["auc"] = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")
        return metrics
    metrics = {"accuracy": float(np.mean(np.argmax(pred, axis=1) == y))}
    present = np.unique(y)
    if len(present) == pred.shape[1]:
        probs = pred / pred.sum(axis=1, keepdims=True)
        metrics["auc"] = float(roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    else:
        metrics["auc"] = float("nan")
    return metrics


# The gated metrics: higher is better for each (regression gates on R², which has no units).
GATED = {"binary": ("accuracy", "auc"), "multiclass": ("accuracy", "auc"), "regression": ("r2",)}


@dataclass
class Evaluation:
    keras: dict[str, float]
    tflite: dict[str, float]
    max_abs_delta: float
    model_bytes: int

    def worst_drop(self, task: str) -> tuple[str, float]:
        """``(metric, keras - tflite)`` for the gated metric that dropped most."""
        drops = [(m, self.keras[m] - self.tflite[m]) for m in GATED[task] if np.isfinite(self.keras.get(m, np.nan))]
        return max(drops, key=lambda d: d[1]) if drops else ("none", 0.0)


def evaluate(task: str, y_val: np.ndarray, keras_pred: np.ndarray, model_bytes: bytes, X_val: np.ndarray) -> Evaluation:
    tflite_pred = tflite_predict(model_bytes, X_val)
    return Evaluation(
        keras=task_metrics(task, y_val, keras_pred),
        tflite=task_metrics(task, y_val, tflite_pred),
        max_abs_delta=float(np.max(np.abs(tflite_pred - keras_pred))),
        model_bytes=len(model_bytes),
    )
