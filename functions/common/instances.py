"""Request bodies to batches of raw rows (column space and model inputs). No event knowledge.

``parse_instances(body, schema, max_rows, **request.value_hints()) -> Batch``
    Reads ``{"instances": [...]}`` (each a list in ``schema.names`` order, or an object keyed by the
    column names: every column required, ``null`` allowed, an excluded column's key ignored) or
    ``{"inputs": {column: [values...]}}``. Values are read per column kind by the bundle's schema
    (``Schema.read_values``: strings, booleans, numbers, null). ``Batch.Z`` is the column-space rows
    (n, n_columns) float64, ``Batch.X`` the model inputs ``schema.encode(Z)`` (n, n_inputs) float32,
    ``Batch.warnings`` one list of ``{"column", "code", "message"}`` per row (unknown category, out of
    range, imputed). Only those two keys are read: other top-level keys belong to the caller (explain
    reads ``"parameters"``); a caller that wants strictness calls ``reject_unknown_fields(body,
    allowed)``. Every mistake is a ``ClientError`` naming the instance index, the column and, for a
    value, the kind expected.
``REQUEST_FIELDS``
    The top-level keys a litelens request body may hold, predict's and explain's alike (the data
    plane's check, the client's request files).

Model outputs become answers in ``predictions``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litelens.build.bundle.schema import FLOAT32_MAX, NUMERIC, RowWarning, Schema, ValueKindError
from litelens.functions.common.errors import (
    E_AMBIGUOUS_INPUT,
    E_COLUMN_LENGTH_MISMATCH,
    E_EMPTY_INSTANCES,
    E_INVALID_INSTANCE,
    E_INVALID_INSTANCES,
    E_INVALID_VALUE,
    E_MISSING_FEATURE,
    E_MISSING_INSTANCES,
    E_NON_FINITE_VALUE,
    E_TOO_MANY_INSTANCES,
    E_UNKNOWN_FEATURE,
    E_UNKNOWN_FIELD,
    E_WRONG_FEATURE_COUNT,
    ClientError,
    bad_request,
    json_type,
    short_value,
)

# "parameters" is the explain function's, accepted by predict too so one request body works for both routes.
REQUEST_FIELDS = ("instances", "inputs", "parameters")
_NUMBER_TYPES = frozenset((int, float))  # exact types: bool is a subclass of int and is rejected


@dataclass(frozen=True)
class Batch:
    """A request's rows: column space ``Z`` (n, n_columns) float64 (what the explainers perturb), the
    model inputs ``X = schema.encode(Z)`` (n, n_inputs) float32, and per row its warnings. For a plain
    numeric schema (``is_identity``) a missing value is imputed in ``Z`` already."""

    Z: NDArray[np.float64]
    X: NDArray[np.float32]
    warnings: list[list[dict[str, str]]]

    def __len__(self) -> int:
        return len(self.Z)


def _where(index: int, column: str, columnar: bool = False) -> str:
    return f"inputs[{column!r}][{index}]" if columnar else f"instance {index}, column {column!r}"


def _value_error(where: str, expected: str, value: Any, numeric: bool) -> ClientError:
    """The 400 for one value that cannot be read: in a numeric column a number that is not a usable
    one (NaN, infinite, beyond float32) is ``non_finite_value``; any other wrong value ``invalid_value``."""
    if numeric and type(value) in _NUMBER_TYPES:
        if isinstance(value, float) and not math.isfinite(value):
            return bad_request(E_NON_FINITE_VALUE, f"{where} must be finite, got {value}")
        return bad_request(E_NON_FINITE_VALUE, f"{where} = {short_value(value)} is outside the float32 range")
    return bad_request(E_INVALID_VALUE, f"{where} must be {expected}, got {json_type(value)}: {short_value(value)}")


def _fast_columns(
    rows: Sequence[Sequence[Any]], n_columns: int, booleans_possible: bool = True, strings_possible: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float32]] | None:
    """The float64 matrix and its float32 cast when every row is a list of n_columns finite numbers
    (within float32's range), else None (the general path). Only for a schema whose columns are plain
    numbers, where the cast is the encoding.

    numpy would silently turn booleans into 0/1 and numeric strings into numbers, so by default the
    value types are checked first: one scan over every value (a 1000x100 request: scan + convert
    4.3 ms). When the body text rules out booleans and strings, ``np.fromiter`` over the values is just
    as strict (1.8 ms): what is left to go wrong (null becomes NaN, caught below; a list, object or int
    beyond float64 raises) falls to the general path. numpy's own type inference (``np.array(rows)``)
    is never used: it sizes a string array by the longest string, so one 100 kB string in a 250 kB
    body would cost gigabytes.
    """
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {n_columns}:
        return None
    try:
        if not (booleans_possible or strings_possible):
            values = itertools.chain.from_iterable(rows)
            Z = np.fromiter(values, dtype=np.float64, count=len(rows) * n_columns).reshape(-1, n_columns)
        else:
            if not set(map(type, itertools.chain.from_iterable(rows))) <= _NUMBER_TYPES:
                return None
            Z = np.array(rows, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):  # ints beyond float64, nested lists or objects
        return None
    with np.errstate(over="ignore"):  # beyond float32's range -> inf
        X = Z.astype(np.float32)
    # A number a hair above float32's largest rounds down to it: finite in X, yet outside the range
    # the schema's reader accepts (its 400 comes from the general path, never a 500 from the warnings).
    if not np.isfinite(X).all() or np.abs(Z).max() > FLOAT32_MAX:
        return None
    return Z, X


def _range_warnings(schema: Schema, Z: NDArray[np.float64]) -> list[tuple[int, int, str, str]]:
    """``(row, column index, code, message)`` for the numbers of ``Z`` (plain numeric columns, none
    missing) outside their training range: one vectorised test, then the schema's own reader on the
    (few) values it flags, so the messages are the schema's."""
    low, high = schema.ranges
    outside = np.less(Z, low) | np.greater(Z, high)
    if not outside.any():
        return []
    found = []
    for j in np.flatnonzero(outside.any(axis=0)).tolist():
        rows = np.flatnonzero(outside[:, j])
        _, column_warnings = schema.read_values(j, Z[rows, j].tolist())
        found += [(int(rows[k]), j, code, message) for k, code, message in column_warnings]
    found.sort(key=lambda w: w[0])
    return found


class _BadValue(Exception):
    """The first wrong value of one column: its row and the 400 that names it."""

    def __init__(self, row: int, error: ClientError) -> None:
        super().__init__(error.message)
        self.row, self.error = row, error


def _read_column(
    schema: Schema, j: int, values: Sequence[Any], columnar: bool
) -> tuple[NDArray[np.float64], list[RowWarning]]:
    """One column's raw values in column space, with its warnings; ``_BadValue`` for its first wrong value."""
    column = schema.columns[j]
    try:
        return schema.read_values(j, values)
    except ValueKindError as exc:
        where = _where(exc.row, column.name, columnar)
        raise _BadValue(exc.row, _value_error(where, exc.expected, exc.got, column.kind == NUMERIC)) from None


def _batch(
    schema: Schema,
    Z: NDArray[np.float64],
    found: Sequence[tuple[int, int, str, str]],
    X: NDArray[np.float32] | None = None,
) -> Batch:
    warnings: list[list[dict[str, str]]] = [[] for _ in range(len(Z))]
    columns = schema.columns
    for i, j, code, message in found:
        warnings[i].append({"column": columns[j].name, "code": code, "message": message})
    if X is not None:  # the fast path's cast: a plain numeric schema's encoding
        return Batch(Z, X, warnings)
    if schema.is_identity and np.isnan(Z).any():
        # Plain numbers with no missing indicator: the model cannot tell a missing value from the
        # median (encode is a cast), so the row the explainers see is the imputed one it answered.
        Z = schema.impute(Z)
    return Batch(Z, schema.encode(Z), warnings)


def _read_columns(schema: Schema, columns: Sequence[Sequence[Any]], n: int, columnar: bool) -> Batch:
    """Raw values, one sequence per schema column, into a batch (the general path: any kind of column)."""
    Z = np.empty((n, len(schema.columns)), dtype=np.float64)
    found, bad = [], []
    for j, values in enumerate(columns):
        try:
            Z[:, j], column_warnings = _read_column(schema, j, values, columnar)
        except _BadValue as exc:
            bad.append((exc.row, j, exc.error))
            continue
        found += [(i, j, code, message) for i, code, message in column_warnings]
    if bad:  # the first wrong value in reading order: by row, then by column
        raise min(bad, key=lambda b: b[:2])[2]
    found.sort(key=lambda w: w[0])
    return _batch(schema, Z, found)


def _key_errors(keys: Iterable[str], schema: Schema, what: str) -> None:
    """400 for a missing column key or a key that is neither a column nor an excluded one."""
    keys = set(keys)
    missing = [name for name in schema.names if name not in keys]
    if missing:
        raise bad_request(E_MISSING_FEATURE, f"{what} is missing column(s) {', '.join(map(repr, missing))}")
    unknown = sorted(k for k in keys if k not in schema.accepted_keys)
    if unknown:
        raise bad_request(
            E_UNKNOWN_FEATURE,
            f"{what} has unknown column(s) {', '.join(map(repr, unknown))}; "
            f"the model's columns are {', '.join(schema.names)}",
        )


def _rows_from_objects(instances: Sequence[Any], schema: Schema) -> list[Any]:
    names, name_set = schema.names, frozenset(schema.names)
    rows = []
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            rows.append(instance)  # the list/other checks below report it
            continue
        if instance.keys() != name_set:
            _key_errors(instance.keys(), schema, f"instance {i}")
        rows.append([instance[name] for name in names])
    return rows


def _check_rows(rows: Sequence[Any], schema: Schema) -> None:
    """400 for the first row that is not a list of one value per column."""
    n, names = len(schema.columns), schema.names
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise bad_request(
                E_INVALID_INSTANCE,
                f"instance {i} must be a list of {n} values or an object keyed by column name, got {json_type(row)}",
            )
        if len(row) != n:
            raise bad_request(
                E_WRONG_FEATURE_COUNT,
                f"instance {i} has {len(row)} values; the model takes {n} columns ({', '.join(names)})",
            )


def _rows_batch(rows: Sequence[Any], schema: Schema, booleans_possible: bool, strings_possible: bool) -> Batch:
    n_columns = len(schema.columns)
    if schema.is_identity:
        fast = _fast_columns(rows, n_columns, booleans_possible, strings_possible)
        if fast is not None:
            return _batch(schema, fast[0], _range_warnings(schema, fast[0]), fast[1])
    _check_rows(rows, schema)
    return _read_columns(schema, [[row[j] for row in rows] for j in range(n_columns)], len(rows), columnar=False)


def _check_count(n: int, max_rows: int, what: str) -> None:
    if n == 0:
        raise bad_request(E_EMPTY_INSTANCES, f"{what} is empty; send at least one instance")
    if n > max_rows:
        raise bad_request(
            E_TOO_MANY_INSTANCES, f"{what} has {n} rows; the limit is {max_rows} per request (split the batch)"
        )


def _columns_batch(inputs: Any, schema: Schema, max_rows: int, booleans_possible: bool) -> Batch:
    if not isinstance(inputs, dict):
        raise bad_request(
            E_INVALID_INSTANCES, f'"inputs" must be an object {{column: [values...]}}, got {json_type(inputs)}'
        )
    names = schema.names
    _key_errors(inputs.keys(), schema, '"inputs"')
    for name in names:
        if not isinstance(inputs[name], list):
            raise bad_request(
                E_INVALID_INSTANCES, f"inputs[{name!r}] must be a list of values, got {json_type(inputs[name])}"
            )
    n = len(inputs[names[0]])
    for name in names:
        if len(inputs[name]) != n:
            raise bad_request(
                E_COLUMN_LENGTH_MISMATCH,
                f"inputs[{name!r}] has {len(inputs[name])} values but inputs[{names[0]!r}] has {n}; columns must match",
            )
    _check_count(n, max_rows, '"inputs"')
    columns = [inputs[name] for name in names]
    if schema.is_identity:
        fast = _fast_columns(columns, n, booleans_possible)
        if fast is not None:
            Z = np.ascontiguousarray(fast[0].T)
            return _batch(schema, Z, _range_warnings(schema, Z), np.ascontiguousarray(fast[1].T))
    return _read_columns(schema, columns, n, columnar=True)


def parse_instances(
    body: Mapping[str, Any],
    schema: Schema,
    max_rows: int,
    *,
    booleans_possible: bool = True,
    strings_possible: bool = True,
) -> Batch:
    """The request's rows as a ``Batch`` over ``schema`` (the card's ``columns``); ClientError naming
    the instance index and the column.

    ``**request.value_hints()`` lets a body whose text rules out booleans (and strings) take a
    cheaper, equally strict conversion when the schema's columns are plain numbers; the defaults
    (True) are always correct.
    """
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances and has_inputs:
        raise bad_request(E_AMBIGUOUS_INPUT, 'send either "instances" or "inputs", not both')
    if has_inputs:
        return _columns_batch(body["inputs"], schema, max_rows, booleans_possible)
    if not has_instances:
        raise bad_request(
            E_MISSING_INSTANCES,
            'request body needs "instances": a list of rows (lists in column order or objects by column name), '
            'or "inputs": {column: [values...]}',
        )
    instances = body["instances"]
    if not isinstance(instances, list):
        raise bad_request(E_INVALID_INSTANCES, f'"instances" must be a list, got {json_type(instances)}')
    _check_count(len(instances), max_rows, '"instances"')
    if dict in set(map(type, instances)):
        instances = _rows_from_objects(instances, schema)
    return _rows_batch(instances, schema, booleans_possible, strings_possible)


def reject_unknown_fields(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """400 ``unknown_field`` when ``body`` has a top-level key outside ``allowed``."""
    allowed = set(allowed)
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise bad_request(
            E_UNKNOWN_FIELD,
            f"unknown field(s) {', '.join(map(repr, unknown))} in the request body; "
            f"allowed: {', '.join(sorted(allowed))}",
        )
