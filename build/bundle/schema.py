"""The column schema: what a raw row looks like, and the one encoding from raw values to model inputs.

Inferred by the build, stored in the card (``bundle.json``'s ``schema``), read by predict and explain:
the encoding is defined here once, in numpy and plain Python (both functions package this module).

Kinds of column (``Column.kind``):

- ``numeric``: a JSON number. Missing (``null``) is imputed with the training median; when the
  training data had missing values the model has one more input, the column's missing indicator.
- ``categorical``: a string from the training ``levels`` (booleans spelled any common way, and
  integer codes, are categorical too: ``boolean`` columns map true/false, yes/no, y/n, t/f, 1/0 to
  their two levels). Missing is a level of its own when training had missing values. A level the
  model never saw is *unknown*: every one-hot input 0, never an error.
- ``date``: an ISO 8601 date or date-time string (``2024-03-01``, ``2024-03-01T12:30:00``). The
  model sees its year, month and day of week; missing is imputed with the training median date.

The **column space** is what the explainers perturb: one float64 per column (``Schema.names``),
``Z`` of shape (n, n_columns). Numeric: the value (NaN = missing). Categorical: the level's index
``0 .. L-1``, ``L`` (``missing_code``) for missing, ``-1`` (``UNKNOWN``) for a level not seen in
training. Date: days since 1970-01-01 (NaN = missing). ``Schema.encode(Z)`` is the model's input
``X`` (n, n_inputs) float32; ``Schema.groups`` says which inputs each column feeds, so attributions
fold back to columns.

``Schema.read_values(j, values)`` turns one column of raw JSON values into column space with the
per-row warnings (unknown level, outside the training range, imputed missing value); a value of
the wrong JSON type raises ``ValueKindError``.

Reading a raw value and encoding it are two halves of one contract that build, predict and explain
must share exactly, so both stay in this module; how a value is spelled (booleans in words, ISO dates,
numbers as level names, days since 1970 and back) is ``values.py``, which both halves read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litelens.build.bundle.errors import LitelensError
from litelens.build.bundle.values import FALSE_WORDS, TRUE_WORDS, date_days, date_parts, days_to_iso, number_text

NUMERIC = "numeric"
CATEGORICAL = "categorical"
DATE = "date"
KINDS = (NUMERIC, CATEGORICAL, DATE)
UNKNOWN = -1.0  # column-space code of a categorical level the model never saw
DATE_PARTS = ("year", "month", "day_of_week")
MISSING_LABEL = "(missing)"
FLOAT32_MAX = float(np.finfo(np.float32).max)

# Warning codes (per row, per column, in the predict and explain answers).
W_UNKNOWN_CATEGORY = "unknown_category"
W_OUT_OF_RANGE = "out_of_range"
W_IMPUTED = "imputed"
RowWarning: TypeAlias = tuple[int, str, str]  # (row, warning code, message) of one value read


class SchemaError(LitelensError, ValueError):
    """A schema (in a card) that cannot be right."""


class ValueKindError(LitelensError, ValueError):
    """A raw value of the wrong JSON type for its column: ``row``, ``column``, ``expected``, ``got``."""

    def __init__(self, row: int, column: str, expected: str, got: Any) -> None:
        self.row, self.column, self.expected, self.got = row, column, expected, got
        super().__init__(f"row {row}, column {column!r}: expected {expected}")


@dataclass(frozen=True)
class Column:
    """One raw column the model takes. ``missing``: the training data had missing values in it."""

    name: str
    kind: str
    missing: bool = False
    # numeric and date: the training median (the imputed value), min and max (in column space)
    median: float | None = None
    min: float | None = None
    max: float | None = None
    integer: bool = False  # numeric: every training value was a whole number
    # categorical
    levels: tuple[str, ...] = ()
    boolean: bool = False  # the two levels mean false and true (levels[0] false, levels[1] true)

    @property
    def missing_code(self) -> float:
        """The column-space code of a missing categorical value (its own level when ``missing``)."""
        return float(len(self.levels))

    def input_names(self) -> list[str]:
        """The names of the model inputs this column feeds, in order."""
        if self.kind == NUMERIC:
            names = [self.name]
        elif self.kind == DATE:
            names = [f"{self.name}:{part}" for part in DATE_PARTS]
        else:
            names = [f"{self.name}={level}" for level in self.levels]
        if self.missing:
            names.append(f"{self.name}={MISSING_LABEL}" if self.kind == CATEGORICAL else f"{self.name}:missing")
        return names

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "missing": self.missing}
        if self.kind == CATEGORICAL:
            data["levels"] = list(self.levels)
            if self.boolean:
                data["boolean"] = True
        else:
            data |= {"median": self.median, "min": self.min, "max": self.max}
            if self.kind == NUMERIC:
                data["integer"] = self.integer
        return data

    @classmethod
    def from_json(cls, data: Any) -> Column:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str) or not data["name"]:
            raise SchemaError("every schema column needs a name")
        name, kind = data["name"], data.get("kind")
        if kind not in KINDS:
            raise SchemaError(f"column {name!r}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
        missing = data.get("missing", False)
        if not isinstance(missing, bool):
            raise SchemaError(f"column {name!r}: missing must be true or false")
        if kind == CATEGORICAL:
            levels = data.get("levels")
            if not isinstance(levels, list) or not levels or not all(isinstance(v, str) for v in levels):
                raise SchemaError(f"column {name!r}: levels must be a non-empty list of strings")
            if len(set(levels)) != len(levels):
                raise SchemaError(f"column {name!r}: levels must be unique")
            boolean = data.get("boolean", False)
            if boolean is not False and (boolean is not True or len(levels) != 2):
                raise SchemaError(f"column {name!r}: a boolean column has exactly two levels")
            return cls(name, kind, missing, levels=tuple(levels), boolean=boolean)
        numbers: dict[str, float] = {}
        for key in ("median", "min", "max"):
            value = data.get(key)
            if (type(value) is not int and type(value) is not float) or not math.isfinite(value):
                raise SchemaError(f"column {name!r}: {key} must be a finite number")
            numbers[key] = float(value)
        if not numbers["min"] <= numbers["median"] <= numbers["max"]:
            raise SchemaError(f"column {name!r}: min <= median <= max does not hold")
        integer = data.get("integer", False)
        if not isinstance(integer, bool):
            raise SchemaError(f"column {name!r}: integer must be true or false")
        return cls(
            name,
            kind,
            missing,
            median=numbers["median"],
            min=numbers["min"],
            max=numbers["max"],
            integer=integer and kind == NUMERIC,
        )


@dataclass(frozen=True)
class Excluded:
    """A column of the training data the model does not take, and why (ID-like, constant, empty, dropped)."""

    name: str
    reason: str


@dataclass(frozen=True)
class Schema:
    """The model's raw columns in order, the excluded ones, and the encoding between them."""

    columns: tuple[Column, ...]
    excluded: tuple[Excluded, ...] = ()
    _lookups: tuple[dict[str, int] | None, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if not names or len(set(names)) != len(names):
            raise SchemaError("the schema needs at least one column, each named once")
        inputs = self.input_names()
        if len(set(inputs)) != len(inputs):
            raise SchemaError("two columns encode to inputs of the same name")
        object.__setattr__(self, "_lookups", tuple(_level_lookup(c) for c in self.columns))

    # --- shape -----------------------------------------------------------------------------------

    @classmethod
    def numeric(cls, names: Sequence[str]) -> Schema:
        """The schema of a model that takes plain numbers (a bundle written before schemas, or arrays)."""
        return cls(tuple(Column(str(n), NUMERIC) for n in names))

    # The shape of a schema is asked for on every request (and every explainer batch): computed once.
    @cached_property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @cached_property
    def accepted_keys(self) -> frozenset[str]:
        """The keys a raw row may hold: every column's, and an excluded column's (read and ignored)."""
        return frozenset(self.names) | {e.name for e in self.excluded}

    def input_names(self) -> list[str]:
        return [name for c in self.columns for name in c.input_names()]

    @cached_property
    def n_inputs(self) -> int:
        return sum(len(c.input_names()) for c in self.columns)

    @cached_property
    def groups(self) -> list[list[int]]:
        """Per column, the indices of the model inputs it feeds."""
        out, start = [], 0
        for c in self.columns:
            width = len(c.input_names())
            out.append(list(range(start, start + width)))
            start += width
        return out

    @cached_property
    def is_identity(self) -> bool:
        """Whether the model's inputs are the columns themselves (numbers, no missing indicators)."""
        return all(c.kind == NUMERIC and not c.missing for c in self.columns)

    @cached_property
    def ranges(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per column the training (min, max) as arrays, NaN where none is recorded (computed once)."""
        low = np.array([math.nan if c.min is None else c.min for c in self.columns])
        high = np.array([math.nan if c.max is None else c.max for c in self.columns])
        return low, high

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": [c.to_json() for c in self.columns],
            "excluded": [{"name": e.name, "reason": e.reason} for e in self.excluded],
        }

    @classmethod
    def from_json(cls, data: Any) -> Schema:
        if not isinstance(data, Mapping) or not isinstance(data.get("columns"), list):
            raise SchemaError("the schema must be an object with a list of columns")
        excluded = data.get("excluded", [])
        if not isinstance(excluded, list) or not all(
            isinstance(e, Mapping) and isinstance(e.get("name"), str) and isinstance(e.get("reason"), str)
            for e in excluded
        ):
            raise SchemaError("schema.excluded must list {name, reason} objects")
        return cls(
            tuple(Column.from_json(c) for c in data["columns"]),
            tuple(Excluded(e["name"], e["reason"]) for e in excluded),
        )

    # --- column space -> model inputs ----------------------------------------------------------------

    def encode(self, Z: ArrayLike) -> NDArray[np.float32]:
        """Column-space rows (n, n_columns) -> the model's inputs (n, n_inputs) float32."""
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != len(self.columns):
            raise ValueError(f"expected column-space rows of shape (n, {len(self.columns)}), got {Z.shape}")
        if self.is_identity:
            return Z.astype(np.float32)
        X = np.zeros((len(Z), self.n_inputs), dtype=np.float32)
        for column, inputs, z in zip(self.columns, self.groups, Z.T, strict=True):
            if column.kind == CATEGORICAL:
                slots = len(column.levels) + int(column.missing)
                X[:, inputs] = z[:, None] == np.arange(slots)  # unknown (-1) and a foreign missing: all 0
                continue
            # Column.from_json requires a median here; a schema without medians (Schema.numeric) is cast above.
            assert column.median is not None
            missing = np.isnan(z)
            value = np.where(missing, column.median, z)
            if column.kind == NUMERIC:
                X[:, inputs[0]] = value
            else:
                X[:, inputs[:3]] = date_parts(value)
            if column.missing:
                X[:, inputs[-1]] = missing
        return X

    def impute(self, Z: ArrayLike) -> NDArray[np.float64]:
        """``Z`` with missing numeric and date values replaced by the training median."""
        Z = np.array(Z, dtype=np.float64)
        for j, column in enumerate(self.columns):
            if column.kind != CATEGORICAL:
                Z[np.isnan(Z[:, j]), j] = column.median
        return Z

    # --- raw values -> column space ------------------------------------------------------------------

    def read_values(self, j: int, values: Sequence[Any]) -> tuple[NDArray[np.float64], list[RowWarning]]:
        """Column ``j``'s raw JSON values -> (column-space float64 values, warnings).

        Warnings are ``(row, code, message)``. A value of the wrong kind raises ``ValueKindError``
        (the first one, by row)."""
        column = self.columns[j]
        if column.kind == NUMERIC:
            return self._read_numbers(column, values)
        if column.kind == DATE:
            return self._read_dates(column, values)
        return self._read_levels(column, self._lookups[j] or {}, values)

    def _read_numbers(self, column: Column, values: Sequence[Any]) -> tuple[NDArray[np.float64], list[RowWarning]]:
        warnings: list[RowWarning] = []
        out = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values):
            if value is None:
                if column.median is None:  # a card written before schemas: nothing to impute with
                    raise ValueKindError(i, column.name, "a number", value)
                out[i] = math.nan
                warnings.append((i, W_IMPUTED, f"{column.name} is missing: the training median {column.median:g} used"))
                continue
            if type(value) not in (int, float):
                raise ValueKindError(i, column.name, "a number (or null)", value)
            number = float(value) if abs(value) <= FLOAT32_MAX else math.inf
            if not math.isfinite(number):
                raise ValueKindError(i, column.name, "a finite number within the float32 range", value)
            out[i] = number
        if column.min is not None and column.max is not None:
            outside = np.flatnonzero((out < column.min) | (out > column.max))
            for i in outside.tolist():
                warnings.append(
                    (i, W_OUT_OF_RANGE, f"{column.name} = {out[i]:g} is outside the training range "
                     f"[{column.min:g}, {column.max:g}]")
                )  # fmt: skip
        return out, warnings

    def _read_dates(self, column: Column, values: Sequence[Any]) -> tuple[NDArray[np.float64], list[RowWarning]]:
        warnings: list[RowWarning] = []
        out = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values):
            if value is None:
                out[i] = math.nan
                median = days_to_iso(column.median) if column.median is not None else "?"
                warnings.append((i, W_IMPUTED, f"{column.name} is missing: the training median date {median} used"))
                continue
            days = date_days(value) if isinstance(value, str) else None
            if days is None:
                raise ValueKindError(i, column.name, "an ISO 8601 date string such as 2024-03-01 (or null)", value)
            out[i] = days
            if column.min is not None and column.max is not None and not column.min <= days <= column.max:
                warnings.append(
                    (i, W_OUT_OF_RANGE, f"{column.name} = {days_to_iso(days)} is outside the training range "
                     f"[{days_to_iso(column.min)}, {days_to_iso(column.max)}]")
                )  # fmt: skip
        return out, warnings

    def _read_levels(
        self, column: Column, lookup: Mapping[str, int], values: Sequence[Any]
    ) -> tuple[NDArray[np.float64], list[RowWarning]]:
        warnings: list[RowWarning] = []
        out = np.empty(len(values), dtype=np.float64)
        for i, value in enumerate(values):
            if value is None:
                if column.missing:
                    out[i] = column.missing_code
                else:
                    out[i] = UNKNOWN
                    warnings.append(
                        (i, W_IMPUTED, f"{column.name} is missing, which training never saw: read as an unknown level")
                    )
                continue
            key = _level_key(column, value)
            if key is None:
                raise ValueKindError(i, column.name, "a string from the column's levels (or null)", value)
            code = lookup.get(key)
            if code is None:
                code = lookup.get(key.strip().lower())
            if code is None:
                out[i] = UNKNOWN
                shown = key if len(key) <= 40 else key[:37] + "..."
                warnings.append((i, W_UNKNOWN_CATEGORY, f"{column.name} = {shown!r} was not seen in training"))
                continue
            out[i] = code
        return out, warnings

    def display(self, j: int, z: float) -> Any:
        """A column-space value as a person reads it: the level, the ISO date, or the number."""
        column = self.columns[j]
        if column.kind == CATEGORICAL:
            if z == UNKNOWN:
                return "(unknown)"
            if z == column.missing_code:
                return None
            return column.levels[int(z)]
        if math.isnan(z):
            return None
        return days_to_iso(z) if column.kind == DATE else z


def _level_key(column: Column, value: Any) -> str | None:
    """The text a raw value is looked up by among the column's levels; None for a wrong JSON type."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        if column.boolean:
            return column.levels[int(value)]
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if column.boolean and value in (0, 1):
            return column.levels[int(value)]
        try:
            return number_text(float(value))
        except OverflowError:  # an integer beyond float64: no level of any column
            return None
    return None


def _level_lookup(column: Column) -> dict[str, int] | None:
    """Level text -> code, exact and case-folded; a boolean column also knows every spelling of its two values."""
    if column.kind != CATEGORICAL:
        return None
    lookup: dict[str, int] = {}
    for code, level in enumerate(column.levels):
        lookup.setdefault(level, code)
    for code, level in enumerate(column.levels):
        lookup.setdefault(level.strip().lower(), code)
    if column.boolean:
        for word in FALSE_WORDS:
            lookup.setdefault(word, 0)
        for word in TRUE_WORDS:
            lookup.setdefault(word, 1)
    return lookup
