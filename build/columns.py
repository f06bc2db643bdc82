"""What kind each CSV column is, and its rows in column space (``build.bundle.schema``).

``infer_schema(names, columns, overrides, problems, lines, decimal) -> (Schema, Z)``; every column's
problem goes to ``problems`` (all of them, one run). The rules, in order, for a column of ``n`` rows:

1. ``--drop`` -> excluded. Every cell missing -> excluded (empty).
2. Named like an identifier (``id``, ``*_id``, ``*Id``, ``uuid``, ``guid``) -> excluded (ID-like),
   unless an override names it.
3. Every present cell a number (``--decimal ,`` reads ``1,25``): numeric, except
   - one distinct value -> excluded (constant);
   - whole numbers with 2 distinct values -> categorical (a flag; 0/1 -> boolean, levels ``0, 1``);
   - whole numbers unique in every row (no missing) of at least ``ID_MIN_ROWS`` rows -> excluded
     (ID-like: amounts and counts repeat, row keys do not; in fewer rows a feature can be unique);
   - whole numbers with at most ``MAX_CODES`` distinct values in a column named like a code (a word
     of ``CODE_WORDS`` in its name, e.g. ``zip_code``, ``applicantType``) -> categorical;
   - anything else (e.g. an integer score 1-6) stays numeric.
   At most ``MAX_BAD_SHARE`` of the present cells not numbers -> a numeric column with bad cells: an
   error quoting rows (fix or empty them, or ``--categorical`` / ``--drop``).
4. Every present cell an ISO date or date-time (``2024-03-01``, ``2024-03-01T12:30:00``) -> date (days
   since 1970-01-01); at most ``MAX_BAD_SHARE`` not dates -> an error quoting rows.
5. Text: two values meaning false/true in any common spelling (true/false, yes/no, y/n, t/f, 1/0) ->
   boolean (levels in the file's own most frequent spelling, false first); one distinct value ->
   constant; unique in every row -> ID-like; more than ``MAX_LEVELS`` distinct values and more than
   ``FREE_TEXT_SHARE`` of the present cells distinct -> excluded (free text); else categorical.
Categorical levels: the ``MAX_LEVELS`` most frequent (codes keep their numeric order, text goes by
frequency); the rarer ones read as unknown (a note says how many rows); missing is a level of its own.
``--categorical`` / ``--numeric`` force a kind and skip the ID-like, constant and free-text rules.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from litelens.build.bundle.schema import CATEGORICAL, DATE, NUMERIC, UNKNOWN, Column, Excluded, Schema
from litelens.build.bundle.values import FALSE_WORDS, TRUE_WORDS, date_days, number_text
from litelens.build.problems import EXAMPLES, Problems, cell_examples
from litelens.build.stats import numeric_column

MAX_LEVELS = 50
MAX_CODES = 100
ID_MIN_ROWS = 100
FREE_TEXT_SHARE = 0.5
MAX_BAD_SHARE = 0.05
CODE_WORDS = frozenset({"code", "type", "category", "class", "state", "region", "zip", "group", "kind", "status"})
ID_WORDS = frozenset({"id", "uuid", "guid"})
FLOAT32_MAX = float(np.finfo(np.float32).max)
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

Lines = Callable[[np.ndarray], list[int]]  # data row indices -> line numbers in the file


@dataclass(frozen=True)
class Overrides:
    """The user's choices: columns read as categorical, as numeric, or left out."""

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()

    def kind(self, name: str) -> str | None:
        for kind, names in (("drop", self.drop), (CATEGORICAL, self.categorical), (NUMERIC, self.numeric)):
            if name in names:
                return kind
        return None

    def check(self, names: Sequence[str], target: str, problems: Problems) -> None:
        """An override naming no column, the target, or a column twice is an error."""
        given: dict[str, str] = {}
        for option, listed in (("--categorical", self.categorical), ("--numeric", self.numeric), ("--drop", self.drop)):
            for name in listed:
                if name not in names:
                    problems.error(f"{option} {name}: no such column (columns: {', '.join(names)})")
                elif name == target:
                    problems.error(f"{option} {name}: that is the target column")
                elif name in given:
                    problems.error(f"{option} {name}: the column is already named by {given[name]}")
                given.setdefault(name, option)


def words(name: str) -> list[str]:
    """``applicantType`` -> applicant, type; ``zip_code`` -> zip, code."""
    return [w.lower() for w in _WORDS.findall(name)]


def parse_numbers(values: pa.ChunkedArray, decimal: str = ".") -> tuple[np.ndarray, np.ndarray]:
    """``(numbers, bad)``: float64 values (NaN where missing or bad) and where a present cell is not a finite number."""
    if pa.types.is_floating(values.type):  # pyarrow parsed the column already
        numbers = values.to_numpy()
        bad = np.isinf(numbers)
        return np.where(bad, np.nan, numbers), bad
    if decimal == ",":
        values = pc.replace_substring(values, ",", ".")
    try:
        numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        bad = np.isinf(numbers)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
        kept = pc.if_else(ok, values, pa.scalar(None, pa.string()))
        numbers = pc.cast(kept, pa.float64()).to_numpy(zero_copy_only=False)
        bad = ~ok.to_numpy(zero_copy_only=False) & ~values.is_null().to_numpy(zero_copy_only=False)
        bad |= np.isinf(numbers)
    numbers = np.where(bad, np.nan, numbers)
    return numbers, bad


