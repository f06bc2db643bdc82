"""Every data file of a bundle checked against its card before anything uses it.

The sha256 in the card only says a file is the one the card was written with; a card can be re-hashed
(an unsigned bundle, a broken build), so what the explainers read is checked for what it must be:

``read_background(path, card) -> (rows, weights)``
    ``shap_background.npy`` and ``shap_background_weights.npy``, each a plain ``.npy`` whose header is
    read (``numpy.lib.format``) and checked *before any allocation*: at most ``MAX_FILE_BYTES``, format
    1.0 or 2.0 with a header of at most ``MAX_NPY_HEADER_BYTES`` (its length checked before numpy reads
    that many bytes), dtype float64 little-endian (never object, so never a pickle), rows (K, n_columns
    of the card's schema) with K >= 1 and weights (K,), and a file exactly as long as the header plus
    that shape x 8 bytes (a header claiming (1e6, 4) in a small file is refused without reserving
    32 MB). Then the values: weights finite, >= 0 and summing to 1; a row's value finite, NaN only in
    a numeric or date column the schema says had missing values, and a categorical code a whole number
    from ``UNKNOWN`` (-1, a level beyond the build's cap) to the column's last code.

``read_lime_stats(path, card) -> {key: {column index: values}}``
    ``lime_stats.json`` (at most ``MAX_LIME_STATS_BYTES``) as ``build.stats.lime_training_stats``
    writes it and ``explain.lime_method`` / ``lime_sampling`` read it: every key of ``LIME_STATS_KEYS``,
    each an object keyed by canonical column indices; ``feature_values`` / ``feature_frequencies`` one
    entry per column, the per-bin keys (``bins``, ``means``, ``stds``, ``mins``, ``maxs``) one per
    numeric or date column. Per numeric or date column: 1 to ``MAX_LIME_BINS`` increasing finite bin
    edges, len(bins) + 1 finite means, stds (>= 0), mins and maxs, the distinct bin ids seen
    (0 .. len(bins)); per categorical column the distinct codes seen (as the background's). Frequencies
    one per value, finite, >= 0, summing to 1. JSON numbers only (``true`` is not 1).

``check_files(path, card)``
    Both of the above: what ``Bundle.load`` (predict's and explain's cold start, ``write_bundle`` before
    it puts a bundle in place) runs after the sha256 check, so both functions refuse the same bundle.
    It reads the two arrays and the stats once more after the sha256 pass (a few hundred KB in a real
    bundle): ``Bundle.load`` (best of 30, 10 background rows x 30 columns) went from 0.6 to 1.5 ms, and
    (100 x 500 columns) from 1.9 to 15 ms, half of it parsing the stats' JSON.

Whatever is wrong raises one ``BundleError`` sentence naming the file and the fault. The model file is
checked by the TFLite runner against the card (``tflite``, ``functions.common.model``).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from litelens.build.bundle.card import (
    LIME_STATS_FILE,
    SHAP_BACKGROUND_FILE,
    SHAP_WEIGHTS_FILE,
    BundleCard,
    BundleError,
)
from litelens.build.bundle.schema import CATEGORICAL, UNKNOWN, Column, Schema

# The keys LimeTabularExplainer's training_data_stats requires, each a {feature index: value} map.
LIME_STATS_KEYS = ("means", "mins", "maxs", "stds", "feature_values", "feature_frequencies", "bins")
PER_BIN_KEYS = ("means", "stds", "mins", "maxs")  # len(bins) + 1 numbers per numeric or date column
BINNED_KEYS = (*PER_BIN_KEYS, "bins")  # an entry per numeric or date column only
MAX_LIME_STATS_BYTES = 16 * 1024 * 1024  # ~30 bytes a level: 500 columns of 1,000 levels fit
MAX_LIME_BINS = 3  # the quartile discretizer's edges: the unique 25th/50th/75th percentiles
MAX_FILE_BYTES = 256 * 1024 * 1024  # any one bundle file (bundle.MAX_FILE_BYTES, S3 downloads too)
MAX_NPY_HEADER_BYTES = 10_000  # numpy's own limit (read_array_header's max_header_size)
NPY_DTYPE = np.dtype("<f8")
_MAX_INDEX_DIGITS = 9


def check_files(path: str | os.PathLike[str], card: BundleCard) -> None:
    """Every data file of the bundle at ``path`` against ``card``; BundleError (one sentence) if one is wrong."""
    read_background(path, card)
    read_lime_stats(path, card)


def read_background(path: str | os.PathLike[str], card: BundleCard) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(rows (K, n_columns), weights (K,))``, float64, checked (module docstring)."""
    schema = card.schema
    n = len(schema.columns)
    rows_file, weights_file = Path(path) / SHAP_BACKGROUND_FILE, Path(path) / SHAP_WEIGHTS_FILE

    def rows_shape(shape: tuple[int, ...]) -> str | None:
        if len(shape) != 2 or shape[1] != n or shape[0] < 1:
            return f"must have shape (K, {n}) with K >= 1 (the card's {n} columns)"
        return None

    rows = _read_npy(rows_file, rows_shape)
    k = rows.shape[0]
    weights = _read_npy(weights_file, lambda shape: None if shape == (k,) else f"must have shape ({k},), one per row")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise BundleError(f"{weights_file}: every weight must be a finite number >= 0")
    if not np.isclose(weights.sum(), 1.0):
        raise BundleError(f"{weights_file}: the weights sum to {float(weights.sum()):.6g}, not 1")
    _check_rows(rows, schema, rows_file)
    return rows, weights


