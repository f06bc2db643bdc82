"""A damaged bundle whose card was re-hashed (an unsigned publisher, a broken build) fails both functions'
init the same way: one ERROR log line naming the file and the fault, a BundleError, no traceback of
MemoryError, allow_pickle's ValueError or an IndexError from the explainers."""

from __future__ import annotations

import io
import json
import math
import shutil

import numpy as np
import pytest

from litelens.build.bundle import LIME_STATS_FILE, SHAP_BACKGROUND_FILE, BundleError
from tests.support.predict_app import import_explain_app, import_predict_app
from tests.support.structural_bundle import rehash_card


def huge_claim(_: bytes) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    return out.getvalue() + b"\0" * 64


def object_dtype(content: bytes) -> bytes:
    out = io.BytesIO()
    rows = np.load(io.BytesIO(content), allow_pickle=False)
    np.save(out, rows.astype(object), allow_pickle=True)
    return out.getvalue()


def all_nan(content: bytes) -> bytes:
    data = json.loads(content)
    for per_column in data.values():
        for j, values in per_column.items():
            per_column[j] = [math.nan] * len(values)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("name", "damage", "fault"),
    [
        (SHAP_BACKGROUND_FILE, huge_claim, r"shape \(1000000, 1000000\) must have shape \(K, 4\)"),
        (SHAP_BACKGROUND_FILE, object_dtype, r"dtype \|O \(object\), not little-endian float64"),
        (LIME_STATS_FILE, all_nan, "must hold finite numbers only"),
    ],
    ids=["huge-header", "object-dtype", "all-nan-lime-stats"],
)
@pytest.mark.parametrize("import_app", [import_predict_app, import_explain_app], ids=["predict", "explain"])
def test_a_damaged_rehashed_bundle_fails_init_with_one_log_line(
    binary_bundle, tmp_path, capsys, import_app, name, damage, fault
):
    # GIVEN a trained bundle with one file damaged and its card re-hashed (the sha256 check passes)
    broken = tmp_path / "bundle"
    shutil.copytree(binary_bundle, broken)
    (broken / name).write_bytes(damage((broken / name).read_bytes()))
    rehash_card(broken)
    # WHEN the function starts THEN its init fails with the BundleError naming the file
    with pytest.raises(BundleError, match=fault):
        import_app(broken)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1, lines
    line = json.loads(lines[0])
    assert line["level"] == "ERROR" and line["message"] == "cannot load the model bundle; not serving"
    assert line["error"].startswith(f"{broken / name}: ") and "Traceback" not in captured.err
