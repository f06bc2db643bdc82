"""Reading and validating the training data: a CSV of numeric features plus a target column, or a demo.

Every problem is a :class:`BuildInputError` with a one-line message naming the column and/or row, raised
before any training starts (the CLI maps it to exit code 2).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litelens.build.bundle import TASKS
from litelens.build.bundle.schema import CATEGORICAL, Schema

DEMOS = ("breast_cancer", "synthetic")
MIN_TRAIN_ROWS = 10
MIN_VALIDATION_ROWS = 5
# A numeric target with at most this many distinct integer values (and few per row) is read as classes.
MAX_INFERRED_CLASSES = 20
FLOAT32_MAX = float(np.finfo(np.float32).max)


class BuildInputError(ValueError):
    """Bad training input (file, column, row, task or option): the user can fix it."""


@dataclass
class Dataset:
    """Training rows ready for the model: ``y`` holds class indices (classification) or floats (regression)."""

    X: np.ndarray
    y: np.ndarray
    features: list[str]
    target: str
    task: str
    classes: list[str] | None
    source: str
    task_inferred: bool = False


def _parse_float(cell: str) -> float | None:
    """The number a CSV cell holds, or None. Python's float() also reads ``1_000``: not a CSV number."""
    if "_" in cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return value


def _class_keys(values: Sequence[str]) -> tuple[list[Any], dict[Any, str]]:
    """Per value the key that identifies its class, and each key's label, in class order.

    All-numeric labels are classes by value ("1", "1.0" and "01" are one class, sorted as numbers,
    named "1"); otherwise by text, sorted."""
    numbers = {v: _parse_float(v) for v in set(values)}
    if all(n is not None for n in numbers.values()):
        # integers by exact value (floats merge 2**53 and 2**53 + 1), other numbers as floats
        exact = {v: _exact_integer(v, n) for v, n in numbers.items()}
        keys: list[Any] = [exact[v] for v in values]
        return keys, {k: _label_text(k) for k in sorted(set(keys))}
    return list(values), {v: v for v in sorted(set(values))}


def _exact_integer(text: str, number: float) -> int | float:
    if math.isfinite(number) and number.is_integer():
        try:
            return int(text)
        except ValueError:  # "1.0", "1e3": the float is exact enough
            return int(number)
    return number


