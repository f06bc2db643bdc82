"""Reading a CSV as it comes: the dialect sniffed, every cell a string column, missing cells marked.

``read_table(path, ...) -> Table``. pyarrow's multithreaded reader parses the file (every column as
strings: the kinds are decided afterwards, in ``build.columns``, so a bad cell never aborts the read);
then each column is trimmed and its missing cells become nulls, all in vectorised pyarrow compute.

- Delimiter: one of ``, ; TAB |``, the one that splits the first lines (the header alone when that is
  all there is) into the same number of fields, most fields winning; ``--delimiter`` overrides.
- Decimal comma: with a delimiter other than ``,``, cells like ``1,25`` and none like ``1.25`` in the
  first lines mean a decimal comma; ``--decimal`` overrides.
- Encoding: UTF-8, with or without a BOM; otherwise cp1252 (Latin-1 when the bytes are not cp1252),
  with a note; ``--encoding`` overrides (any Python codec name).
- Numbers: a column whose first lines hold only numbers is parsed by pyarrow as float64; if a later
  cell is not a number, that column is read again as text.
- Missing: an empty cell, or (case-insensitive, after trimming) one of ``NULL_SPELLINGS``.
- A first column with an empty header name holding 0..n-1 is a saved DataFrame index: dropped, with
  a note. Other unnamed columns are named ``column_N`` (N counts from 1), with a note.
- Rows with the wrong number of cells are reported (all of them: count and first lines), fatal.
- ``Table.lines(rows)``: the file's line number of data rows, for messages (blank lines and quoted
  line breaks counted; worked out only when a message needs it).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

from litelens.build.problems import BuildInputError, Problems

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
NULL_SPELLINGS = ("", "na", "n/a", "#n/a", "nan", "null", "none", "nil", "?")
SAMPLE_BYTES = 1 << 16
SAMPLE_LINES = 50
BLOCK_BYTES = 1 << 24  # pyarrow's parse block: 16 MiB keeps both cores busy on a 250 MB file
_COMMA_DECIMAL = re.compile(r"[+-]?\d+,\d+")
_POINT_DECIMAL = re.compile(r"[+-]?\d*\.\d+")
_NULLS_CASED = sorted({v for s in NULL_SPELLINGS for v in (s, s.upper(), s.capitalize())} | {"NaN", "N/A", "#N/A"})
_FAILED_COLUMN = re.compile(r"In CSV column #(\d+)")
_NOT_CP1252 = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


@dataclass(frozen=True)
class Dialect:
    """How the file is written: field delimiter, decimal mark (``.`` or ``,``) and text encoding."""

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"


@dataclass
class Table:
    """The file's columns as trimmed strings (null = missing), named by the header."""

    path: Path
    dialect: Dialect
    names: list[str]
    columns: list[pa.ChunkedArray]
    n_rows: int
    _lines: np.ndarray | None = field(default=None, repr=False)

    def column(self, name: str) -> pa.ChunkedArray:
        return self.columns[self.names.index(name)]

    def lines(self, rows: Sequence[int] | np.ndarray) -> list[int]:
        """The line numbers an editor shows for data rows ``rows`` (0-based)."""
        if self._lines is None:
            self._lines = _line_map(self.path, self.dialect, self.n_rows)[0]
        return [int(self._lines[r]) for r in rows]


