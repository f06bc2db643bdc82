"""The Keras MLP and its training loop. TensorFlow is imported here, lazily: nothing that serves imports this."""

from __future__ import annotations

import importlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from litelens.build.bundle import Task
from litelens.build.bundle.tflite import native_output_captured
from litelens.build.stats import input_moments


def import_tensorflow() -> Any:
    """Import TensorFlow with its C++ and Python logging turned down (an explicit TF_CPP_MIN_LOG_LEVEL wins).

    Level 3 also hides a spurious C++ "NodeDef mentions attribute use_unbounded_threadpool" error that
    Keras' input pipeline triggers on every fit; real failures still surface as Python exceptions.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with native_output_captured():  # the import itself prints absl/oneDNN banners from C++
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
    X_train: np.ndarray | None,
    task: str,
    n_outputs: int,
    hidden: tuple[int, ...],
    y_train: np.ndarray | None = None,
    l2: float = 0.0,
    l1_first: float = 0.0,
    *,
    moments: tuple[np.ndarray, np.ndarray] | None = None,
) -> Any:
    """Normalization (the mean and variance of ``X_train``, or ``moments``) -> Dense(h, relu) for each h -> output.

    ``l2`` penalizes every hidden kernel (weight decay); ``l1_first`` puts an L1 penalty on the first
    layer's kernel, which drives the weights of irrelevant features to zero: with many weak or
    irrelevant features an unregularized MLP fits noise within a few epochs. The model takes raw
    feature values. Regression trains on a standardized target and un-scales it in a final
    Rescaling layer, so the served output is in the target's own units.
    """
    import_tensorflow()
    import keras

    if moments is None:
        assert X_train is not None
        moments = input_moments(X_train)
    mean, variance = moments
    inputs = keras.Input(shape=(len(mean),), dtype="float32", name="features")
    norm = keras.layers.Normalization(mean=mean, variance=variance, name="standardize")
    h = norm(inputs)
    for i, width in enumerate(hidden):
        l1 = l1_first if i == 0 else 0.0
        regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 > 0 or l2 > 0) else None
        h = keras.layers.Dense(width, activation="relu", kernel_regularizer=regularizer, name=f"dense_{i}")(h)
    if task == Task.BINARY:
        outputs = keras.layers.Dense(1, activation="sigmoid", name="probability")(h)
    elif task == Task.MULTICLASS:
        outputs = keras.layers.Dense(n_outputs, activation="softmax", name="probabilities")(h)
    else:
        assert y_train is not None
        y_mean, y_std = float(np.mean(y_train)), float(np.std(y_train)) or 1.0
        z = keras.layers.Dense(1, name="standardized_target")(h)
        outputs = keras.layers.Rescaling(scale=y_std, offset=y_mean, name="target")(z)
    return keras.Model(inputs, outputs, name="litelens_mlp")


def loss_for(task: str) -> str:
    losses: dict[str, str] = {Task.BINARY: "binary_crossentropy", Task.MULTICLASS: "sparse_categorical_crossentropy"}
    return losses.get(task, "mse")


@dataclass
class TrainingRun:
    """What happened during ``fit``: for the card and the summary table."""

    epochs_run: int
    best_epoch: int
    best_val_loss: float
    final_lr: float
    lr_changes: list[tuple[int, float]]
    history: dict[str, list[float]]


class Plateau:
    """When validation loss has stopped improving *meaningfully*: one rule for the LR and for stopping.

    An epoch improves when its validation loss is below the reference (the loss of the last
    improving epoch) by more than ``min_delta`` of it (relative: the losses here are cross-entropies
    and a standardized MSE, so 1e-3 means 0.1% of the loss whatever its size). After ``lr_patience``
    epochs without one the learning rate is multiplied by ``lr_factor`` (not below ``min_lr``); after
    ``patience`` the training stops. Tiny gains once the LR is at its floor no longer keep it going.
    The best weights (lowest validation loss, meaningful gain or not) are the ones kept.
    """

    def __init__(self, min_delta: float, patience: int, lr_patience: int, lr_factor: float, min_lr: float) -> None:
        self.min_delta, self.patience, self.lr_patience = min_delta, patience, lr_patience
        self.lr_factor, self.min_lr = lr_factor, min_lr
        self.reference = math.inf
        self.best, self.best_epoch = math.inf, -1
        self.stale = 0  # epochs since the last meaningful improvement
        self.stale_lr = 0  # the same, since the last LR change

    def update(self, epoch: int, val_loss: float, lr: float) -> tuple[bool, float | None, bool]:
        """``(best so far, new learning rate or None, stop)`` after ``epoch``'s validation loss."""
        best = val_loss < self.best
        if best:
            self.best, self.best_epoch = val_loss, epoch
        if val_loss < self.reference - self.min_delta * abs(self.reference) or not math.isfinite(self.reference):
            self.reference, self.stale, self.stale_lr = val_loss, 0, 0
            return best, None, False
        self.stale += 1
        self.stale_lr += 1
        new_lr = None
        if self.stale_lr >= self.lr_patience and lr > self.min_lr * (1 + 1e-9):
            new_lr, self.stale_lr = max(lr * self.lr_factor, self.min_lr), 0
        return best, new_lr, self.stale >= self.patience


