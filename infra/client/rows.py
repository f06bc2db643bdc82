"""The rows `litelens invoke` is given: a ``.json``/``.csv`` file, inline JSON, or ``-`` for stdin.

JSON may be a full request (``{"instances": [...]}`` or ``{"inputs": {...}}``), a list of instances,
or one instance object. CSV has a header row of column names and one instance per row: a cell that
reads as a number is sent as one, an empty cell as null (a missing value), any other cell as the
string it is (a category, a boolean word, a date): the model's schema decides what each means.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litelens.build.bundle.errors import LitelensError


class InputError(LitelensError, ValueError):
    """The rows given on the command line cannot be read."""


def _cell_value(cell: str) -> float | str | None:
    """A CSV cell as a JSON value: a finite number, null when empty, else the (stripped) text."""
    text = cell.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text  # "nan", "inf": text, for the server to judge


def _csv_request(text: str) -> dict[str, Any]:
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError("CSV input is empty")
    header = [name.strip() for name in rows[0]]
    if len(set(header)) != len(header) or not all(header):
        raise InputError("CSV header must name every column once")
    instances = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"CSV line {line}: {len(row)} values for {len(header)} columns")
        instances.append({name: _cell_value(cell) for name, cell in zip(header, row, strict=True)})
    if not instances:
        raise InputError("CSV input has a header but no rows")
    return {"instances": instances}


def _json_request(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"input is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, Mapping) and ("instances" in data or "inputs" in data):
        return dict(data)
    if isinstance(data, list):
        return {"instances": data}
    if isinstance(data, Mapping):
        return {"instances": [data]}
    raise InputError("JSON input must be a request object, a list of instances, or one instance object")


def read_request(source: str, fmt: str = "auto", stdin: Any = None) -> dict[str, Any]:
    """The request body from a path, inline JSON, or '-' (stdin), as JSON or CSV."""
    stripped = source.lstrip()
    if source == "-":
        text = (stdin or sys.stdin).read()
        kind = fmt if fmt != "auto" else ("json" if text.lstrip()[:1] in ("{", "[") else "csv")
    elif stripped[:1] in ("{", "["):
        text, kind = source, "json" if fmt == "auto" else fmt
    else:
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
        kind = fmt if fmt != "auto" else ("csv" if path.suffix.lower() == ".csv" else "json")
    return _csv_request(text) if kind == "csv" else _json_request(text)


def display_rows(request: Mapping[str, Any]) -> list[Any]:
    """The request's rows as instances (columnar ``inputs`` turned into one object per row), for the
    feature values shown next to the attributions."""
    if isinstance(request.get("instances"), list):
        return request["instances"]
    inputs = request.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        return []
    columns = {k: v for k, v in inputs.items() if isinstance(v, list)}
    n = min((len(v) for v in columns.values()), default=0)
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]