def read_table(
    path: str | os.PathLike[str],
    problems: Problems,
    *,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    keep_text: Sequence[str] = (),
) -> Table:
    """Read ``path``; problems the rest of the file can still be read past go to ``problems``.

    Columns whose first lines hold only numbers are parsed as float64 by pyarrow (a column with a cell
    that is not is read again as text); the columns named in ``keep_text`` (e.g. the target) stay text.

    Raises :class:`BuildInputError` when the file cannot be read at all."""
    file = Path(path)
    try:
        if not file.exists():
            raise BuildInputError(f"data file {file} does not exist")
        if not file.is_file():
            raise BuildInputError(f"data file {file} is not a file")
        with file.open("rb") as fh:
            raw = fh.read(SAMPLE_BYTES)
    except OSError as exc:  # e.g. a name too long
        raise BuildInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise BuildInputError(f"{file} is empty")
    complete = len(raw) < SAMPLE_BYTES
    if not complete and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]  # whole lines only (and no character cut in two)
    encoding, text = _sample_encoding(file, raw, encoding, problems)
    lines = text.splitlines()[:SAMPLE_LINES]
    delimiter = _delimiter(lines, delimiter)
    sample = [row for row in csv.reader(lines, delimiter=delimiter) if row]
    if not sample:
        raise BuildInputError(f"{file} is empty")
    decimal = _decimal(sample[1:], delimiter, decimal, problems)
    header = [h.strip() for h in sample[0]]
    numeric = _numeric_in_sample(sample[1:], len(header), decimal, keep_text, header)
    dialect = Dialect(delimiter, decimal, encoding)
    columns, ragged, dialect = _read_columns(file, dialect, len(header), numeric, problems)
    table = Table(file, dialect, header, columns, len(columns[0]) if columns else 0)
    if ragged:
        table._lines, bad = _line_map(file, dialect, table.n_rows)
        shown = ", ".join(f"row {line}: {cells} cells" for line, cells in bad[:3])
        more = f" (and {len(bad) - 3} more rows)" if len(bad) > 3 else ""
        problems.error(
            f"{file}, {shown}{more}, the header has {len(header)} "
            f"(delimiter {DELIMITER_NAMES.get(delimiter, repr(delimiter))}; --delimiter to change it)"
        )
    _name_columns(table, problems)
    return table


def _sample_encoding(file: Path, raw: bytes, requested: str | None, problems: Problems) -> tuple[str, str]:
    """The file's encoding and the decoded sample (BOM removed)."""
    if requested is not None:
        try:
            name = codecs.lookup(requested).name
        except LookupError:
            raise BuildInputError(
                f"--encoding {requested!r} is not a known text encoding (e.g. utf-8, cp1252)"
            ) from None
        return name, raw.decode(name, errors="replace").lstrip("\ufeff")
    try:
        return "utf-8", raw.decode("utf-8").lstrip("\ufeff")
    except UnicodeDecodeError:
        name = _fallback_encoding(file)
        problems.note(f"{file.name} is not UTF-8: read as {name} (--encoding to choose)")
        return name, raw.decode(name)


def _fallback_encoding(file: Path) -> str:
    """cp1252 (what Windows spreadsheets write) unless the file holds a byte cp1252 leaves undefined."""
    with file.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            if any(b in chunk for b in _NOT_CP1252):
                return "latin-1"
    return "cp1252"


def _delimiter(lines: Sequence[str], requested: str | None) -> str:
    if requested is not None:
        named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
        delimiter = named.get(requested.lower(), requested)
        if len(delimiter) != 1 or delimiter in '\r\n"':
            raise BuildInputError(f"--delimiter {requested!r}: expected one character such as , ; | or tab")
        return delimiter
    best, best_fields = ",", 1
    for candidate in DELIMITERS:
        counts = {len(row) for row in csv.reader(lines, delimiter=candidate) if row}
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = candidate, fields
    return best


def _decimal(rows: Sequence[Sequence[str]], delimiter: str, requested: str | None, problems: Problems) -> str:
    if requested is not None:
        if requested not in (".", ","):
            raise BuildInputError(f"--decimal {requested!r}: expected . or ,")
        return requested
    if delimiter == ",":
        return "."
    cells = [cell.strip() for row in rows for cell in row]
    if any(_COMMA_DECIMAL.fullmatch(c) for c in cells) and not any(_POINT_DECIMAL.fullmatch(c) for c in cells):
        problems.note("decimal comma detected (1,25 reads as 1.25; --decimal . to read it otherwise)")
        return ","
    return "."


def _numeric_in_sample(
    rows: Sequence[Sequence[str]], n_columns: int, decimal: str, keep_text: Sequence[str], header: Sequence[str]
) -> set[int]:
    """Columns whose sampled cells are all numbers or missing (and some numbers): pyarrow parses them as float64."""
    number = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?".replace("\\.", re.escape(decimal)))
    out = set()
    for j in range(n_columns):
        cells = [row[j].strip() for row in rows if len(row) == n_columns]
        if header[j] in keep_text or not cells:
            continue
        numbers = [c for c in cells if c.lower() not in NULL_SPELLINGS]
        if numbers and all(number.fullmatch(c) for c in numbers):
            out.add(j)
    return out


