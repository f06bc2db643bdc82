"""Every data file of a bundle checked against its card at load (``build.bundle.validation``): each file of
a structural bundle damaged, the card re-hashed so the sha256 check passes, and the load refused with one
BundleError sentence naming the file; the bundles the build writes (NaN in a column with missing values,
categorical codes, the unknown level) still load."""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from litelens.build import stats
from litelens.build.bundle import (
    LIME_STATS_FILE,
    SHAP_BACKGROUND_FILE,
    SHAP_WEIGHTS_FILE,
    Bundle,
    BundleError,
    validation,
    write_bundle,
)
from litelens.build.bundle.schema import CATEGORICAL, DATE, NUMERIC, Column, Schema
from tests.support.structural_bundle import FEATURES, numeric_lime_stats, rehash_card, structural_bundle

N = len(FEATURES)  # the structural bundle: 4 numeric columns, no missing values, 2 background rows


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=True)
    return out.getvalue()


def header_only(shape: tuple[int, ...], data: bytes = b"\0" * 64, *, descr: str = "<f8", version: int = 1) -> bytes:
    """A .npy whose header claims ``shape`` followed by ``data`` (a few bytes, whatever the claim)."""
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    write = np.lib.format.write_array_header_1_0 if version == 1 else np.lib.format.write_array_header_2_0
    write(out, header)
    return out.getvalue() + data


