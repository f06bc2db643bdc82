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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from litelens.build import stats
from litelens.build.bundle import QUANTIZATIONS, BundleCard, check_output_dir, write_bundle
from litelens.build.bundle.schema import Schema
from litelens.build.data import MIN_TRAIN_ROWS, MIN_VALIDATION_ROWS, BuildInputError, check_arrays, check_columns

LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "scikit-learn", "ai-edge-litert")


@dataclass
class BuildConfig:
    """Every knob of a build; stored verbatim in ``bundle.json``'s ``training``."""

    epochs: int = 60
    batch_size: int = 64
    hidden: tuple[int, ...] = (128, 64)
    seed: int = 0
    quantize: str = "none"
    validation_split: float = 0.2
    learning_rate: float = 1e-3
    clipnorm: float = 1.0
    l2: float = 1e-4
    l1_first: float = 0.0
    patience: int = 8
    lr_patience: int = 3
    lr_factor: float = 0.5
    min_lr: float = 1e-5
    max_metric_drop: float = 0.01
    background_k: int = 10

    def validate(self) -> None:
        if self.quantize not in QUANTIZATIONS:
            raise BuildInputError(f"unknown quantization {self.quantize!r} (choose from {', '.join(QUANTIZATIONS)})")
        if not 0 < self.validation_split < 1:
            raise BuildInputError(f"validation split must be between 0 and 1, got {self.validation_split}")
        if self.epochs < 1 or self.batch_size < 1:
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
    if task != "regression":
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
) -> BuildResult:
    """Train, export, evaluate and write a bundle. ``y``: class indices into ``classes`` or regression floats.

    ``X`` holds the rows in ``schema``'s column space (one value per raw column: level codes for
    categorical columns, NaN for a missing number or date); ``feature_names`` must be its column
    names. Without a schema the columns are plain numbers (their medians and ranges are recorded).

    Raises :class:`BuildInputError` (bad data/config), :class:`BundleError` (``out`` exists without
    ``force``, or is not a folder ``force`` may replace),
    :class:`MetricGateError` (quantized model too inaccurate); nothing is written in either case.
    """
    started = time.perf_counter()
    config = config or BuildConfig()
    config.validate()
    columns = [str(f) for f in feature_names]
    if classes is None and task != "regression":
        classes = [str(c) for c in range(int(np.max(y)) + 1)]
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
    train_idx, val_idx = split(len(X), y, task, config.validation_split, config.seed, classes)
    Z_train = X[train_idx]  # column space: what the explainers' statistics describe
    encoded = schema.encode(X)  # the model's inputs
    X_train, y_train, X_val, y_val = encoded[train_idx], y[train_idx], encoded[val_idx], y[val_idx]

    from litelens.build import export
    from litelens.build import model as mlp

    mlp.seed_everything(config.seed)
    n_outputs = len(classes) if task == "multiclass" and classes else 1
    keras_model = mlp.build_mlp(
        X_train, task, n_outputs, tuple(int(h) for h in config.hidden), y_train, config.l2, config.l1_first
    )
    log(
        f"training {task} MLP {len(features)} inputs ({len(columns)} columns) -> "
        f"{' -> '.join(map(str, config.hidden))} -> {n_outputs} on "
        f"{len(X_train)} rows (validation {len(X_val)}), up to {config.epochs} epochs"
    )
    run = mlp.train(
        keras_model,
        X_train,
        y_train.astype(np.float32),
        X_val,
        y_val.astype(np.float32),
        task=task,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        clipnorm=config.clipnorm,
        patience=config.patience,
        lr_patience=config.lr_patience,
        lr_factor=config.lr_factor,
        min_lr=config.min_lr,
        seed=config.seed,
        log=log,
    )
    log(f"exporting TFLite ({config.quantize})")
    model_bytes = export.to_tflite(keras_model, config.quantize, representative=X_train, seed=config.seed)
    keras_pred = mlp.predict(keras_model, X_val)
    evaluation = export.evaluate(task, y_val, keras_pred, model_bytes, X_val)
    metric, drop = evaluation.worst_drop(task)
    if drop > config.max_metric_drop:
        raise MetricGateError(
            f"refusing to write the bundle: TFLite ({config.quantize}) {metric} {evaluation.tflite[metric]:.4f} is "
            f"{drop:.4f} below Keras {evaluation.keras[metric]:.4f} (allowed drop {config.max_metric_drop}; "
            f"see --max-metric-drop)"
        )

    background, weights = stats.kmeans_background(Z_train, config.background_k, config.seed, schema=schema)
    lime_stats = stats.lime_training_stats(Z_train, schema)
    training = {
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()},
        "optimizer": "adam",
        "loss": mlp.loss_for(task) if task != "regression" else "mse (standardized target)",
        "train_rows": len(X_train),
        "validation_rows": len(X_val),
        "epochs_run": run.epochs_run,
        "best_epoch": run.best_epoch,
        "best_val_loss": run.best_val_loss,
        "final_lr": run.final_lr,
        "lr_changes": [{"epoch": e, "lr": lr} for e, lr in run.lr_changes],
        "source": source,
    }
    metrics = {
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
    card = write_bundle(
        out,
        name=name or out.name,
        task=task,
        features=features,
        classes=list(classes) if classes else None,
        target=target,
        model=model_bytes,
        shap_background=background,
        shap_weights=weights,
        lime_stats=lime_stats,
        metrics=metrics,
        quantization=config.quantize,
        training=training,
        libraries=library_versions(),
        force=force,
        schema=schema,
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
        train_rows=len(X_train),
        validation_rows=len(X_val),
        epochs_run=run.epochs_run,
        final_lr=run.final_lr,
        seconds=time.perf_counter() - started,
        lr_changes=run.lr_changes,
    )
