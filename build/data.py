"""The training data: a CSV (read by ``build.table``, its columns typed by ``build.columns``) or a demo;
the target's task and classes; validation of in-memory rows for the Python API.

Every problem is a one-line message naming the column and/or row, raised before any training starts
(the CLI maps it to exit code 2). ``read_csv`` reports every problem of a file at once
(:class:`BuildProblems`, one line each) and keeps the notes of what it decided (``Dataset.notes``).

Target rules: rows whose target cell is missing are dropped (a note says how many). Binary classes
are ordered like every classification target (numbers by value, text alphabetically) and the model
outputs P(classes[1]): by default the label that sorts second is the positive class; ``positive_class``
chooses it (it moves to classes[1]).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from litelens.build.bundle import Task
from litelens.build.bundle.schema import CATEGORICAL, UNKNOWN, Schema
from litelens.build.columns import Overrides, infer_schema, parse_numbers
from litelens.build.problems import BuildInputError, Problems
from litelens.build.table import read_table

DEMOS = ("breast_cancer", "synthetic")
MIN_TRAIN_ROWS = 10
MIN_VALIDATION_ROWS = 5
# A numeric target with at most this many distinct integer values (and few per row) is read as classes.
MAX_INFERRED_CLASSES = 20
FLOAT32_MAX = float(np.finfo(np.float32).max)


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
    schema: Schema | None = None  # a CSV's columns; X then holds column-space rows (float64)
    notes: list[str] = field(default_factory=list)


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
        exact = {v: _exact_integer(v, n) for v, n in numbers.items() if n is not None}  # every n, as checked
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


def infer_task(values: Sequence[str], n_rows: int | None = None) -> str:
    """binary for 2 distinct values; multiclass for 3+ text labels or few distinct integers; else regression.

    ``values``: the labels, or with ``n_rows`` the distinct labels of that many rows."""
    _, labels = _class_keys(list(set(values)))
    n_rows = len(values) if n_rows is None else n_rows
    distinct = list(labels)
    numbers = [_parse_float(labels[k]) for k in distinct]
    if len(distinct) <= 2:  # one value is a (degenerate) binary target: encode_target says so
        return Task.BINARY
    if any(n is None for n in numbers):
        return Task.MULTICLASS
    if all(n is not None and n.is_integer() for n in numbers) and 3 <= len(distinct) <= MAX_INFERRED_CLASSES:
        return Task.MULTICLASS if len(distinct) * 10 <= n_rows else Task.REGRESSION
    return Task.REGRESSION


Lines = Callable[[np.ndarray], list[int]]


def encode_target(
    values: Sequence[str] | pa.ChunkedArray,
    task: str,
    target: str,
    lines: Sequence[int] | Lines | None = None,
    decimal: str = ".",
) -> tuple[np.ndarray, list[str] | None]:
    """``(y, classes)``: class indices in the sorted order of the labels (numeric labels by value).

    ``values``: the target's cells, none missing; ``lines``: each value's line in the file, for messages
    (a list, or a function of row indices). Vectorised: Python touches each distinct label, not each row."""
    if task not in tuple(Task):
        raise BuildInputError(f"unknown task {task!r} (choose from {', '.join(Task)})")
    cells = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([pa.array(list(values), pa.string())])
    where = _lines_function(lines)
    if task == Task.REGRESSION:
        y, bad = parse_numbers(cells, decimal)
        bad |= np.isnan(y)
        if bad.any():
            row = int(np.argmax(bad))
            raise BuildInputError(
                f"target column {target!r}, row {where(np.array([row]))[0]}: {cells[row].as_py()!r} is not a number "
                "(task regression)"
            )
        if np.any(np.abs(y) > FLOAT32_MAX):
            row = int(np.argmax(np.abs(y) > FLOAT32_MAX))
            line = where(np.array([row]))[0]
            raise BuildInputError(
                f"target column {target!r}, row {line}: {cells[row].as_py()} is too large for float32"
            )
        if np.ptp(y) == 0:
            raise BuildInputError(f"target column {target!r} is constant ({y[0]:g}): nothing to learn")
        return y, None
    encoded = pc.dictionary_encode(cells.combine_chunks())
    distinct = [str(v) for v in encoded.dictionary.to_pylist()]
    inverse = encoded.indices.to_numpy(zero_copy_only=False)
    for k, value in enumerate(distinct):
        number = _parse_float(value)
        if number is not None and not math.isfinite(number):  # "inf": among text labels too
            row = int(np.argmax(inverse == k))
            raise BuildInputError(
                f"target column {target!r}, row {where(np.array([row]))[0]}: {value!r} is not a class label"
            )
    keys, names = _class_keys(distinct)
    order, labels = list(names), list(names.values())
    if len(order) < 2:
        raise BuildInputError(f"target column {target!r} has a single class ({labels[0]!r}): nothing to learn")
    if task == Task.BINARY and len(order) != 2:
        raise BuildInputError(
            f"target column {target!r} has {len(order)} classes but --task binary needs exactly 2 "
            f"(use --task multiclass or regression)"
        )
    if task == Task.MULTICLASS and len(order) < 3:
        raise BuildInputError(
            f"target column {target!r} has {len(order)} classes but --task multiclass needs 3 or more "
            "(use --task binary)"
        )
    index = {k: i for i, k in enumerate(order)}
    per_distinct = np.array([index[k] for k in keys], dtype=np.int64)
    return per_distinct[inverse], labels


def choose_positive(
    y: np.ndarray, classes: list[str] | None, task: str, positive: str | None, target: str
) -> tuple[np.ndarray, list[str] | None]:
    """Binary: ``positive`` moves to classes[1] (the class whose probability the model outputs)."""
    if positive is None:
        return y, classes
    if task != Task.BINARY or not classes:
        raise BuildInputError(f"--positive-class is for a binary target; {target!r} is {task}")
    if positive not in classes:
        raise BuildInputError(
            f"--positive-class {positive!r} is not a class of {target!r} (classes: {', '.join(classes)})"
        )
    if classes[1] == positive:
        return y, classes
    return 1 - y, [classes[1], classes[0]]


def _lines_function(lines: Sequence[int] | Lines | None) -> Lines:
    if lines is None:
        return lambda rows: [int(r) + 2 for r in rows]
    if callable(lines):
        return lines
    return lambda rows: [lines[int(r)] for r in rows]


def read_csv(
    path: str | os.PathLike[str],
    target: str,
    task: str | None = None,
    *,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    overrides: Overrides | None = None,
    positive_class: str | None = None,
) -> Dataset:
    """Read a CSV as it comes (``build.table``), type its columns (``build.columns``), encode its target.

    ``Dataset.X`` holds the rows in ``Dataset.schema``'s column space. Raises :class:`BuildProblems`
    listing every fatal problem of the file (or :class:`BuildInputError` when it cannot be read)."""
    if task is not None and task not in tuple(Task):
        raise BuildInputError(f"unknown task {task!r} (choose from {', '.join(Task)})")
    problems = Problems()
    overrides = overrides or Overrides()
    table = read_table(path, problems, delimiter=delimiter, decimal=decimal, encoding=encoding, keep_text=[target])
    file = table.path
    if table.n_rows == 0:
        problems.error(f"{file} has a header but no rows")
        problems.check()
    features = [name for name in dict.fromkeys(table.names) if name != target]  # a name twice is reported once
    if not features:
        problems.error(f"{file}: no feature columns besides the target {target!r}")
    overrides.check(table.names, target, problems)
    keep: np.ndarray | None = None
    where: Lines = table.lines
    inferred, y, classes = task is None, None, None
    if target not in table.names:
        problems.error(f"{file}: no target column {target!r} (columns: {', '.join(table.names)})")
    else:
        labels = table.column(target)
        missing = labels.is_null().to_numpy(zero_copy_only=False)
        if missing.all():
            problems.error(f"{file}: target column {target!r} is empty in every row")
        else:
            if missing.any():
                keep = ~missing
                rows = np.flatnonzero(keep)
                first = table.lines(np.flatnonzero(missing)[:3])
                problems.note(
                    f"{int(missing.sum())} rows have no {target!r} value and are left out "
                    f"(row {', '.join(map(str, first))}{' ...' if missing.sum() > 3 else ''})"
                )
                labels = labels.filter(pa.array(keep))
                where = lambda r: table.lines(rows[r])  # noqa: E731 - rows of the kept data -> file lines
            try:
                distinct = pc.unique(labels).to_pylist()
                task = infer_task([str(v) for v in distinct], len(labels)) if task is None else task
                y, classes = encode_target(labels, task, target, where, table.dialect.decimal)
                y, classes = choose_positive(y, classes, task, positive_class, target)
            except BuildInputError as exc:
                problems.error(str(exc))
    mask = None if keep is None else pa.array(keep)
    columns = [table.column(name) if mask is None else table.column(name).filter(mask) for name in features]
    table.columns = []  # only the feature columns' strings are held from here on, each until it is read
    schema, Z = infer_schema(features, columns, overrides, problems, where, table.dialect.decimal)  # frees them
    problems.check()
    assert schema is not None and Z is not None and y is not None and task is not None
    return Dataset(Z, y, schema.names, target, task, classes, str(file), inferred, schema=schema, notes=problems.notes)


def load_demo(name: str, *, n_rows: int = 20000, seed: int = 0) -> Dataset:
    """``breast_cancer`` (scikit-learn's copy, offline: 569 rows, 30 features) or ``synthetic``."""
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        # sklearn codes 0 = malignant, 1 = benign; the model's output is P(classes[1]).
        features = [str(f).replace(" ", "_") for f in data.feature_names]
        classes = [str(c) for c in data.target_names]
        return Dataset(
            data.data.astype(np.float32),
            data.target.astype(np.int64),
            features,
            "diagnosis",
            Task.BINARY,
            classes,
            name,
        )
    if name == "synthetic":
        from litelens.build import synthetic

        X, y, features = synthetic.make_synthetic(n_rows=n_rows, seed=seed)
        return Dataset(X, y, features, synthetic.TARGET, Task.BINARY, list(synthetic.CLASSES), name)
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
            # a level code, the missing code, or unknown (a level rarer than the kept ones)
            codes = np.arange(UNKNOWN, len(column.levels) + int(column.missing), dtype=np.float64)
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
    if task not in tuple(Task):
        raise BuildInputError(f"unknown task {task!r} (choose from {', '.join(Task)})")
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
    if task == Task.REGRESSION:
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
    if task == Task.BINARY and n_classes != 2:
        raise BuildInputError(f"task binary needs exactly 2 classes, got {n_classes}")
    if task == Task.MULTICLASS and n_classes < 3:
        raise BuildInputError(f"task multiclass needs 3 or more classes, got {n_classes}")
    return X.astype(np.float32), y.astype(np.int64)