def big_header(length: int) -> bytes:
    """A valid 1.0 header for rows() padded to ``length`` bytes (numpy's readers refuse more than 10,000)."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": (2, N)}).encode()
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", length) + text.ljust(length - 1) + b"\n"


def with_version(content: bytes, major: int) -> bytes:
    return content[:6] + bytes([major]) + content[7:]


def rows(*changes: tuple[int, int, float]) -> np.ndarray:
    background = np.arange(2 * N, dtype=np.float64).reshape(2, N)
    for i, j, value in changes:
        background[i, j] = value
    return background


def stats_json(change: Callable[[dict[str, Any]], Any]) -> bytes:
    data = json.loads(json.dumps({k: {str(i): v for i, v in m.items()} for k, m in numeric_lime_stats(N).items()}))
    change(data)
    return json.dumps(data).encode()


def all_nan(data: dict[str, Any]) -> None:
    for key in data:
        for index in data[key]:
            data[key][index] = [math.nan] * len(data[key][index])


DAMAGE: dict[str, tuple[str, bytes | Callable[[bytes], bytes], str]] = {
    # --- the background: the header before any allocation, then the values
    "bg-empty-file": (SHAP_BACKGROUND_FILE, b"", "not a readable .npy"),
    "bg-not-npy": (SHAP_BACKGROUND_FILE, b"PK\x03\x04 a zip, not an array", "not a readable .npy"),
    "bg-cut-in-magic": (SHAP_BACKGROUND_FILE, lambda b: b[:5], "not a readable .npy"),
    "bg-cut-in-length": (SHAP_BACKGROUND_FILE, lambda b: b[:9], "its header claims"),
    "bg-cut-in-header": (SHAP_BACKGROUND_FILE, lambda b: b[:30], "claims 118 bytes .* a file of 30 bytes"),
    "bg-bad-header": (SHAP_BACKGROUND_FILE, lambda b: b[:10] + b"{'descr': os.system('x')" + b[34:], "not a readable"),
    "bg-truncated": (SHAP_BACKGROUND_FILE, lambda b: b[:-5], r"but 59 bytes follow it \(truncated"),
    "bg-padded": (SHAP_BACKGROUND_FILE, lambda b: b + b"\0" * 8, "truncated or padded"),
    "bg-huge-shape": (SHAP_BACKGROUND_FILE, header_only((10**6, 10**6)), r"shape \(1000000, 1000000\) must have"),
    "bg-huge-claim": (SHAP_BACKGROUND_FILE, header_only((10**6, N)), r"header says \(1000000, 4\) float64 \(32000000"),
    "bg-huge-claim-v2": (SHAP_BACKGROUND_FILE, header_only((10**6, N), version=2), r"says \(1000000, 4\)"),
    "bg-huge-header": (SHAP_BACKGROUND_FILE, b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1), "claims 4294967295"),
    "bg-header-past-end": (SHAP_BACKGROUND_FILE, b"\x93NUMPY\x01\x00\x00\x01{}", "claims 256 bytes"),
    "bg-big-header": (SHAP_BACKGROUND_FILE, big_header(20_000) + rows().tobytes(), "claims 20000 bytes"),
    "bg-format-3": (SHAP_BACKGROUND_FILE, lambda b: with_version(b, 3), "format 3.0, not 1.0 or 2.0"),
    "bg-negative-shape": (SHAP_BACKGROUND_FILE, header_only((-2, -4)), "negative dimension"),
    "bg-object-dtype": (SHAP_BACKGROUND_FILE, npy_bytes(np.array([[object()] * N] * 2)), r"dtype \|O"),
    "bg-float32": (SHAP_BACKGROUND_FILE, npy_bytes(rows().astype(np.float32)), "dtype <f4"),
    "bg-big-endian": (SHAP_BACKGROUND_FILE, npy_bytes(rows().astype(">f8")), "dtype >f8"),
    "bg-int64": (SHAP_BACKGROUND_FILE, npy_bytes(rows().astype(np.int64)), "dtype <i8"),
    "bg-structured": (SHAP_BACKGROUND_FILE, header_only((2,), descr=[("a", "<f8")]), "not little-endian float64"),
    "bg-3d": (SHAP_BACKGROUND_FILE, npy_bytes(rows()[:, :, None]), r"shape \(2, 4, 1\) must have shape \(K, 4\)"),
    "bg-1d": (SHAP_BACKGROUND_FILE, npy_bytes(rows().ravel()), r"shape \(8,\) must have shape"),
    "bg-5-columns": (SHAP_BACKGROUND_FILE, npy_bytes(np.zeros((2, N + 1))), r"the card's 4 columns"),
    "bg-no-rows": (SHAP_BACKGROUND_FILE, npy_bytes(np.zeros((0, N))), "K >= 1"),
    "bg-nan": (SHAP_BACKGROUND_FILE, npy_bytes(rows((1, 2, math.nan))), "row 1, column 2 .* NaN .* no missing"),
    "bg-inf": (SHAP_BACKGROUND_FILE, npy_bytes(rows((0, 3, -math.inf))), "row 0, column 3 .* finite"),
    # --- the weights
    "w-3-weights": (SHAP_WEIGHTS_FILE, npy_bytes(np.full(3, 1 / 3)), r"shape \(3,\) must have shape \(2,\)"),
    "w-column": (SHAP_WEIGHTS_FILE, npy_bytes(np.full((2, 1), 0.5)), r"shape \(2, 1\)"),
    "w-sum": (SHAP_WEIGHTS_FILE, npy_bytes(np.array([0.3, 0.3])), "sum to 0.6, not 1"),
    "w-negative": (SHAP_WEIGHTS_FILE, npy_bytes(np.array([1.5, -0.5])), "finite number >= 0"),
    "w-nan": (SHAP_WEIGHTS_FILE, npy_bytes(np.array([math.nan, 1.0])), "finite number >= 0"),
    "w-object": (SHAP_WEIGHTS_FILE, npy_bytes(np.array([0.5, 0.5], dtype=object)), r"dtype \|O"),
    "w-truncated": (SHAP_WEIGHTS_FILE, lambda b: b[:-1], "truncated"),
    # --- the lime stats
    "ls-not-json": (LIME_STATS_FILE, b"{'means': ", "not readable JSON"),
    "ls-not-utf8": (LIME_STATS_FILE, b"\xff\xfe{}", "not readable JSON"),
    "ls-deep": (LIME_STATS_FILE, b"[" * 100_000 + b"]" * 100_000, "not readable JSON"),
    "ls-list": (LIME_STATS_FILE, b"[]", "not a JSON object"),
    "ls-missing-keys": (
        LIME_STATS_FILE,
        stats_json(lambda d: [d.pop("bins"), d.pop("stds")]),
        "missing 'stds', 'bins'",
    ),
    "ls-all-nan": (LIME_STATS_FILE, stats_json(all_nan), "finite numbers only"),
    "ls-infinity": (
        LIME_STATS_FILE,
        stats_json(lambda d: d["maxs"]["2"].__setitem__(1, math.inf)),
        "'maxs' of column 2",
    ),
    "ls-huge-int": (LIME_STATS_FILE, stats_json(lambda d: d["means"].__setitem__("0", [10**400, 1])), "finite"),
    "ls-string": (LIME_STATS_FILE, stats_json(lambda d: d["means"].__setitem__("1", ["0.25", "0.75"])), "numbers"),
    "ls-bool": (LIME_STATS_FILE, stats_json(lambda d: d["feature_values"].__setitem__("1", [False, True])), "numbers"),
    "ls-scalar": (LIME_STATS_FILE, stats_json(lambda d: d["stds"].__setitem__("3", 0.1)), "'stds' of column 3"),
    "ls-key-object": (LIME_STATS_FILE, stats_json(lambda d: d.__setitem__("means", [1, 2])), "'means' must be an"),
    "ls-no-column": (LIME_STATS_FILE, stats_json(lambda d: d["feature_values"].pop("3")), "no entry for column 3"),
    "ls-extra-column": (LIME_STATS_FILE, stats_json(lambda d: d["bins"].__setitem__("9", [0.5])), "index 9, not a"),
    "ls-padded-index": (LIME_STATS_FILE, stats_json(lambda d: d["bins"].__setitem__("01", [0.5])), "'01', not a"),
    "ls-bins-length": (LIME_STATS_FILE, stats_json(lambda d: d["means"].__setitem__("0", [0.5])), "hold 2 numbers"),
    "ls-no-bins": (LIME_STATS_FILE, stats_json(lambda d: d["bins"].__setitem__("0", [])), "1 to 3 increasing"),
    "ls-bins-order": (LIME_STATS_FILE, stats_json(lambda d: d["bins"].__setitem__("0", [2.0, 1.0])), "increasing"),
    "ls-negative-std": (LIME_STATS_FILE, stats_json(lambda d: d["stds"].__setitem__("0", [0.1, -1.0])), ">= 0"),
    "ls-bin-id": (LIME_STATS_FILE, stats_json(lambda d: d["feature_values"].__setitem__("0", [0, 7])), "0 to 1"),
    "ls-bin-twice": (LIME_STATS_FILE, stats_json(lambda d: d["feature_values"].__setitem__("0", [1, 1])), "distinct"),
    "ls-shares": (LIME_STATS_FILE, stats_json(lambda d: d["feature_frequencies"].__setitem__("2", [0.5])), "shares"),
    "ls-share-sum": (LIME_STATS_FILE, stats_json(lambda d: d["feature_frequencies"]["2"].__setitem__(0, 0.1)), "sum"),
}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    structural_bundle(tmp_path / "b")
    return tmp_path / "b"


def damage(bundle_dir: Path, name: str, content: bytes | Callable[[bytes], bytes]) -> None:
    file = bundle_dir / name
    file.write_bytes(content(file.read_bytes()) if callable(content) else content)
    rehash_card(bundle_dir)


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_file_with_a_rehashed_card_is_refused_naming_the_file(bundle_dir, case):
    # GIVEN one file damaged and the card re-hashed (its sha256 check passes)
    name, content, fault = DAMAGE[case]
    damage(bundle_dir, name, content)
    # THEN the load refuses it: one sentence, naming the file and what is wrong
    with pytest.raises(BundleError, match=fault) as raised:
        Bundle.load(bundle_dir)
    message = str(raised.value)
    assert message.startswith(str(bundle_dir / name) + ": ") and "\n" not in message and len(message) < 400
    # AND a reader of an unverified bundle cannot skip the check
    unverified = Bundle.load(bundle_dir, verify=False)
    read = unverified.lime_stats if name == LIME_STATS_FILE else unverified.shap_background
    with pytest.raises(BundleError, match=fault):
        read()


def test_a_huge_claim_is_refused_before_any_allocation(bundle_dir, monkeypatch):
    # GIVEN a header claiming 8 TB in a file of a few bytes; no array may be made from it
    damage(bundle_dir, SHAP_BACKGROUND_FILE, header_only((2**40, N)))

    def no_read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read data of a file whose header is wrong")

    monkeypatch.setattr(np, "fromfile", no_read)
    monkeypatch.setattr(np, "load", no_read)
    with pytest.raises(BundleError, match="35184372088832 bytes of data"):
        Bundle.load(bundle_dir)


def test_an_oversized_lime_stats_file_is_refused_before_it_is_read(bundle_dir, monkeypatch):
    monkeypatch.setattr(validation, "MAX_LIME_STATS_BYTES", 100)
    with pytest.raises(BundleError, match=r"lime_stats\.json: \d+ bytes; lime stats are at most 100 bytes"):
        Bundle.load(bundle_dir)


def test_the_build_refuses_to_write_a_bundle_no_reader_could_load(tmp_path):
    stats_ = numeric_lime_stats(2)
    stats_["means"][0] = [math.nan, 0.0]
    with pytest.raises(BundleError, match=r"'means' of column 0 \('a'\) must hold finite numbers"):
        write_bundle(
            tmp_path / "b", name="x", task="binary", features=["a", "b"], classes=["n", "y"], target="t", model=b"m",
            shap_background=np.zeros((1, 2)), shap_weights=np.ones(1), lime_stats=stats_,
            metrics={}, quantization="none", training={}, libraries={},
        )  # fmt: skip
    assert not (tmp_path / "b").exists()


def test_an_intact_bundle_reads_as_written(bundle_dir):
    bundle = Bundle.load(bundle_dir)
    background, weights = bundle.shap_background()
    assert background.dtype == np.float64 and background.flags.writeable
    assert np.array_equal(background, rows()) and np.array_equal(weights, [0.5, 0.5])
    assert bundle.lime_stats() == numeric_lime_stats(N)


def test_a_fortran_ordered_background_reads_as_np_load_reads_it(bundle_dir):
    (bundle_dir / SHAP_BACKGROUND_FILE).write_bytes(npy_bytes(np.asfortranarray(rows())))
    rehash_card(bundle_dir)
    background, _ = Bundle.load(bundle_dir).shap_background()
    assert np.array_equal(background, rows())


# --- what the build writes for every kind of column -------------------------------------------------

MIXED = Schema(
    (
        Column("income", NUMERIC, missing=True, median=5.0, min=0.0, max=10.0),
        Column("age", NUMERIC, median=40.0, min=18.0, max=90.0, integer=True),
        Column("region", CATEGORICAL, missing=True, levels=("north", "south")),
        Column("plan", CATEGORICAL, levels=("basic", "pro", "max")),
        Column("signup", DATE, missing=True, median=19000.0, min=18000.0, max=20000.0),
    )
)


def mixed_rows(n: int = 400, seed: int = 0) -> np.ndarray:
    """Column-space training rows of MIXED as the build reads them: NaN for a missing number or date,
    the missing code for a missing level, -1 (UNKNOWN) for a level beyond the build's cap."""
    rng = np.random.default_rng(seed)
    Z = np.column_stack(
        [
            np.where(rng.random(n) < 0.2, np.nan, rng.uniform(0, 10, n)),
            rng.integers(18, 91, n).astype(np.float64),
            rng.integers(0, 3, n).astype(np.float64),  # 2 = missing
            rng.integers(-1, 3, n).astype(np.float64),  # -1 = a level beyond the cap
            np.where(rng.random(n) < 0.1, np.nan, rng.integers(18000, 20001, n).astype(np.float64)),
        ]
    )
    return Z