def parse_dates(values: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """``(days, bad)``: days since 1970-01-01 (NaN where missing or bad) and where a present cell is no ISO date."""
    ok = pc.fill_null(pc.match_substring_regex(values, _ISO_DATE), False)
    kept = pc.if_else(ok, values, pa.scalar(None, pa.string()))
    try:
        millis = pc.cast(pc.cast(kept, pa.timestamp("ms")), pa.int64()).to_numpy(zero_copy_only=False)
        days = millis.astype(np.float64) / 86_400_000.0  # null -> NaN
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # zone offsets, impossible dates: per distinct value
        encoded = pc.dictionary_encode(kept.combine_chunks())
        per_level = np.array([_day(v) for v in encoded.dictionary.to_pylist()] + [math.nan])
        indices = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
        days = per_level[indices]
    present = ~values.is_null().to_numpy(zero_copy_only=False)
    return days, present & np.isnan(days)


def _day(text: str) -> float:
    days = date_days(text)
    return math.nan if days is None else days


def infer_schema(
    names: Sequence[str],
    columns: list[pa.ChunkedArray | None],
    overrides: Overrides,
    problems: Problems,
    lines: Lines,
    decimal: str = ".",
) -> tuple[Schema | None, np.ndarray | None]:
    """Every column's kind and its column-space values; ``columns[j]`` is released once read.

    ``(None, None)`` when no column is left for the model (an error says so)."""
    kept: list[Column] = []
    excluded: list[Excluded] = []
    n_rows = len(columns[0]) if columns and columns[0] is not None else 0
    # column-major: each column is written once, and the unused tail (excluded columns) is a free slice
    Z = np.empty((n_rows, len(names)), dtype=np.float64, order="F")
    for j, name in enumerate(names):
        cells = columns[j]
        columns[j] = None  # the cells go as soon as the column is read: memory stays ~ one copy
        assert cells is not None
        result = infer_column(name, cells, overrides.kind(name), decimal, problems, lines)
        del cells
        if isinstance(result, Excluded):
            excluded.append(result)
            if not result.reason.startswith("dropped"):
                problems.note(f"column {name!r} excluded: {result.reason}")
        elif result is not None:
            Z[:, len(kept)] = result[1]
            kept.append(result[0])
    if not kept:
        problems.error("no column is left for the model (" + "; ".join(f"{e.name}: {e.reason}" for e in excluded) + ")")
        return None, None
    Z = Z[:, : len(kept)]
    return Schema(tuple(kept), tuple(excluded)), Z


def infer_column(
    name: str, cells: pa.ChunkedArray, override: str | None, decimal: str, problems: Problems, lines: Lines
) -> tuple[Column, np.ndarray] | Excluded | None:
    """One column: ``(Column, z)``, ``Excluded``, or None when it has an error (reported to ``problems``)."""
    n = len(cells)
    missing = cells.is_null().to_numpy(zero_copy_only=False)
    present = n - int(missing.sum())
    if override == "drop":
        return Excluded(name, "dropped (--drop)")
    if present == 0:
        return Excluded(name, "empty: every value is missing")
    if override is None and (words(name)[-1:] or [""])[0] in ID_WORDS:
        return Excluded(name, "ID-like: named like an identifier")
    numbers, bad = parse_numbers(cells, decimal)
    n_bad = int(bad.sum())
    if n_bad == 0 or override == NUMERIC or (override is None and n_bad <= MAX_BAD_SHARE * present):
        if n_bad:
            rows = np.flatnonzero(bad)[:EXAMPLES]
            cells_shown = [cells[int(r)].as_py() for r in rows]
            first = lines(rows[:1])[0]
            more = f" (and {n_bad - 1} more, e.g. {cell_examples(rows[1:], cells_shown[1:], lines(rows[1:]))})"
            problems.error(
                f"row {first}, column {name!r}: {cells_shown[0]!r} is not a number{more if n_bad > 1 else ''}; "
                f"fix or empty the cells, or pass --categorical {name} or --drop {name}"
            )
            return None
        if np.any(np.abs(numbers) > FLOAT32_MAX):
            row = int(np.argmax(np.abs(numbers) > FLOAT32_MAX))
            problems.error(f"row {lines(np.array([row]))[0]}, column {name!r}: value too large for float32")
            return None
        return _numeric(name, numbers, missing, override)
    if override != CATEGORICAL:
        days, bad_dates = parse_dates(cells)
        n_bad = int(bad_dates.sum())
        if n_bad == 0:
            return dataclasses.replace(numeric_column(name, days), kind=DATE, integer=False), days
        if n_bad <= MAX_BAD_SHARE * present:
            rows = np.flatnonzero(bad_dates)[:EXAMPLES]
            shown = cell_examples(rows, [cells[int(r)].as_py() for r in rows], lines(rows))
            problems.error(
                f"column {name!r}: {n_bad} cells are not ISO dates like 2024-03-01 ({shown}); "
                f"fix or empty them, or pass --categorical {name} or --drop {name}"
            )
            return None
    return _text(name, cells, missing, present, override, problems)


def _numeric(name: str, numbers: np.ndarray, missing: np.ndarray, override: str | None):
    present = numbers[~missing]
    integer = bool(np.all(np.mod(present, 1) == 0))
    constant = bool(present.min() == present.max())
    if override == NUMERIC or (override is None and not integer and not constant):
        return numeric_column(name, numbers), numbers
    n = len(numbers)
    if override is None and not constant:
        n_distinct = pc.count_distinct(pa.array(present)).as_py()  # hashing: cheaper than np.unique's sort
        code_like = n_distinct <= MAX_CODES and CODE_WORDS.intersection(words(name))
        if n_distinct == n and n >= ID_MIN_ROWS:
            return Excluded(name, "ID-like: a different whole number in every row")
        if n_distinct > 2 and not code_like:
            return numeric_column(name, numbers), numbers
    distinct, inverse, counts = np.unique(present, return_inverse=True, return_counts=True)
    full_inverse = np.full(len(numbers), -1, dtype=np.int64)
    full_inverse[~missing] = inverse
    if override == CATEGORICAL:
        labels = [number_text(v) for v in distinct.tolist()]
        return _categorical(name, labels, full_inverse, counts, by_frequency=len(labels) > MAX_LEVELS)
    if constant:
        return Excluded(name, f"constant: every value is {number_text(float(distinct[0]))}")
    if len(distinct) == 2:
        labels = [number_text(v) for v in distinct.tolist()]
        return _categorical(name, labels, full_inverse, counts, boolean=labels == ["0", "1"])
    return _categorical(name, [number_text(v) for v in distinct.tolist()], full_inverse, counts)  # a code


def _text(name: str, cells: pa.ChunkedArray, missing: np.ndarray, present: int, override: str | None, problems):
    encoded = pc.dictionary_encode(cells.combine_chunks())
    labels = [str(v) for v in encoded.dictionary.to_pylist()]
    inverse = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    counts = np.bincount(inverse[inverse >= 0], minlength=len(labels))
    truth = [_truth(v) for v in labels]
    if None not in truth and len(set(truth)) == 2:
        spelled = {
            t: max((i for i in range(len(labels)) if truth[i] is t), key=lambda i: counts[i]) for t in (False, True)
        }
        codes = np.array([1 if t else 0 for t in truth] + [-1])
        merged = codes[inverse]  # -1 (missing) indexes the trailing -1
        two = np.bincount(merged[merged >= 0], minlength=2)
        return _categorical(name, [labels[spelled[False]], labels[spelled[True]]], merged, two, boolean=True)
    if override is None:
        if len(labels) == 1:
            return Excluded(name, f"constant: every value is {labels[0]!r}")
        if len(labels) == len(cells) and present == len(cells):
            return Excluded(name, "ID-like: a different text in every row")
        if len(labels) > MAX_LEVELS and len(labels) > FREE_TEXT_SHARE * present:
            return Excluded(name, f"free text: {len(labels)} distinct values in {present} rows")
    result = _categorical(name, labels, inverse, counts, by_frequency=True)
    rare = len(labels) - len(result[0].levels)
    if rare > 0:
        share = 100.0 * counts[np.argsort(-counts, kind="stable")[MAX_LEVELS:]].sum() / max(present, 1)
        problems.note(
            f"column {name!r}: the {MAX_LEVELS} most frequent of {len(labels)} levels kept; "
            f"the {rare} rarer ones ({share:.1f}% of rows) read as unknown"
        )
    return result


def _truth(label: str) -> bool | None:
    word = label.lower()
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def _categorical(
    name: str,
    labels: list[str],
    inverse: np.ndarray,
    counts: np.ndarray,
    *,
    by_frequency: bool = False,
    boolean: bool = False,
) -> tuple[Column, np.ndarray]:
    """Levels (at most ``MAX_LEVELS``, the most frequent) and codes; ``inverse`` -1 = missing."""
    if by_frequency:
        order = np.argsort(-counts, kind="stable")[:MAX_LEVELS]
    else:  # codes and flags keep their order; beyond the cap only the most frequent stay
        order = np.sort(np.argsort(-counts, kind="stable")[:MAX_LEVELS])
    remap = np.full(len(labels) + 1, UNKNOWN)
    remap[order] = np.arange(len(order))
    missing = inverse < 0
    column = Column(
        name, CATEGORICAL, missing=bool(missing.any()), levels=tuple(labels[i] for i in order), boolean=boolean
    )
    remap[-1] = column.missing_code
    return column, remap[inverse]
