"""The model runtime under the handlers over trained bundles: predict_batch (chunks, resizes, threads),
bundles that must not be served, and the function's output lines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from litelens.build.bundle import Bundle, BundleError, write_bundle
from litelens.functions.common.model import Model, load_model
from tests.support.structural_bundle import numeric_lime_stats


@pytest.fixture(scope="module")
def model(binary_bundle) -> Model:
    return load_model(str(binary_bundle))


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform([18, 1e4, 0, 0], [90, 2e5, 1.5, 40], size=(n, 4))


def test_batch_equals_row_by_row(model):
    X = rows(50)
    batch = model.predict_batch(X)
    single = np.concatenate([model.predict_batch(X[i : i + 1]) for i in range(len(X))])
    assert batch.shape == (50, 1) and batch.dtype == np.float32
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-6)
    assert ((batch > 0) & (batch < 1)).all()


def test_chunks_give_the_same_answer_and_resizes_happen_only_on_new_sizes(binary_bundle, monkeypatch):
    chunked = load_model(str(binary_bundle))
    chunked.max_chunk = 7
    resizes = []
    original = chunked.runner._resize
    monkeypatch.setattr(chunked.runner, "_resize", lambda n: (resizes.append(n), original(n)))
    X = rows(20)
    np.testing.assert_allclose(chunked.predict_batch(X), load_model(str(binary_bundle)).predict_batch(X), rtol=1e-5)
    assert resizes == [7, 6]  # 7, 7 (reused), 6
    chunked.predict_batch(X[:6])
    assert resizes == [7, 6]  # same size as the last chunk: no new allocation


def test_float64_and_lists_are_accepted_wrong_shapes_are_not(model):
    X = rows(3)
    np.testing.assert_array_equal(model.predict_batch(X), model.predict_batch(X.astype(np.float32)))
    np.testing.assert_array_equal(model.predict_batch(X.tolist()), model.predict_batch(X))
    assert model.predict_batch(np.empty((0, 4))).shape == (0, 1)
    for bad in (np.zeros(4), np.zeros((2, 5)), np.zeros((1, 2, 4))):
        with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
            model.predict_batch(bad)


def test_concurrent_callers_get_their_own_answers(model):
    # GIVEN batches of different sizes (each forcing a resize) computed one at a time
    batches = [rows(n, seed=n) for n in (1, 3, 17, 1, 64, 5, 3, 200)] * 4
    expected = [model.predict_batch(X) for X in batches]
    # WHEN 8 threads run them at once (SHAP/LIME in the twin share one model)
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(model.predict_batch, batches))
    # THEN each caller gets exactly its own rows' outputs
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_multiclass_outputs_are_probabilities(multiclass_bundle):
    out = load_model(str(multiclass_bundle)).predict_batch(rows(10))
    assert out.shape == (10, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_model_and_card_disagreeing_is_refused(binary_bundle, tmp_path):
    # GIVEN a card that claims 5 features for a 4-input model (every hash valid)
    bundle = Bundle.load(binary_bundle)
    background, weights = bundle.shap_background()
    features = [*bundle.card.features, "extra"]
    write_bundle(
        tmp_path / "mismatch",
        name="mismatch",
        task="binary",
        features=features,
        classes=bundle.card.classes,
        target="default",
        model=bundle.model_bytes(),
        shap_background=np.column_stack([background, np.zeros(len(background))]),
        shap_weights=weights,
        lime_stats=numeric_lime_stats(5),
        metrics={},
        quantization="none",
        training={},
        libraries={},
    )
    with pytest.raises(BundleError, match=r"takes 4 inputs .* says 5 features"):
        load_model(str(tmp_path / "mismatch"))


def test_missing_file_is_refused(binary_bundle, tmp_path):
    shutil.copytree(binary_bundle, tmp_path / "b")
    (tmp_path / "b" / "lime_stats.json").unlink()
    with pytest.raises(BundleError, match=r"lime_stats\.json is missing"):
        load_model(str(tmp_path / "b"))


def test_the_function_writes_json_lines_only(binary_bundle):
    # GIVEN a fresh process that cold-starts the predict function and answers one request
    script = (
        "import json, sys\n"
        "from tests.support.predict_app import import_predict_app\n"
        f"app = import_predict_app({str(binary_bundle)!r}, LITELENS_LOG_LEVEL='DEBUG')\n"
        "answer = app.lambda_handler({'instances': [[41, 52000, 0.31, 6]]}, None)\n"
        "assert 'predictions' in answer, answer\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # THEN every line it wrote, on stdout or stderr, is one JSON object (the runtime's C++ notice included)
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in records)
    assert any(r.get("message") == "model runtime output" for r in records)
