"""A messy mixed-kind CSV as real exports look, for the build's reading and inference tests (and others').

``messy_columns(n_rows, seed)`` -> column name -> cell texts (the file's cells before the dialect);
``write_messy_csv(path, n_rows, seed, variant)`` writes them. Columns (``EXPECTED_KINDS``):

- ``customer_id``: ``C00017`` text, unique per row (excluded: ID-like)
- ``age``: whole numbers 18-90, ~3% missing as empty or ``NA`` (numeric)
- ``income``: two decimals, ~2% missing as ``NaN`` or empty (numeric; ``1234,56`` in the ``;`` variant)
- ``score``: whole numbers 1-6 (numeric: a score, not a code)
- ``applicant_type``: salaried / self-employed / retired / employé, ~4% empty (categorical with missing)
- ``married``: yes/no spelled ``yes, Yes, Y, no, No, N`` (boolean)
- ``has_car``: ``true/false`` (boolean); ``active``: 0/1 (boolean from an integer flag)
- ``region_code``: whole numbers 1-12 (categorical: a code by its name)
- ``signup``: ISO dates 2019-2024, ~2% empty (date)
- ``country``: ``FR`` in every row (excluded: constant)
- ``default``: the target, ``yes`` for ~5% of rows (a rare positive class), learnable from income,
  score, married and region.

Variants: ``plain`` (``,``, UTF-8), ``semicolon`` (``;`` and decimal comma), ``latin1`` (``,``, Latin-1
bytes), ``index`` (a headerless leading 0..n-1 column, as ``DataFrame.to_csv`` writes), ``bom``
(UTF-8 with a byte order mark).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

TARGET = "default"
POSITIVE = "yes"
VARIANTS = ("plain", "semicolon", "latin1", "index", "bom")
EXPECTED_KINDS = {
    "age": "numeric",
    "income": "numeric",
    "score": "numeric",
    "applicant_type": "categorical",
    "married": "categorical",
    "has_car": "categorical",
    "active": "categorical",
    "region_code": "categorical",
    "signup": "date",
}
EXPECTED_EXCLUDED = {"customer_id": "ID-like", "country": "constant"}
APPLICANT_TYPES = ("salaried", "self-employed", "retired", "employé")


def messy_columns(n_rows: int = 400, seed: int = 0) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 91, n_rows)
    income = np.round(np.exp(rng.normal(np.log(42_000), 0.5, n_rows)), 2)
    score = rng.integers(1, 7, n_rows)
    kind = rng.choice(len(APPLICANT_TYPES), n_rows, p=[0.55, 0.2, 0.15, 0.1])
    married = rng.random(n_rows) < 0.5
    has_car = rng.random(n_rows) < 0.6
    active = rng.random(n_rows) < 0.7
    region = rng.integers(1, 13, n_rows)
    start = dt.date(2019, 1, 1).toordinal()
    signup = rng.integers(start, dt.date(2024, 12, 31).toordinal(), n_rows)
    risk = -3.6 - 1.2 * (np.log(income) - np.log(42_000)) + 0.35 * (score - 3.5) + 0.5 * married + 0.08 * region
    target = rng.random(n_rows) < 1 / (1 + np.exp(-risk))
    target[:2] = [True, False]  # both classes whatever the seed
    miss = rng.random((4, n_rows))
    return {
        "customer_id": [f"C{100 + i:05d}" for i in range(n_rows)],
        "age": [("" if m < 0.015 else "NA") if m < 0.03 else str(a) for a, m in zip(age, miss[0], strict=True)],
        "income": [
            ("NaN" if m < 0.01 else "") if m < 0.02 else f"{v:.2f}" for v, m in zip(income, miss[1], strict=True)
        ],
        "score": [str(s) for s in score],
        "applicant_type": ["" if m < 0.04 else APPLICANT_TYPES[k] for k, m in zip(kind, miss[2], strict=True)],
        "married": [("yes", "Yes", "Y")[i % 3] if v else ("no", "No", "N")[i % 3] for i, v in enumerate(married)],
        "has_car": ["true" if v else "false" for v in has_car],
        "active": [str(int(v)) for v in active],
        "region_code": [str(r) for r in region],
        "signup": [
            "" if m < 0.02 else dt.date.fromordinal(int(d)).isoformat() for d, m in zip(signup, miss[3], strict=True)
        ],
        "country": ["FR"] * n_rows,
        TARGET: [POSITIVE if t else "no" for t in target],
    }


def write_messy_csv(path: str | Path, n_rows: int = 400, seed: int = 0, variant: str = "plain") -> Path:
    """Write the messy CSV in ``variant``'s dialect; returns the path."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r} (choose from {', '.join(VARIANTS)})")
    columns = messy_columns(n_rows, seed)
    delimiter = ";" if variant == "semicolon" else ","
    if variant == "semicolon":
        columns["income"] = [v.replace(".", ",") for v in columns["income"]]
    names = list(columns)
    rows = [delimiter.join(_quoted(columns[name][i], delimiter) for name in names) for i in range(n_rows)]
    header = delimiter.join(names)
    if variant == "index":
        header = "," + header
        rows = [f"{i},{row}" for i, row in enumerate(rows)]
    text = "\n".join([header, *rows]) + "\n"
    path = Path(path)
    encoding = {"latin1": "latin-1", "bom": "utf-8-sig"}.get(variant, "utf-8")
    path.write_bytes(text.encode(encoding))
    return path


def _quoted(cell: str, delimiter: str) -> str:
    return f'"{cell}"' if delimiter in cell or '"' in cell else cell
