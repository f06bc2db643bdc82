"""End-to-end builds on small data: all three tasks, every quantization, the gate, determinism, inspect.

Trains real (tiny) models: the session bundles come from tests/conftest.py; the rest build in seconds.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from litelens.build import export
from litelens.build.bundle import (
    CARD_FILE,
    LIME_STATS_FILE,
    MODEL_FILE,
    SHAP_BACKGROUND_FILE,
    Bundle,
    BundleError,
)
from litelens.build.pipeline import BuildConfig, MetricGateError, build_bundle
from litelens.infra.cli import main
from tests.support.bundles import CLASSES, FEATURES, TARGETS, credit_rows, credit_target, make_test_bundle

pytestmark = pytest.mark.slow

# How far TFLite may stray from Keras per export mode, on probabilities / standardized outputs.
TOLERANCE = {"none": 1e-4, "float16": 5e-3, "dynamic": 5e-2, "int8": 1e-1}


def _keras_like_reference(bundle: Bundle, X: np.ndarray) -> np.ndarray:
    return export.tflite_predict(bundle.model_bytes(), X)


@pytest.mark.parametrize(
    ("fixture", "task", "width"),
    [("binary_bundle", "binary", 1), ("multiclass_bundle", "multiclass", 3), ("regression_bundle", "regression", 1)],
)
def test_session_bundles_have_the_fixed_schema_and_run(fixture, task, width, request):
    bundle = Bundle.load(request.getfixturevalue(fixture))
    card = bundle.card
    assert card.task == task and card.features == FEATURES and card.target == TARGETS[task]
    assert card.classes == CLASSES[task] and card.n_outputs == width
    assert card.input_dtype == "float32" and card.input_shape == [None, 4]
    # the served model takes raw units and gives one row per input row
    pred = export.tflite_predict(bundle.model_bytes(), credit_rows(25, seed=9))
    assert pred.shape == (25, width) and np.all(np.isfinite(pred))
    if task != "regression":
        assert np.all((pred >= 0) & (pred <= 1))
    if task == "multiclass":
        assert np.allclose(pred.sum(axis=1), 1, atol=1e-5)
    # the card records both models' metrics, the config, the versions, the hashes
    assert set(card.metrics["keras"]) == set(card.metrics["tflite"])
    assert card.training["hidden"] == [128, 64] and card.training["epochs_run"] >= 1
    assert {"tensorflow-cpu", "keras", "numpy", "ai-edge-litert"} <= set(card.libraries)
    assert set(card.files) == {MODEL_FILE, SHAP_BACKGROUND_FILE, "shap_background_weights.npy", LIME_STATS_FILE}
    rows, weights = bundle.shap_background()
    assert rows.shape == (10, 4) and np.isclose(weights.sum(), 1)
    assert set(bundle.lime_stats()["bins"]) == {0, 1, 2, 3}


def test_models_learn_something(binary_bundle, multiclass_bundle, regression_bundle):
    # 3 epochs on 400 rows is little, but clearly better than chance / the mean
    assert Bundle.load(binary_bundle).card.metrics["tflite"]["auc"] > 0.7
    assert Bundle.load(multiclass_bundle).card.metrics["tflite"]["auc"] > 0.7
    assert Bundle.load(regression_bundle).card.metrics["tflite"]["r2"] > 0.5


@pytest.mark.parametrize("quantize", ["float16", "dynamic", "int8"])
def test_quantized_exports_agree_with_keras(quantize, tmp_path):
    path = make_test_bundle(tmp_path / quantize, "binary", quantize=quantize, epochs=3)
    card = Bundle.load(path).card
    assert card.quantization == quantize
    assert card.metrics["max_abs_delta"] <= TOLERANCE[quantize], card.metrics
    assert abs(card.metrics["keras"]["auc"] - card.metrics["tflite"]["auc"]) <= 0.01


def test_float32_export_matches_keras_and_quantization_shrinks_the_model(binary_bundle, tmp_path):
    card = Bundle.load(binary_bundle).card
    assert card.metrics["max_abs_delta"] <= TOLERANCE["none"]
    int8 = Bundle.load(make_test_bundle(tmp_path / "int8", "binary", quantize="int8", epochs=1)).card
    assert int8.metrics["tflite_bytes"] < card.metrics["tflite_bytes"] / 2


def test_multiclass_and_regression_int8_stay_close(tmp_path):
    for task in ("multiclass", "regression"):
        card = Bundle.load(make_test_bundle(tmp_path / task, task, quantize="int8", epochs=2)).card
        if task == "regression":
            scale = float(np.std(credit_target(credit_rows(400), "regression")))
            assert card.metrics["max_abs_delta"] <= TOLERANCE["int8"] * scale
        else:
            assert card.metrics["max_abs_delta"] <= TOLERANCE["int8"]


def _without_date(card):
    return {k: v for k, v in card.to_json().items() if k not in ("version", "created_at")}


def test_same_seed_same_metrics_and_model(tmp_path):
    first = Bundle.load(make_test_bundle(tmp_path / "a", "binary", epochs=4, seed=3)).card
    second = Bundle.load(make_test_bundle(tmp_path / "b", "binary", epochs=4, seed=3)).card
    other = Bundle.load(make_test_bundle(tmp_path / "c", "binary", epochs=4, seed=4)).card
    assert first.metrics == second.metrics
    assert first.files[MODEL_FILE] == second.files[MODEL_FILE] and first.files == second.files
    # the version hashes every card field, created_at included: two builds' cards differ only there
    assert _without_date(first) == _without_date(second) and first.version != second.version
    assert first.files[MODEL_FILE] != other.files[MODEL_FILE]


def test_accuracy_gate_refuses_and_writes_nothing(tmp_path, monkeypatch):
    # GIVEN an exported model whose predictions are off (simulated by a corrupting runtime)
    real = export.tflite_predict

    def worse(model_bytes, X):
        pred = real(model_bytes, X)
        return 1.0 - pred  # flips every decision

    monkeypatch.setattr(export, "tflite_predict", worse)
    X = credit_rows(300)
    y = credit_target(X, "binary")
    out = tmp_path / "gated"
    # WHEN building THEN the build is refused with both numbers and no folder appears
    with pytest.raises(MetricGateError, match=r"below Keras \d\.\d{4}"):
        build_bundle(X, y, FEATURES, "default", "binary", out, BuildConfig(epochs=2), classes=["good", "bad"])
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_accuracy_gate_from_the_command_line_exits_2_with_both_numbers(tmp_path, monkeypatch, capsys):
    real = export.tflite_predict
    monkeypatch.setattr(export, "tflite_predict", lambda model_bytes, X: 1.0 - real(model_bytes, X))
    X = credit_rows(200)
    csv = tmp_path / "train.csv"
    csv.write_text(
        "age,income,debt_ratio,tenure,default\n"
        + "\n".join(
            ",".join(f"{v:.4f}" for v in row) + f",{label}"
            for row, label in zip(X, credit_target(X, "binary"), strict=True)
        )
    )
    out = tmp_path / "bundles" / "gated"
    code = main(["build", "--data", str(csv), "--target", "default", "--out", str(out), "--epochs", "2"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "refusing to write the bundle" in err and "below Keras" in err and "allowed drop 0.01" in err
    assert not out.exists() and not (tmp_path / "bundles").exists()


def test_cli_build_from_csv_infers_task_prints_summary_and_inspects(tmp_path, capsys):
    X = credit_rows(300, seed=1)
    y = credit_target(X, "multiclass", seed=1)
    names = np.array(["low", "medium", "high"])[y]
    csv = tmp_path / "train.csv"
    csv.write_text(
        "age,income,debt_ratio,tenure,tier\n"
        + "\n".join(",".join(f"{v:.4f}" for v in row) + f",{label}" for row, label in zip(X, names, strict=True))
    )
    out = tmp_path / "bundles" / "tier"
    code = main(["build", "--data", str(csv), "--target", "tier", "--out", str(out), "--epochs", "3"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "task: multiclass (inferred from the target" in stdout
    assert "epoch   1/3" in stdout and "summary" in stdout and "validation accuracy" in stdout
    card = Bundle.load(out).card
    assert card.classes == ["high", "low", "medium"]  # text labels: sorted order, printed and stored
    assert card.features == FEATURES and card.training["epochs"] == 3
    # inspect: intact -> 0 and prints the card
    assert main(["inspect", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "multiclass" in printed and "verified" in printed and "tenure" in printed
    # rebuilding over it needs --force
    assert main(["build", "--data", str(csv), "--target", "tier", "--out", str(out), "--epochs", "1"]) == 2
    assert Bundle.load(out).card.version == card.version


def test_round_trip_tampering_is_detected(binary_bundle, tmp_path, capsys):
    bundle_dir = tmp_path / "copy"
    shutil.copytree(binary_bundle, bundle_dir)
    original = Bundle.load(bundle_dir)
    assert original.verify() == []
    card_json = json.loads((bundle_dir / CARD_FILE).read_text())
    assert card_json["files"][MODEL_FILE] == original.card.files[MODEL_FILE]
    # WHEN one byte of the model changes
    model = bytearray((bundle_dir / MODEL_FILE).read_bytes())
    model[-1] ^= 0xFF
    (bundle_dir / MODEL_FILE).write_bytes(bytes(model))
    # THEN loading refuses it, verify names it, inspect exits 1 and says MISMATCH
    with pytest.raises(BundleError, match=r"model\.tflite sha256"):
        Bundle.load(bundle_dir)
    assert [p.split()[0] for p in Bundle.load(bundle_dir, verify=False).verify()] == [MODEL_FILE]
    assert main(["inspect", str(bundle_dir)]) == 1
    assert "MISMATCH" in capsys.readouterr().out
    assert main(["inspect", "--json", str(bundle_dir)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["card"]["version"] == original.card.version and report["problems"][0].startswith(MODEL_FILE)
    # a missing file is a mismatch too; a folder without a card is not a bundle (exit 2)
    (bundle_dir / LIME_STATS_FILE).unlink()
    assert main(["inspect", str(bundle_dir)]) == 1
    assert main(["inspect", str(tmp_path)]) == 2
    assert "no bundle.json" in capsys.readouterr().err


def test_learning_rate_reductions_are_logged_and_recorded(tmp_path):
    # GIVEN labels that are pure noise: validation loss stops improving at once
    rng = np.random.default_rng(0)
    X = credit_rows(300)
    y = rng.integers(0, 2, len(X))
    lines: list[str] = []
    config = BuildConfig(epochs=6, lr_patience=1, patience=10, learning_rate=1e-2)
    result = build_bundle(
        X, y, FEATURES, "default", "binary", tmp_path / "noise", config, classes=["good", "bad"], log=lines.append
    )
    # THEN each reduction is a line of the log and the card's training record, and early stopping restored the best
    changes = [line for line in lines if "learning rate" in line and "->" in line]
    assert changes and "1.00e-02 -> 5.00e-03" in changes[0]
    card = Bundle.load(result.path).card
    assert [c["lr"] for c in card.training["lr_changes"]] == [lr for _, lr in result.lr_changes]
    assert np.isclose(card.training["final_lr"], 1e-2 * 0.5 ** len(changes))
    assert card.training["epochs_run"] == 6 and len([line for line in lines if "epoch " in line]) >= 6


def test_bundle_lime_stats_drive_lime_without_training_rows(binary_bundle):
    lime_tabular = pytest.importorskip("lime.lime_tabular")
    bundle = Bundle.load(binary_bundle)
    rows, _ = bundle.shap_background()
    # GIVEN only what the bundle stores (the k-means rows stand in for training data, as at serve time)
    explainer = lime_tabular.LimeTabularExplainer(
        rows,
        feature_names=bundle.card.features,
        class_names=bundle.card.classes,
        discretize_continuous=True,
        training_data_stats=bundle.lime_stats(),
        random_state=0,
    )
    # THEN the quartile bins are the training rows' ones, not the background's
    stats = bundle.lime_stats()
    for j in range(bundle.card.n_features):
        assert np.allclose(explainer.discretizer.mins[j][1:], stats["bins"][j])

    def predict_proba(X):
        p = export.tflite_predict(bundle.model_bytes(), X)
        return np.hstack([1 - p, p])

    explanation = explainer.explain_instance(credit_rows(1, seed=5)[0], predict_proba, num_samples=300)
    assert len(explanation.as_list(label=1)) == 4