def _read_columns(
    file: Path, dialect: Dialect, n_columns: int, numeric: set[int], problems: Problems
) -> tuple[list[pa.ChunkedArray], int, Dialect]:
    """Every column as trimmed strings with nulls for missing cells, how many ragged rows were skipped, and
    the dialect (its encoding changed when the file turned out not to be UTF-8 past the sample)."""
    ragged = 0

    def skip(row: pv.InvalidRow) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    names = [f"c{i}" for i in range(n_columns)]
    try:
        table = pv.read_csv(
            file,
            read_options=pv.ReadOptions(
                skip_rows=1, column_names=names, encoding=_arrow_encoding(dialect.encoding), block_size=BLOCK_BYTES
            ),
            parse_options=pv.ParseOptions(delimiter=dialect.delimiter, invalid_row_handler=skip),
            convert_options=pv.ConvertOptions(
                column_types={n: pa.float64() if i in numeric else pa.string() for i, n in enumerate(names)},
                strings_can_be_null=False,
                null_values=_NULLS_CASED,
                decimal_point=dialect.decimal,
            ),
        )
    except pa.ArrowInvalid as exc:
        failed = _FAILED_COLUMN.search(str(exc))
        if failed and int(failed.group(1)) in numeric and "conversion error" in str(exc):
            # a cell past the sample is not a number: that column is read as text (build.columns reports it)
            return _read_columns(file, dialect, n_columns, numeric - {int(failed.group(1))}, problems)
        if "UTF8" in str(exc) and dialect.encoding == "utf-8":  # a non-UTF-8 byte past the sample
            encoding = _fallback_encoding(file)
            problems.note(f"{file.name} is not UTF-8: read as {encoding} (--encoding to choose)")
            dialect = Dialect(dialect.delimiter, dialect.decimal, encoding)
            return _read_columns(file, dialect, n_columns, numeric, problems)
        raise BuildInputError(f"cannot read {file} as CSV: {str(exc).splitlines()[0]}") from None
    except (OSError, LookupError, UnicodeDecodeError) as exc:
        raise BuildInputError(f"cannot read {file} as CSV: {exc}") from None
    nulls = pa.array(NULL_SPELLINGS)
    columns = []
    for name in names:
        if table.column(name).type != pa.string():
            columns.append(table.column(name))  # float64, null = missing
            table = table.drop_columns([name])
            continue
        trimmed = pc.utf8_trim_whitespace(table.column(name))
        missing = pc.is_in(pc.utf8_lower(trimmed), value_set=nulls)
        columns.append(pc.if_else(missing, pa.scalar(None, pa.string()), trimmed))
        table = table.drop_columns([name])  # free each raw column as soon as it is cleaned
    return columns, ragged, dialect


def _arrow_encoding(encoding: str) -> str:
    return "utf8" if encoding == "utf-8" else encoding


def _name_columns(table: Table, problems: Problems) -> None:
    """Drop a saved DataFrame index, name unnamed columns, refuse a name given twice."""
    if table.names and not table.names[0] and table.n_rows and _is_row_index(table.columns[0]):
        problems.note("the first column has no name and holds 0 .. n-1 (a saved DataFrame index): dropped")
        del table.names[0], table.columns[0]
    for i, name in enumerate(table.names):
        if not name:
            table.names[i] = f"column_{i + 1}"
            problems.note(f"column {i + 1} has no name in the header: called {table.names[i]!r}")
    seen: set[str] = set()
    for name in table.names:
        if name in seen:
            problems.error(f"{table.path}: column {name!r} appears twice in the header")
        seen.add(name)


def _is_row_index(values: pa.ChunkedArray) -> bool:
    try:
        numbers = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    return bool(np.array_equal(numbers, np.arange(len(numbers))))


def _line_map(file: Path, dialect: Dialect, n_rows: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Each kept data row's line in the file (the last line of a record), and (line, cells) of ragged rows.

    Read again with Python's csv module: only when a message needs line numbers."""
    lines = np.empty(n_rows, dtype=np.int64)
    bad: list[tuple[int, int]] = []
    encoding = "utf-8-sig" if dialect.encoding == "utf-8" else dialect.encoding
    kept = 0
    with open(file, newline="", encoding=encoding, errors="replace") as fh:
        reader = csv.reader(fh, delimiter=dialect.delimiter)
        width = len(next(reader, []))
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                bad.append((reader.line_num, len(row)))
            elif kept < n_rows:
                lines[kept] = reader.line_num
                kept += 1
    lines[kept:] = np.arange(kept, n_rows) + 2  # should not happen: the two readers disagree
    return lines, bad