def write_mixed(path: Path, background: np.ndarray, weights: np.ndarray, lime_stats: dict[str, Any]) -> None:
    write_bundle(
        path, name="mixed", task="binary", features=MIXED.input_names(), classes=["n", "y"], target="t",
        model=b"m", shap_background=background, shap_weights=weights, lime_stats=lime_stats, metrics={},
        quantization="none", training={}, libraries={}, schema=MIXED,
    )  # fmt: skip


def test_the_builds_stats_of_every_column_kind_load(tmp_path):
    # GIVEN the build's own background and lime stats of rows with missing values, levels and dates
    Z = mixed_rows()
    background, _ = stats.kmeans_background(Z, 12, 0, schema=MIXED)
    rows_ = np.vstack([background, Z[np.isnan(Z[:, 0]) & np.isnan(Z[:, 4])][:1], Z[Z[:, 3] == -1][:1]])
    weights_ = np.full(len(rows_), 1 / len(rows_))
    write_mixed(tmp_path / "b", rows_, weights_, stats.lime_training_stats(Z, MIXED))
    bundle = Bundle.load(tmp_path / "b")
    read, _ = bundle.shap_background()
    assert np.isnan(read[:, [0, 4]]).any() and (read[:, 3] == -1).any()
    assert set(bundle.lime_stats()["bins"]) == {0, 1, 4}  # per numeric and date column only


