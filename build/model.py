"""The Keras MLP and its training loop. TensorFlow is imported here, lazily: nothing that serves imports this."""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers: native code writing through a buffered FILE* would otherwise leak out later."""
    with contextlib.suppress(OSError, AttributeError):  # no libc symbol table: nothing to flush
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def quiet_native_output() -> Iterator[list[str]]:
    """Send native (C++) chatter on fd 1 and 2 to a temp file; the text is handed back for error messages.

    TensorFlow, its converter and LiteRT log from C++ (absl banners, oneDNN notices, delegate INFO lines)
    regardless of Python's logging; the build's own output should stay readable.
    """
    captured: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            _flush_c_stdio()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def import_tensorflow() -> Any:
    """Import TensorFlow with its C++ and Python logging turned down (an explicit TF_CPP_MIN_LOG_LEVEL wins).

    Level 3 also hides a spurious C++ "NodeDef mentions attribute use_unbounded_threadpool" error that
    Keras' input pipeline triggers on every fit; real failures still surface as Python exceptions.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with quiet_native_output():  # the import itself prints absl/oneDNN banners from C++
            importlib.import_module("tensorflow")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with tensorflow
        pass
    return tf


def seed_everything(seed: int) -> None:
    """Python, numpy and TF seeds plus deterministic kernels: same data + seed -> same weights."""
    tf = import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def build_mlp(
    X_train: np.ndarray,
    task: str,
    n_outputs: int,
    hidden: tuple[int, ...],
    y_train: np.ndarray | None = None,
    l2: float = 0.0,
    l1_first: float = 0.0,
) -> Any:
    """Normalization (adapted on ``X_train``) -> Dense(h, relu) for each h -> output.

    ``l2`` penalizes every hidden kernel (weight decay); ``l1_first`` puts an L1 penalty on the first
    layer's kernel, which drives the weights of irrelevant features to zero: with many weak or
    irrelevant features an unregularized MLP fits noise within a few epochs. The model takes raw
    feature values. Regression trains on a standardized target and un-scales it in a final
    Rescaling layer, so the served output is in the target's own units.
    """
    import_tensorflow()
    import keras

    inputs = keras.Input(shape=(X_train.shape[1],), dtype="float32", name="features")
    norm = keras.layers.Normalization(name="standardize")
    with quiet_native_output():
        norm.adapt(X_train)
    h = norm(inputs)
    for i, width in enumerate(hidden):
        l1 = l1_first if i == 0 else 0.0
        regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 > 0 or l2 > 0) else None
        h = keras.layers.Dense(width, activation="relu", kernel_regularizer=regularizer, name=f"dense_{i}")(h)
    if task == "binary":
        outputs = keras.layers.Dense(1, activation="sigmoid", name="probability")(h)
    elif task == "multiclass":
        outputs = keras.layers.Dense(n_outputs, activation="softmax", name="probabilities")(h)
    else:
        assert y_train is not None
        mean, std = float(np.mean(y_train)), float(np.std(y_train)) or 1.0
        z = keras.layers.Dense(1, name="standardized_target")(h)
        outputs = keras.layers.Rescaling(scale=std, offset=mean, name="target")(z)
    return keras.Model(inputs, outputs, name="litelens_mlp")


def loss_for(task: str) -> str:
    return {"binary": "binary_crossentropy", "multiclass": "sparse_categorical_crossentropy"}.get(task, "mse")


@dataclass
class TrainingRun:
    """What happened during ``fit``: for the card and the summary table."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    final_lr: float
    lr_changes: list[tuple[int, float]]
    history: dict[str, list[float]]


def train(
    model: Any,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    *,
    task: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    clipnorm: float,
    patience: int,
    lr_patience: int,
    lr_factor: float,
    min_lr: float,
    seed: int,
    log: Callable[[str], None] = print,
) -> TrainingRun:
    """Adam with clipnorm, ReduceLROnPlateau and EarlyStopping(restore_best_weights) on validation loss."""
    import keras

    y_scale = 1.0
    if task == "regression":
        # Clip and plateau decisions see the loss in standardized units, whatever the target's scale.
        y_scale = float(np.var(y_train)) or 1.0
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        loss=_scaled_mse(y_scale) if task == "regression" else loss_for(task),
    )
    lr_changes: list[tuple[int, float]] = []
    state = {"lr": learning_rate}

    class Progress(keras.callbacks.Callback):
        """One line per epoch; a line of its own whenever ReduceLROnPlateau (which runs first) changes the LR."""

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            log(
                f"  epoch {epoch + 1:>3}/{epochs}  loss {logs.get('loss', float('nan')):.4f}"
                f"  val_loss {logs.get('val_loss', float('nan')):.4f}  lr {state['lr']:.2e}"
            )
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            if not np.isclose(lr, state["lr"]):
                log(f"  learning rate {state['lr']:.2e} -> {lr:.2e} (validation loss on a plateau)")
                lr_changes.append((epoch + 1, lr))
                state["lr"] = lr

    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    plateau = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss", factor=lr_factor, patience=lr_patience, min_lr=min_lr, verbose=0
    )
    history = model.fit(
        X_train,
        y_train,
        validation_data=(X_val, y_val),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[plateau, Progress(), early],
    )
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    final_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    if len(losses) > best + 1:
        log(f"  early stopping after epoch {len(losses)}: restored the weights of epoch {best + 1}")
    return TrainingRun(
        epochs_run=len(losses),
        best_epoch=best + 1,
        best_val_loss=float(losses[best]),
        final_lr=final_lr,
        lr_changes=lr_changes,
        history={k: [float(v) for v in vals] for k, vals in history.history.items() if k != "learning_rate"},
    )


def _scaled_mse(scale: float) -> Any:
    import keras

    def mse_standardized(y_true: Any, y_pred: Any) -> Any:
        return keras.ops.mean(keras.ops.square(y_true - y_pred)) / scale

    return mse_standardized


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Keras predictions as float64 numpy, in batches, without ``predict()``'s per-call overhead."""
    out = [np.asarray(model(X[i : i + 4096], training=False)) for i in range(0, len(X), 4096)]
    return np.concatenate(out).astype(np.float64)
