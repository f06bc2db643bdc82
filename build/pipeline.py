"""The build as a Python API: validated arrays in, a verified bundle out.

``build_bundle`` splits, trains the MLP, exports TFLite, evaluates it next to Keras, applies the
accuracy gate, summarizes the training rows for SHAP and LIME, and writes the bundle atomically.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from litelens.build import stats
from litelens.build.bundle import BundleCard, Quantization, Task, check_output_dir, n_outputs, write_bundle
from litelens.build.bundle.schema import Schema
from litelens.build.data import MIN_TRAIN_ROWS, MIN_VALIDATION_ROWS, BuildInputError, check_arrays, check_columns
from litelens.build.metrics import class_shares

CLASS_WEIGHTS = (None, "balanced")
# Rows per training batch: 64 up to 2^17 training rows; above, the smallest power of two giving at most
# ~400 steps an epoch, at most 4096: on a CPU a step's cost hardly depends on the dataset, so an epoch
# costs its number of steps and a large build takes larger batches (measured: README, Benchmarks).
BATCH_ROWS_AT_64 = 1 << 17
STEPS_PER_EPOCH = 400
MAX_AUTO_BATCH = 4096

LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "scikit-learn", "ai-edge-litert")


@dataclass
class BuildConfig:
    """Every knob of a build; stored verbatim in ``bundle.json``'s ``training``."""

    epochs: int = 60
    batch_size: int | None = None  # None: auto_batch_size(training rows); the card records the one used
    hidden: tuple[int, ...] = (128, 64)
    seed: int = 0
    quantize: str = Quantization.NONE
    validation_split: float = 0.2
    learning_rate: float = 1e-3
    clipnorm: float = 1.0
    l2: float = 1e-4
    l1_first: float = 0.0
    patience: int = 8
    lr_patience: int = 3
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    min_delta: float = 1e-3  # relative: an epoch improves when validation loss drops by more than 0.1% of it
    max_metric_drop: float = 0.01
    background_k: int = 10
    class_weight: str | None = None  # "balanced": each class weighs n / (k * n_class) in the loss
    threshold: float | str | None = None  # binary decision threshold: a number in (0, 1), "auto", None = 0.5

    def validate(self) -> None:
        if self.quantize not in tuple(Quantization):
            raise BuildInputError(f"unknown quantization {self.quantize!r} (choose from {', '.join(Quantization)})")
        if not 0 < self.validation_split < 1:
            raise BuildInputError(f"validation split must be between 0 and 1, got {self.validation_split}")
        if self.epochs < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise BuildInputError("epochs and batch size must be at least 1")
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise BuildInputError(f"hidden layer sizes must be positive integers, got {self.hidden}")
        if self.background_k < 1:
            raise BuildInputError(f"background k must be at least 1, got {self.background_k}")
        if self.l2 < 0 or self.l1_first < 0:
            raise BuildInputError(f"l2 and l1_first must be >= 0, got {self.l2} and {self.l1_first}")
        if self.max_metric_drop < 0:
            raise BuildInputError(f"max metric drop must be >= 0, got {self.max_metric_drop}")
        for name in ("validation_split", "learning_rate", "clipnorm", "l2", "l1_first", "max_metric_drop"):
            if not math.isfinite(getattr(self, name)):  # NaN slips through every comparison above
                raise BuildInputError(f"{name.replace('_', ' ')} must be a finite number, got {getattr(self, name)}")
        if not 0 < self.learning_rate <= 1:
            raise BuildInputError(f"learning rate must be in (0, 1], got {self.learning_rate}")
        if not 0 <= self.seed < 2**32:
            raise BuildInputError(f"seed must be between 0 and {2**32 - 1}, got {self.seed}")
        if self.patience < 1:
            raise BuildInputError(f"patience must be at least 1 epoch, got {self.patience}")
        if not (math.isfinite(self.min_delta) and 0 <= self.min_delta < 1):
            raise BuildInputError(f"min delta must be a relative gain in [0, 1), got {self.min_delta}")
        if self.class_weight not in CLASS_WEIGHTS:
            raise BuildInputError(f"class weight must be 'balanced' or none, got {self.class_weight!r}")
        t = self.threshold
        if t is not None and t != "auto" and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < 1):
            raise BuildInputError(f"threshold must be a number in (0, 1) or 'auto', got {t!r}")