@pytest.mark.parametrize(
    ("j", "value", "fault"),
    [
        (1, math.nan, r"is NaN \(missing\), but the card's schema says"),
        (2, 3.0, r"is 3.0, not a level code of this categorical column \(-1 \.\. 2\)"),
        (3, 3.0, r"is 3.0, not a level code of this categorical column \(-1 \.\. 2\)"),  # no missing level
        (3, 0.5, "is 0.5, not a level code"),
        (2, math.nan, "is nan, not a level code"),
        (3, -2.0, "is -2.0, not a level code"),
        (0, math.inf, "is inf: values must be finite"),
    ],
)
def test_a_value_the_schema_cannot_hold_is_refused(tmp_path, j, value, fault):
    Z = mixed_rows(40)
    background = np.nan_to_num(Z[:2], nan=1.0)
    write_mixed(tmp_path / "b", background, np.array([0.5, 0.5]), stats.lime_training_stats(Z, MIXED))
    background[1, j] = value
    (tmp_path / "b" / SHAP_BACKGROUND_FILE).write_bytes(npy_bytes(background))
    rehash_card(tmp_path / "b")
    with pytest.raises(BundleError, match=rf"{SHAP_BACKGROUND_FILE}: row 1, column {j} \('{MIXED.names[j]}'\) {fault}"):
        Bundle.load(tmp_path / "b")


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        (lambda d: d["bins"].__setitem__("2", [0.5]), r"'bins' has an entry for column index 2, a categorical column"),
        (lambda d: d["feature_values"].__setitem__("3", [0.0, 5.0]), "whole numbers from -1 to 2"),
        (lambda d: d["feature_values"].__setitem__("2", [0.0, 1.5]), "whole numbers"),
        (lambda d: d["means"].pop("4"), r"'means' has no entry for column 4 \('signup'\)"),
    ],
)
def test_lime_stats_of_a_categorical_column_are_its_codes(tmp_path, change, fault):
    Z = mixed_rows(40)
    write_mixed(
        tmp_path / "b", np.nan_to_num(Z[:2], nan=1.0), np.array([0.5, 0.5]), stats.lime_training_stats(Z, MIXED)
    )
    file = tmp_path / "b" / LIME_STATS_FILE
    data = json.loads(file.read_text())
    change(data)
    file.write_text(json.dumps(data))
    rehash_card(tmp_path / "b")
    with pytest.raises(BundleError, match=fault):
        Bundle.load(tmp_path / "b")


