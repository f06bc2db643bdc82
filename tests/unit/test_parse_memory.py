"""Parsing costs memory in proportion to the body, whatever the body holds (long strings in any place)."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from litelens.build.bundle.schema import Schema
from litelens.functions.common.errors import ClientError
from litelens.functions.common.events import loads
from litelens.functions.common.instances import parse_instances

SCHEMA = Schema.numeric([f"x{j}" for j in range(10)])
LONG = "s" * 100_000


def bodies():
    row = list(range(10))
    yield {"instances": [[LONG, *row[1:]]] + [row] * 999}  # first cell
    yield {"instances": [row] * 999 + [[*row[:-1], LONG]]}  # last cell
    yield {"instances": [row] * 500, "parameters": {"note": LONG}}  # beside the rows
    yield {"inputs": {f"x{j}": ([LONG] if j == 3 else []) + [0] * 999 for j in range(10)}}  # columnar


@pytest.mark.parametrize("body", list(bodies()), ids=["first", "last", "beside", "columnar"])
def test_long_strings_anywhere_cost_memory_in_proportion_to_the_body(body):
    text = json.dumps(body)
    parsed = loads(text)
    hints = {"booleans_possible": False, "strings_possible": True}  # what the body text allows here
    tracemalloc.start()
    try:
        try:
            parse_instances(parsed, SCHEMA, 10_000, **hints)
        except ClientError as exc:
            assert exc.status == 400 and len(exc.message) < 2000
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # THEN the parser's peak extra memory stays within a few times the body's size (numpy's type
    # inference would size a string array by the longest string: 1000 x 10 x 400 kB = 4 GB)
    assert peak <= 4 * len(text) + 2_000_000, f"peak {peak / 1e6:.1f} MB for a {len(text) / 1e6:.2f} MB body"
