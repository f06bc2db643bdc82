"""Raw rows of every column kind read into column space without a model: the parser, and the explain
label filter at a decision threshold (tests/functional/test_raw_rows.py serves them with the mixed bundle)."""

from __future__ import annotations

import dataclasses

import numpy as np

from litelens.functions.common import instances
from litelens.functions.explain.request import Caps, ExplainIf, select_rows
from tests.support.bundles import MIXED_SCHEMA
from tests.support.raw_rows import RAW, Z
from tests.support.structural_bundle import structural_bundle


def test_the_parser_reads_raw_values_into_column_space():
    batch = instances.parse_instances({"instances": RAW}, MIXED_SCHEMA, 100)
    np.testing.assert_array_equal(batch.Z, Z)
    np.testing.assert_array_equal(batch.X, MIXED_SCHEMA.encode(Z))
    assert batch.X.dtype == np.float32 and len(batch) == len(RAW)


def test_explain_label_filter_reads_the_label_at_the_threshold(tmp_path):
    card = dataclasses.replace(structural_bundle(tmp_path / "tiny").card, threshold=0.8)  # classes good, bad
    columns = np.array([[0.5, 0.5], [0.1, 0.9], [0.3, 0.7]])
    assert select_rows(ExplainIf(labels=("bad",)), card, columns, Caps()) == [1]
    assert select_rows(ExplainIf(labels=("good",)), card, columns, Caps()) == [0, 2]
