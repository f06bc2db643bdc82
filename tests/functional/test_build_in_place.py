"""Splitting the rows in place (what `litelens build` does with the rows it read) builds the same bundle."""

from __future__ import annotations

import numpy as np
import pytest

from litelens.build.pipeline import BuildConfig, build_bundle
from tests.support.bundles import MIXED_SCHEMA, mixed_rows

pytestmark = pytest.mark.slow


def test_in_place_split_gives_the_same_bundle_without_a_copy(tmp_path):
    Z, y = mixed_rows(300, seed=5)
    config = BuildConfig(epochs=2, batch_size=32, seed=0, patience=2, background_k=5)

    def build(rows: np.ndarray, name: str, in_place: bool):
        return build_bundle(
            rows, y, MIXED_SCHEMA.names, "default", "binary", tmp_path / name, config, classes=["good", "bad"],
            name="same", log=lambda _line: None, schema=MIXED_SCHEMA, in_place=in_place,
        )  # fmt: skip

    copied = build(Z.copy(), "copied", in_place=False)
    rows = Z.copy()
    reordered = build(rows, "in-place", in_place=True)

    # THEN the same model, statistics and card (every field but the build time and the version hashing it)
    def same(card):
        return {k: v for k, v in card.to_json().items() if k not in ("version", "created_at")}

    assert same(reordered.card) == same(copied.card)
    # and the caller's array now holds the training rows first: it was reordered, not copied
    assert not np.array_equal(np.nan_to_num(rows, nan=-1.0), np.nan_to_num(Z, nan=-1.0))
    assert sorted(map(tuple, np.nan_to_num(rows, nan=-1.0))) == sorted(map(tuple, np.nan_to_num(Z, nan=-1.0)))