def _read_npy(file: Path, shape_fault: Callable[[tuple[int, ...]], str | None]) -> NDArray[np.float64]:
    """The float64 array in ``file``, its header checked before its data is read; ``shape_fault``
    says what is wrong with a shape (None: nothing)."""
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BundleError(f"{file}: {size} bytes; a bundle file is at most {MAX_FILE_BYTES} bytes")
        with open(file, "rb") as fh:
            shape, fortran, dtype = _read_header(fh, file, size)
            if dtype != NPY_DTYPE:
                raise BundleError(f"{file}: dtype {dtype.str} ({dtype}), not little-endian float64 ('<f8')")
            fault = "has a negative dimension" if any(d < 0 for d in shape) else shape_fault(shape)
            if fault is not None:
                raise BundleError(f"{file}: shape {_shape_text(shape)} {fault}")
            count = math.prod(shape)
            data_bytes = size - fh.tell()
            if data_bytes != count * dtype.itemsize:
                raise BundleError(
                    f"{file}: its header says {_shape_text(shape)} float64 ({count * dtype.itemsize} bytes of data), "
                    f"but {data_bytes} bytes follow it (truncated or padded)"
                )
            flat = np.fromfile(fh, dtype=dtype, count=count)
    except OSError as exc:
        raise BundleError(f"{file}: unreadable ({exc.strerror or exc})") from None
    if flat.size != count:  # changed while read
        raise BundleError(f"{file}: holds {flat.size} values, not the {count} its header says")
    array: NDArray[np.float64] = flat.reshape(shape, order="F" if fortran else "C")
    return array


def _read_header(fh: BinaryIO, file: Path, size: int) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """``(shape, fortran_order, dtype)`` of the .npy open in ``fh``, its data not read. The header's
    length is checked before numpy reads that many bytes (numpy reads, then checks); numpy's parser of
    the header's literal raises ValueError, TypeError, SyntaxError, SystemError or tokenize's TokenError
    on a damaged one (20,000 mutated headers) and warns on stderr: each is this file's fault, not a bug."""
    try:
        version = np.lib.format.read_magic(fh)
    except ValueError as exc:  # no magic string: not a .npy
        raise BundleError(f"{file}: not a readable .npy file ({_short(exc)})") from None
    if version not in ((1, 0), (2, 0)):
        raise BundleError(f"{file}: .npy format {version[0]}.{version[1]}, not 1.0 or 2.0")
    start, width = fh.tell(), 2 if version == (1, 0) else 4
    field = fh.read(width)
    length = int.from_bytes(field, "little")
    if len(field) < width or length > min(MAX_NPY_HEADER_BYTES, size - fh.tell()):
        raise BundleError(
            f"{file}: its header claims {length} bytes (at most {MAX_NPY_HEADER_BYTES}, in a file of {size} bytes)"
        )
    fh.seek(start)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning: an invalid escape in the header's literal
            shape, fortran, dtype = read(fh)
    except Exception as exc:  # whatever numpy's literal parser raises on this file's header (docstring)
        raise BundleError(f"{file}: not a readable .npy header ({type(exc).__name__}: {_short(exc)})") from None
    return shape, fortran, dtype