def test_mutated_headers_are_a_bundle_error_or_a_valid_array(bundle_dir, capsys):
    # GIVEN 400 seeded mutations of the background's header (numpy's literal parser raises ValueError,
    # TypeError, SyntaxError, SystemError or TokenError on them, and warns on stderr)
    original = (bundle_dir / SHAP_BACKGROUND_FILE).read_bytes()
    bundle = Bundle.load(bundle_dir)
    rng = np.random.default_rng(24)
    alphabet = np.frombuffer(b"{}()[]'\",:#\\ \n\tadefilorstuxFT0123456789<>|-+.e_\x00\xff", dtype=np.uint8)
    outcomes = set()
    for _ in range(400):
        content = bytearray(original)
        for position in rng.integers(8, 128, size=rng.integers(1, 5)):
            content[position] = int(rng.choice(alphabet))
        (bundle_dir / SHAP_BACKGROUND_FILE).write_bytes(bytes(content))
        try:
            background, _ = bundle.shap_background()  # the reader checks, whatever the card says
        except BundleError as exc:
            outcomes.add(str(exc).split(": ")[1].split(" (")[0][:30])
        else:
            assert background.shape == (2, N)
    # THEN every one is a BundleError or the array itself, and nothing reached stderr
    assert len(outcomes) > 3 and capsys.readouterr().err == ""