@dataclass
class BuildResult:
    card: BundleCard
    path: Path
    keras_metrics: dict[str, float]
    tflite_metrics: dict[str, float]
    max_abs_delta: float
    model_bytes: int
    bundle_bytes: int
    train_rows: int
    validation_rows: int
    epochs_run: int
    final_lr: float
    seconds: float
    lr_changes: list[tuple[int, float]] = field(default_factory=list)
    threshold: float | None = None  # binary: the decision threshold in the card (None: 0.5)
    confusion: list[list[int]] = field(default_factory=list)  # the TFLite model's, rows = actual class


def auto_batch_size(train_rows: int) -> int:
    """The batch size of a build that does not set one (see ``BATCH_ROWS_AT_64``)."""
    size = 64
    if train_rows <= BATCH_ROWS_AT_64:
        return size
    while size < MAX_AUTO_BATCH and train_rows > STEPS_PER_EPOCH * size:
        size *= 2
    return size


def balanced_class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """``n / (k * n_c)`` per class (scikit-learn's "balanced"), k = the classes present; 0 for an absent one."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights


@contextmanager
def stage(name: str, log: Callable[[str], None]) -> Iterator[None]:
    """Log ``stage NAME  SECONDS s`` when the block ends (``litelens bench build`` reads these lines)."""
    started = time.perf_counter()
    yield
    log(f"stage {name:<10} {time.perf_counter() - started:6.1f} s")


class MetricGateError(BuildInputError):
    """The exported model is too far below the Keras model on the validation split."""


def _json_numbers(metrics: dict[str, float]) -> dict[str, float | None]:
    """NaN (e.g. AUC when the validation split lacks a class) becomes null: bundle.json stays strict JSON."""
    return {k: (float(v) if np.isfinite(v) else None) for k, v in metrics.items()}


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def split(
    n: int, y: np.ndarray, task: str, validation_split: float, seed: int, classes: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation row indices, stratified for classification; refuses splits too small to judge."""
    n_val = round(n * validation_split)
    if n_val < MIN_VALIDATION_ROWS or n - n_val < MIN_TRAIN_ROWS:
        raise BuildInputError(
            f"too few rows for the split: {n} rows at --validation-split {validation_split} give "
            f"{n - n_val} training and {n_val} validation rows (need >= {MIN_TRAIN_ROWS} and >= {MIN_VALIDATION_ROWS})"
        )
    from sklearn.model_selection import train_test_split

    stratify = None
    if task != Task.REGRESSION:
        counts = np.bincount(y)
        present = counts[counts > 0]
        if present.min() < 2:
            index = int(np.argmax((counts > 0) & (counts < 2)))
            label = repr(classes[index]) if classes else f"index {index}"
            raise BuildInputError(f"class {label} has a single row: too few rows to split train/validation")
        if n_val >= len(present):
            stratify = y
    idx = np.arange(n)
    train_idx, val_idx = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    return np.sort(train_idx), np.sort(val_idx)