def progress_bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / max(total, 1))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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
    min_delta: float = 1e-3,
    sample_weight: np.ndarray | None = None,
    val_sample_weight: np.ndarray | None = None,
    encode: Callable[[np.ndarray], np.ndarray] | None = None,
    log: Callable[[str], None] = print,
) -> TrainingRun:
    """Adam with clipnorm; LR reduction and early stopping by :class:`Plateau` on validation loss.

    ``sample_weight`` / ``val_sample_weight``: per-row loss weights (class weights); the validation
    loss that decides the plateau is weighted the same way, so it measures what the training minimizes.
    ``encode``: ``X_train`` and ``X_val`` are rows to encode batch by batch (column space and
    ``Schema.encode``): the model's inputs of every training row never exist at once.
    One line per epoch: a bar over the epoch cap, the losses, the LR, the epoch's time and the time
    left if the cap is reached (early stopping usually ends sooner).
    """
    import keras

    y_scale = 1.0
    if task == Task.REGRESSION:
        # Clip and plateau decisions see the loss in standardized units, whatever the target's scale.
        y_scale = float(np.var(y_train)) or 1.0
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=clipnorm),
        loss=_scaled_mse(y_scale) if task == Task.REGRESSION else loss_for(task),
    )
    lr_changes: list[tuple[int, float]] = []
    plateau = Plateau(min_delta, patience, lr_patience, lr_factor, min_lr)
    state: dict[str, Any] = {"lr": learning_rate, "weights": None, "started": time.perf_counter()}

    class Progress(keras.callbacks.Callback):
        """The epoch line, the plateau decisions (a line of their own), the best weights kept in memory."""

        def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            state["epoch_started"] = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            logs = logs or {}
            val_loss = float(logs.get("val_loss", float("nan")))
            now = time.perf_counter()
            per_epoch = (now - state["started"]) / (epoch + 1)
            log(
                f"  epoch {epoch + 1:>3}/{epochs} {progress_bar(epoch + 1, epochs)}"
                f"  loss {logs.get('loss', float('nan')):.4f}  val_loss {val_loss:.4f}  lr {state['lr']:.2e}"
                f"  {now - state['epoch_started']:.1f} s"
                + (f"  (at most {_duration(per_epoch * (epochs - epoch - 1))} left)" if epoch + 1 < epochs else "")
            )
            best, new_lr, stop = plateau.update(epoch, val_loss, state["lr"])
            if best:
                state["weights"] = self.model.get_weights()
            if new_lr is not None:
                self.model.optimizer.learning_rate.assign(new_lr)
                log(f"  learning rate {state['lr']:.2e} -> {new_lr:.2e} (validation loss on a plateau)")
                lr_changes.append((epoch + 1, new_lr))
                state["lr"] = new_lr
            if stop:
                self.model.stop_training = True

    train_batches = batches(X_train, y_train, sample_weight, batch_size, encode, seed)
    val_batches = batches(X_val, y_val, val_sample_weight, max(batch_size, 4096), encode, None)
    history = model.fit(train_batches, validation_data=val_batches, epochs=epochs, verbose=0, callbacks=[Progress()])
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    if state["weights"] is not None:
        model.set_weights(state["weights"])
    final_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    if len(losses) < epochs:
        log(
            f"  early stopping after epoch {len(losses)}: no validation loss gain above {min_delta:g} (relative) "
            f"in {patience} epochs; restored the weights of epoch {best + 1}"
        )
    elif best + 1 < len(losses):
        log(f"  restored the weights of epoch {best + 1} (lowest validation loss)")
    return TrainingRun(
        epochs_run=len(losses),
        best_epoch=best + 1,
        best_val_loss=float(losses[best]),
        final_lr=final_lr,
        lr_changes=lr_changes,
        history={k: [float(v) for v in vals] for k, vals in history.history.items() if k != "learning_rate"},
    )


def batches(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None,
    batch_size: int,
    encode: Callable[[np.ndarray], np.ndarray] | None,
    seed: int | None,
) -> Any:
    """A ``keras.utils.PyDataset`` of ``(inputs, y[, weights])`` batches sliced from ``X`` (no copy of it).

    ``seed``: the rows are shuffled before every epoch (a seeded generator: same seed, same order);
    None: in order (validation). ``encode`` turns a batch of rows into model inputs."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed) if seed is not None else None
            self.order = self.rng.permutation(len(X)) if self.rng is not None else None

        def __len__(self) -> int:
            return math.ceil(len(X) / batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
            window = slice(index * batch_size, (index + 1) * batch_size)
            rows = np.sort(self.order[window]) if self.order is not None else window
            inputs = X[rows] if encode is None else encode(X[rows])
            batch = (np.asarray(inputs, dtype=np.float32), y[rows])
            return batch if weights is None else (*batch, weights[rows])

        def on_epoch_end(self) -> None:
            if self.rng is not None:
                self.order = self.rng.permutation(len(X))

    return Batches()


def _scaled_mse(scale: float) -> Any:
    import keras

    def mse_standardized(y_true: Any, y_pred: Any) -> Any:
        return keras.ops.mean(keras.ops.square(y_true - y_pred)) / scale

    return mse_standardized


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Keras predictions as float64 numpy, in batches, without ``predict()``'s per-call overhead."""
    out = [np.asarray(model(X[i : i + 4096], training=False)) for i in range(0, len(X), 4096)]
    return np.concatenate(out).astype(np.float64)