def _label_text(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return str(int(value)) if math.isfinite(value) and value.is_integer() else repr(float(value))


def infer_task(values: Sequence[str]) -> str:
    """binary for 2 distinct values; multiclass for 3+ text labels or few distinct integers; else regression."""
    _, labels = _class_keys(values)
    distinct = list(labels)
    numbers = [_parse_float(labels[k]) for k in distinct]
    if len(distinct) <= 2:  # one value is a (degenerate) binary target: encode_target says so
        return "binary"
    if any(n is None for n in numbers):
        return "multiclass"
    if all(n is not None and n.is_integer() for n in numbers) and 3 <= len(distinct) <= MAX_INFERRED_CLASSES:
        return "multiclass" if len(distinct) * 10 <= len(values) else "regression"
    return "regression"


def encode_target(
    values: Sequence[str], task: str, target: str, lines: Sequence[int] | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """``(y, classes)``: class indices in the sorted order of the labels (numeric labels by value).

    ``lines``: each value's line in the file, for messages."""
    if task not in TASKS:
        raise BuildInputError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    if task == "regression":
        y = np.empty(len(values), dtype=np.float64)
        for i, cell in enumerate(values):
            value = _parse_float(cell)
            if value is None or not math.isfinite(value):
                raise BuildInputError(
                    f"target column {target!r}, {_row(i, lines)}: {cell!r} is not a number (task regression)"
                )
            if abs(value) > FLOAT32_MAX:
                raise BuildInputError(f"target column {target!r}, {_row(i, lines)}: {cell} is too large for float32")
            y[i] = value
        if np.ptp(y) == 0:
            raise BuildInputError(f"target column {target!r} is constant ({y[0]:g}): nothing to learn")
        return y, None
    keys, names = _class_keys(values)
    for i, value in enumerate(values):
        number = _parse_float(value)
        if number is not None and not math.isfinite(number):  # "nan", "inf": among text labels too
            raise BuildInputError(f"target column {target!r}, {_row(i, lines)}: {value!r} is not a class label")
    distinct, labels = list(names), list(names.values())
    if len(distinct) < 2:
        raise BuildInputError(f"target column {target!r} has a single class ({labels[0]!r}): nothing to learn")
    if task == "binary" and len(distinct) != 2:
        raise BuildInputError(
            f"target column {target!r} has {len(distinct)} classes but --task binary needs exactly 2 "
            f"(use --task multiclass or regression)"
        )
    if task == "multiclass" and len(distinct) < 3:
        raise BuildInputError(
            f"target column {target!r} has {len(distinct)} classes but --task multiclass needs 3 or more "
            "(use --task binary)"
        )
    index = {k: i for i, k in enumerate(distinct)}
    return np.array([index[k] for k in keys], dtype=np.int64), labels


def _row(i: int, lines: Sequence[int] | None) -> str:
    """``row N``: the file's line number of data row ``i`` when known (blank lines skipped), else i + 2."""
    return f"row {lines[i] if lines is not None else i + 2}"


def read_csv(path: str | os.PathLike[str], target: str, task: str | None = None) -> Dataset:
    """Read a header + numeric rows CSV; every feature column must be a finite number in every row."""
    file = Path(path)
    try:
        if not file.exists():
            raise BuildInputError(f"data file {file} does not exist")
        if not file.is_file():
            raise BuildInputError(f"data file {file} is not a file")
    except OSError as exc:  # e.g. a name too long
        raise BuildInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    rows: list[list[str]] = []
    lines: list[int] = []  # each kept row's line in the file (the last line of a multi-line record)
    try:
        with file.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # a blank line; a row of empty cells (",,,") is kept and reported
                rows.append(row)
                lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BuildInputError(f"cannot read {file} as CSV: {exc}") from None
    if not rows:
        raise BuildInputError(f"{file} is empty")
    header = [h.strip() for h in rows[0]]
    if any(not h for h in header):
        raise BuildInputError(f"{file}: column {header.index('') + 1} of the header has no name")
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise BuildInputError(f"{file}: column {h!r} appears twice in the header")
        seen.add(h)
    if target not in header:
        raise BuildInputError(f"{file}: no target column {target!r} (columns: {', '.join(header)})")
    body = rows[1:]
    if not body:
        raise BuildInputError(f"{file} has a header but no rows")
    t = header.index(target)
    features = [h for i, h in enumerate(header) if i != t]
    if not features:
        raise BuildInputError(f"{file}: no feature columns besides the target {target!r}")
    X = np.empty((len(body), len(features)), dtype=np.float64)
    labels: list[str] = []
    for r, row in enumerate(body):
        line = lines[r + 1]  # the line number an editor shows
        if len(row) != len(header):
            raise BuildInputError(f"{file}, row {line}: {len(row)} cells, the header has {len(header)}")
        if not any(cell.strip() for cell in row):
            raise BuildInputError(f"{file}, row {line}: every cell is empty")
        label = row[t].strip()
        if not label:
            raise BuildInputError(f"{file}, row {line}: target column {target!r} is empty")
        labels.append(label)
        c = 0
        for i, cell in enumerate(row):
            if i == t:
                continue
            text = cell.strip()
            value = _parse_float(text) if text else None
            if not text or (value is not None and not math.isfinite(value)):
                raise BuildInputError(f"{file}, row {line}, column {header[i]!r}: empty or NaN/inf cell {cell!r}")
            if value is None:
                raise BuildInputError(
                    f"{file}, row {line}, column {header[i]!r}: {cell!r} is not a number (features must be numeric)"
                )
            X[r, c] = value
            c += 1
    if np.any(np.abs(X) > FLOAT32_MAX):
        r, c = np.argwhere(np.abs(X) > FLOAT32_MAX)[0]
        raise BuildInputError(f"{file}, row {lines[r + 1]}, column {features[c]!r}: value too large for float32")
    inferred = task is None
    task = infer_task(labels) if task is None else task
    y, classes = encode_target(labels, task, target, lines[1:])
    return Dataset(X.astype(np.float32), y, features, target, task, classes, str(file), inferred)


def load_demo(name: str, *, n_rows: int = 20000, seed: int = 0) -> Dataset:
    """``breast_cancer`` (scikit-learn's copy, offline: 569 rows, 30 features) or ``synthetic``."""
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        # sklearn codes 0 = malignant, 1 = benign; the model's output is P(classes[1]).
        features = [str(f).replace(" ", "_") for f in data.feature_names]
        classes = [str(c) for c in data.target_names]
        return Dataset(
            data.data.astype(np.float32), data.target.astype(np.int64), features, "diagnosis", "binary", classes, name
        )
    if name == "synthetic":
        from litelens.build import synthetic

        X, y, features = synthetic.make_synthetic(n_rows=n_rows, seed=seed)
        return Dataset(X, y, features, synthetic.TARGET, "binary", list(synthetic.CLASSES), name)
    raise BuildInputError(f"unknown demo {name!r} (choose from {', '.join(DEMOS)})")


def check_columns(
    Z: np.ndarray, y: np.ndarray, schema: Schema, task: str, classes: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate in-memory rows in ``schema``'s column space: level codes of the column's levels (or
    its missing code), numbers finite (NaN only where the column had missing values); then ``y``."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != len(schema.columns):
        raise BuildInputError(f"rows must have shape (n, {len(schema.columns)}), got {Z.shape}")
    for j, column in enumerate(schema.columns):
        values = Z[:, j]
        if column.kind == CATEGORICAL:
            codes = np.arange(len(column.levels) + int(column.missing), dtype=np.float64)
            bad = np.flatnonzero(~np.isin(values, codes))
        else:
            bad = np.flatnonzero(np.isinf(values) | (np.isnan(values) & (not column.missing)))
        if len(bad):
            raise BuildInputError(f"row {int(bad[0])}, column {column.name!r}: {values[bad[0]]!r} is not a valid value")
    filled = np.nan_to_num(Z, nan=0.0)
    _, y = check_arrays(filled, y, [f"c{j}" for j in range(Z.shape[1])], task, classes)
    return Z, y


def check_arrays(
    X: np.ndarray, y: np.ndarray, features: Sequence[str], task: str, classes: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate in-memory training data (the Python API's entry): shapes, finiteness, labels vs task."""
    if task not in TASKS:
        raise BuildInputError(f"unknown task {task!r} (choose from {', '.join(TASKS)})")
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != len(features):
        raise BuildInputError(f"X must have shape (n, {len(features)}), got {X.shape}")
    if len(set(features)) != len(features):
        raise BuildInputError("feature names must be unique")
    if not np.issubdtype(X.dtype, np.number):
        raise BuildInputError(f"X must be numeric, got dtype {X.dtype}")
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        r, c = bad[0]
        raise BuildInputError(f"row {r}, column {features[c]!r}: NaN or infinite value")
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise BuildInputError(f"y must have shape ({len(X)},), got {y.shape}")
    if task == "regression":
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise BuildInputError(f"target row {int(np.argwhere(~np.isfinite(y))[0][0])}: NaN or infinite value")
        if np.any(np.abs(y) > FLOAT32_MAX):
            raise BuildInputError(f"target row {int(np.argmax(np.abs(y) > FLOAT32_MAX))}: too large for float32")
        return X.astype(np.float32), y
    n_classes = len(classes) if classes else int(y.max()) + 1
    if not np.all(np.equal(np.mod(y, 1), 0)) or y.min() < 0 or y.max() >= n_classes:
        raise BuildInputError(f"y must hold class indices 0..{n_classes - 1} for task {task}")
    present = len(np.unique(y))
    if present < 2:
        raise BuildInputError("the target has a single class: nothing to learn")
    if task == "binary" and n_classes != 2:
        raise BuildInputError(f"task binary needs exactly 2 classes, got {n_classes}")
    if task == "multiclass" and n_classes < 3:
        raise BuildInputError(f"task multiclass needs 3 or more classes, got {n_classes}")
    return X.astype(np.float32), y.astype(np.int64)