def build_bundle(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str],
    target: str,
    task: str,
    out: str | os.PathLike[str],
    config: BuildConfig | None = None,
    *,
    name: str | None = None,
    classes: Sequence[str] | None = None,
    force: bool = False,
    source: str = "arrays",
    log: Callable[[str], None] = print,
    schema: Schema | None = None,
    in_place: bool = False,
) -> BuildResult:
    """Train, export, evaluate and write a bundle. ``y``: class indices into ``classes`` or regression floats.

    ``X`` holds the rows in ``schema``'s column space (one value per raw column: level codes for
    categorical columns, NaN for a missing number or date); ``feature_names`` must be its column
    names. Without a schema the columns are plain numbers (their medians and ranges are recorded).
    ``in_place``: ``X`` may be reordered in place (training rows first), so the training and validation
    rows are views of it rather than copies: what the CLI does with the rows it read, which nothing else
    uses (a 1M x 30 table is 240 MB); the rows keep their order within each split, so the result is
    the same either way.

    Raises :class:`BuildInputError` (bad data/config), :class:`BundleError` (``out`` exists without
    ``force``, or is not a folder ``force`` may replace),
    :class:`MetricGateError` (quantized model too inaccurate); nothing is written in either case.
    """
    started = time.perf_counter()
    config = config or BuildConfig()
    config.validate()
    if config.threshold is not None and task != Task.BINARY:
        raise BuildInputError(f"a decision threshold is for binary targets; this one is {task}")
    if config.class_weight is not None and task == Task.REGRESSION:
        raise BuildInputError("class weights are for classification targets; this one is regression")
    columns = [str(f) for f in feature_names]
    if classes is None and task != Task.REGRESSION:
        classes = [str(c) for c in range(int(np.max(y)) + 1)]
    with stage("check", log):
        if schema is None:
            X, y = check_arrays(X, y, columns, task, classes)
            schema = stats.numeric_schema(columns, X)  # medians and ranges: imputation and range warnings
        else:
            if columns != schema.names:
                raise BuildInputError(f"feature names {columns[:5]} are not the schema's columns {schema.names[:5]}")
            X, y = check_columns(X, y, schema, task, classes)
    features = schema.input_names()
    out = Path(out)
    check_output_dir(out, force)  # before minutes of training, not after
    with stage("split", log):
        train_idx, val_idx = split(len(X), y, task, config.validation_split, config.seed, classes)
        # Column space: what the explainers' statistics describe and what the batches encode from.
        if in_place:
            order = np.concatenate([train_idx, val_idx])
            X[:] = X[order]
            Z_train, Z_val = X[: len(train_idx)], X[len(train_idx) :]
        else:
            Z_train, Z_val = X[train_idx], X[val_idx]
        y_train, y_val = y[train_idx], y[val_idx]

    from litelens.build import export, mlp

    width = n_outputs(task, classes)
    batch_size = config.batch_size or auto_batch_size(len(Z_train))
    weights = sample_weights = val_weights = None
    if config.class_weight == "balanced" and classes:
        weights = balanced_class_weights(y_train, len(classes))
        sample_weights, val_weights = weights[y_train].astype(np.float32), weights[y_val].astype(np.float32)
    with stage("normalize", log):
        moments = stats.input_moments(Z_train, schema)
        mlp.seed_everything(config.seed)
        hidden = tuple(int(h) for h in config.hidden)
        keras_model = mlp.build_mlp(None, task, width, hidden, y_train, config.l2, config.l1_first, moments=moments)
    log(
        f"training {task} MLP {len(features)} inputs ({len(columns)} columns) -> "
        f"{' -> '.join(map(str, config.hidden))} -> {width} on "
        f"{len(Z_train)} rows (validation {len(Z_val)}), batch {batch_size}, up to {config.epochs} epochs"
        + (f", class weights {_weights_text(weights, classes)}" if weights is not None and classes else "")
    )
    with stage("fit", log):
        run = mlp.train(
            keras_model,
            Z_train,
            y_train.astype(np.float32),
            Z_val,
            y_val.astype(np.float32),
            task=task,
            epochs=config.epochs,
            batch_size=batch_size,
            learning_rate=config.learning_rate,
            clipnorm=config.clipnorm,
            patience=config.patience,
            lr_patience=config.lr_patience,
            lr_factor=config.lr_factor,
            min_lr=config.min_lr,
            seed=config.seed,
            min_delta=config.min_delta,
            sample_weight=sample_weights,
            val_sample_weight=val_weights,
            encode=None if schema.is_identity else schema.encode,
            log=log,
        )
    with stage("export", log):
        rng = np.random.default_rng(config.seed)  # the rows to_tflite would sample from all training rows
        sample = np.sort(rng.choice(len(Z_train), size=min(export.REPRESENTATIVE_ROWS, len(Z_train)), replace=False))
        representative = schema.encode(Z_train[sample])
        model_bytes = export.to_tflite(keras_model, config.quantize, representative=representative, seed=config.seed)
    with stage("evaluate", log):
        X_val = schema.encode(Z_val)
        keras_pred = mlp.predict(keras_model, X_val)
        evaluation = export.evaluate(task, y_val, keras_pred, model_bytes, X_val, classes, config.threshold)
    metric, drop = evaluation.worst_drop(task, config.max_metric_drop)
    if evaluation.refused(task, config.max_metric_drop):
        raise MetricGateError(
            f"refusing to write the bundle: TFLite ({config.quantize}) {metric} {evaluation.tflite[metric]:.4f} is "
            f"{drop:.4f} below Keras {evaluation.keras[metric]:.4f} (allowed drop {config.max_metric_drop}; "
            f"see --max-metric-drop)"
        )
    del X_val, Z_val, keras_pred

    with stage("background", log):
        background, background_weights = stats.kmeans_background(
            Z_train, config.background_k, config.seed, schema=schema
        )
    with stage("lime-stats", log):
        lime_stats = stats.lime_training_stats(Z_train, schema)
    n_train, n_val = len(train_idx), len(val_idx)
    training = {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
        "batch_size": batch_size,
        "optimizer": "adam",
        "loss": mlp.loss_for(task) if task != Task.REGRESSION else "mse (standardized target)",
        "train_rows": n_train,
        "validation_rows": n_val,
        "epochs_run": run.epochs_run,
        "best_epoch": run.best_epoch,
        "best_val_loss": run.best_val_loss,
        "final_lr": run.final_lr,
        "lr_changes": [{"epoch": e, "lr": lr} for e, lr in run.lr_changes],
        "source": source,
    }
    if weights is not None and classes:
        training["class_weights"] = {c: float(w) for c, w in zip(classes, weights, strict=True)}
    metrics: dict[str, object] = {
        "split": "validation",
        "keras": _json_numbers(evaluation.keras),
        "tflite": _json_numbers(evaluation.tflite),
        "max_abs_delta": evaluation.max_abs_delta,
        "tflite_bytes": evaluation.model_bytes,
        "gate": {
            "metrics": list(export.GATED[task]),
            "max_drop": config.max_metric_drop,
            "worst": metric,
            "drop": drop,
        },
    }
    threshold = None
    if task != Task.REGRESSION and classes:
        shares = {"train": class_shares(y_train, classes), "validation": class_shares(y_val, classes)}
        if task == Task.BINARY:
            metrics["base_rate"] = {split_name: share[classes[1]] for split_name, share in shares.items()}
            metrics["threshold"] = evaluation.threshold
            threshold = evaluation.threshold if config.threshold is not None else None
        else:
            metrics["class_shares"] = shares
        metrics["confusion_matrix"] = {
            "model": "tflite",
            "classes": list(classes),
            "rows": "actual",
            "columns": "predicted",
            "counts": evaluation.confusion.tolist(),
        }
    with stage("write", log):
        card = write_bundle(
            out,
            name=name or out.name,
            task=task,
            features=features,
            classes=list(classes) if classes else None,
            target=target,
            model=model_bytes,
            shap_background=background,
            shap_weights=background_weights,
            lime_stats=lime_stats,
            metrics=metrics,
            quantization=config.quantize,
            training=training,
            libraries=library_versions(),
            force=force,
            schema=schema,
            threshold=threshold,
        )
    bundle_bytes = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return BuildResult(
        card=card,
        path=out,
        keras_metrics=evaluation.keras,
        tflite_metrics=evaluation.tflite,
        max_abs_delta=evaluation.max_abs_delta,
        model_bytes=evaluation.model_bytes,
        bundle_bytes=bundle_bytes,
        train_rows=n_train,
        validation_rows=n_val,
        epochs_run=run.epochs_run,
        final_lr=run.final_lr,
        seconds=time.perf_counter() - started,
        lr_changes=run.lr_changes,
        threshold=threshold,
        confusion=evaluation.confusion.tolist(),
    )


def _weights_text(weights: np.ndarray, classes: Sequence[str]) -> str:
    return ", ".join(f"{c} {w:.3g}" for c, w in zip(classes, weights, strict=True))
