"""Raw rows of the mixed bundle's schema (``MIXED_SCHEMA``: tests/support/bundles.py) as a client sends
them, ``RAW``, and the column-space rows they mean, ``Z``: the parser's test and the served raw-rows
tests read the same pair (tests/unit and tests/functional test_raw_rows.py)."""

from __future__ import annotations

import math

import numpy as np

from litelens.build.bundle.values import date_days

# Raw rows a client sends, and the column-space rows they mean (applicant_type: employed 0, retired 1,
# self-employed 2, missing 3; married: no 0, yes 1; signup: days since 1970-01-01).
RAW = [
    [52000, 3, "employed", "yes", "2021-06-01"],
    [18000.5, 1, "self-employed", False, "2020-01-01T12:00:00"],
    [None, 6, None, "N", "2023-10-31"],
    [75000, 2.0, "Retired", 1, "2022-02-28"],
    [31000, 4, "retired", "true", None],
    [120000, 5, "self-employed", "no", "2021-12-25"],
]
Z = np.array(
    [
        [52000, 3, 0, 1, date_days("2021-06-01")],
        [18000.5, 1, 2, 0, date_days("2020-01-01T12:00:00")],
        [math.nan, 6, 3, 0, date_days("2023-10-31")],
        [75000, 2, 1, 1, date_days("2022-02-28")],
        [31000, 4, 1, 1, math.nan],
        [120000, 5, 2, 0, date_days("2021-12-25")],
    ]
)