def _check_rows(rows: NDArray[np.float64], schema: Schema, file: Path) -> None:
    columns = schema.columns
    missing = np.isnan(rows)
    may_miss = np.array([c.missing and c.kind != CATEGORICAL for c in columns])
    categorical = np.array([c.kind == CATEGORICAL for c in columns])
    top = np.array([_last_code(c) for c in columns], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        wrong_code = categorical & ~((rows >= UNKNOWN) & (rows <= top) & (np.mod(rows, 1.0) == 0.0))
    bad = np.isinf(rows) | (missing & ~may_miss) | wrong_code
    if not bad.any():
        return
    i, j = (int(v) for v in np.argwhere(bad)[0])
    column, value = columns[j], float(rows[i, j])
    if column.kind == CATEGORICAL:
        why = f"is {value!r}, not a level code of this categorical column ({UNKNOWN:g} .. {_last_code(column):g})"
    elif math.isnan(value):
        why = "is NaN (missing), but the card's schema says the column had no missing values"
    else:
        why = f"is {value!r}: values must be finite"
    raise BundleError(f"{file}: row {i}, column {j} ({column.name!r}) {why}")


def _last_code(column: Column) -> float:
    """The highest column-space code of a categorical column (its missing code when it has one)."""
    return float(len(column.levels) - 1 + int(column.missing)) if column.kind == CATEGORICAL else math.inf


def read_lime_stats(path: str | os.PathLike[str], card: BundleCard) -> dict[str, dict[int, Any]]:
    """LimeTabularExplainer's ``training_data_stats`` keyed by column index, checked (module docstring)."""
    file = Path(path) / LIME_STATS_FILE
    try:
        size = file.stat().st_size
        if size > MAX_LIME_STATS_BYTES:
            raise BundleError(f"{file}: {size} bytes; lime stats are at most {MAX_LIME_STATS_BYTES} bytes")
        data = json.loads(file.read_bytes())
    except BundleError:
        raise
    except OSError as exc:
        raise BundleError(f"{file}: unreadable ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, a number of 5,000 digits, nested deeply
        raise BundleError(f"{file}: not readable JSON ({_short(exc)})") from None
    return _LimeStatsCheck(file, card.schema).stats(data)


class _LimeStatsCheck:
    def __init__(self, file: Path, schema: Schema) -> None:
        self.file, self.columns = file, schema.columns

    def fail(self, what: str) -> BundleError:
        return BundleError(f"{self.file}: {what}")

    def stats(self, data: Any) -> dict[str, dict[int, Any]]:
        if not isinstance(data, dict):
            raise self.fail("is not a JSON object of the lime stats")
        missing = [key for key in LIME_STATS_KEYS if key not in data]
        if missing:
            raise self.fail(f"missing {', '.join(repr(key) for key in missing)}")
        binned = [j for j, c in enumerate(self.columns) if c.kind != CATEGORICAL]
        every = list(range(len(self.columns)))
        out = {key: self.entries(data, key, binned if key in BINNED_KEYS else every) for key in LIME_STATS_KEYS}
        for j, column in enumerate(self.columns):
            where = f"column {j} ({column.name!r})"
            if column.kind == CATEGORICAL:
                self.seen(out, j, where, UNKNOWN, _last_code(column))
                continue
            bins = self.numbers(out["bins"][j], f"'bins' of {where}")
            if not 1 <= len(bins) <= MAX_LIME_BINS or any(b >= a for b, a in itertools.pairwise(bins)):
                raise self.fail(f"'bins' of {where} must be 1 to {MAX_LIME_BINS} increasing edges")
            for key in PER_BIN_KEYS:
                values = self.numbers(out[key][j], f"{key!r} of {where}")
                if len(values) != len(bins) + 1:
                    raise self.fail(f"{key!r} of {where} must hold {len(bins) + 1} numbers, one per bin")
                if key == "stds" and min(values) < 0:
                    raise self.fail(f"'stds' of {where} must be >= 0")
            self.seen(out, j, where, 0, len(bins))
        return out

    def entries(self, data: dict[str, Any], key: str, expected: Sequence[int]) -> dict[int, Any]:
        entries = data[key]
        if not isinstance(entries, dict):
            raise self.fail(f"{key!r} must be an object of column index -> values")
        out: dict[int, Any] = {}
        for text, value in entries.items():
            j = int(text) if len(text) <= _MAX_INDEX_DIGITS and text.isdecimal() else -1
            if j < 0 or str(j) != text:
                raise self.fail(f"{key!r} has the key {text[:40]!r}, not a column index")
            out[j] = value
        absent, extra = sorted(set(expected) - set(out)), sorted(set(out) - set(expected))
        if absent:
            raise self.fail(f"{key!r} has no entry for column {absent[0]} ({self.columns[absent[0]].name!r})")
        if extra:
            n = len(self.columns)
            what = "a categorical column" if extra[0] < n else f"not a column: the card has {n}"
            raise self.fail(f"{key!r} has an entry for column index {extra[0]}, {what}")
        return out

    def seen(self, out: dict[str, dict[int, Any]], j: int, where: str, low: float, high: float) -> None:
        """``feature_values`` (distinct whole numbers in [low, high]) and their ``feature_frequencies``."""
        values = self.numbers(out["feature_values"][j], f"'feature_values' of {where}")
        if not values or len(set(values)) != len(values) or any(not (low <= v <= high and v % 1 == 0) for v in values):
            raise self.fail(f"'feature_values' of {where} must be distinct whole numbers from {low:g} to {high:g}")
        shares = self.numbers(out["feature_frequencies"][j], f"'feature_frequencies' of {where}")
        if len(shares) != len(values) or min(shares) < 0 or not math.isclose(math.fsum(shares), 1.0, rel_tol=1e-6):
            raise self.fail(f"'feature_frequencies' of {where} must be {len(values)} shares >= 0 summing to 1")

    def numbers(self, value: Any, what: str) -> list[float]:
        """``value`` as finite JSON numbers (a list of them; ``true`` is not 1)."""
        if type(value) is not list or not all(type(v) is float or type(v) is int for v in value):
            raise self.fail(f"{what} must be a list of numbers")
        try:
            numbers = [float(v) for v in value]
        except OverflowError:  # an integer of hundreds of digits
            numbers = [math.inf]
        if not all(map(math.isfinite, numbers)):
            raise self.fail(f"{what} must hold finite numbers only")
        return numbers


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 160 else text[:157] + "..."
