"""The schema table the build prints before training: per column its kind, missing share, levels or range."""

from __future__ import annotations

import numpy as np

from litelens.build.bundle.schema import CATEGORICAL, DATE, Schema
from litelens.build.bundle.values import days_to_iso, number_text

SHOWN_LEVELS = 4


def schema_table(schema: Schema, Z: np.ndarray) -> str:
    """``schema`` over the training rows ``Z`` (column space): one line per column, then the excluded ones."""
    width = max(len("column"), *(len(c.name) for c in schema.columns), *(len(e.name) for e in schema.excluded))
    lines = [f"schema: {len(schema.columns)} columns -> {schema.n_inputs} model inputs"]
    lines.append(f"  {'column':<{width}}  {'kind':<11}  {'missing':>7}  levels / range")
    for j, column in enumerate(schema.columns):
        z = Z[:, j]
        if column.kind == CATEGORICAL:
            missing = float(np.mean(z == column.missing_code)) if column.missing else 0.0
            shown = ", ".join(column.levels[:SHOWN_LEVELS])
            more = f", ... ({len(column.levels)} levels)" if len(column.levels) > SHOWN_LEVELS else ""
            detail = shown + more + (" (boolean)" if column.boolean else "")
        else:
            missing = float(np.mean(np.isnan(z))) if len(z) else 0.0
            low, high, mid = column.min, column.max, column.median
            if column.kind == DATE:
                detail = f"{_date(low)} .. {_date(high)}"
            else:
                whole = ", whole numbers" if column.integer else ""
                detail = f"{_number(low)} .. {_number(high)} (median {_number(mid)}{whole})"
        lines.append(f"  {column.name:<{width}}  {column.kind:<11}  {100 * missing:>6.1f}%  {detail}")
    for excluded in schema.excluded:
        lines.append(f"  {excluded.name:<{width}}  {'excluded':<11}  {'':>7}  {excluded.reason}")
    return "\n".join(lines)


def _date(value: float | None) -> str:
    return "?" if value is None else days_to_iso(value)


def _number(value: float | None) -> str:
    if value is None:
        return "?"
    return number_text(value) if float(value).is_integer() else f"{value:.6g}"
