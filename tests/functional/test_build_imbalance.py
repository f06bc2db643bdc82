"""Imbalanced binary builds: class weights, the decision threshold in the card, the metrics' shape."""

from __future__ import annotations

import numpy as np
import pytest

from litelens.build.bundle import Bundle
from litelens.build.pipeline import BuildConfig, build_bundle
from tests.support.bundles import FEATURES, credit_rows

pytestmark = pytest.mark.slow


def rare_positives(n_rows: int = 800, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rare positives (~10-20%), driven by the debt ratio."""
    X = credit_rows(n_rows, seed)
    rng = np.random.default_rng(seed + 5)
    logit = -4.0 + 4.0 * (X[:, 2] - 0.36) / 0.25
    return X, (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def build(tmp_path, name, **config):
    X, y = rare_positives()
    settings = BuildConfig(epochs=4, batch_size=32, patience=4, **config)
    result = build_bundle(X, y, FEATURES, "default", "binary", tmp_path / name, settings, classes=["good", "bad"],
                          force=True, log=lambda _line: None)  # fmt: skip
    return result, Bundle.load(result.path).card


def test_class_weights_raise_the_minority_recall_and_the_card_reports_imbalance(tmp_path):
    _, plain_card = build(tmp_path, "plain")
    weighted, card = build(tmp_path, "weighted", class_weight="balanced")
    # THEN the rare class is found more often with balanced weights
    assert card.metrics["tflite"]["recall[bad]"] > plain_card.metrics["tflite"]["recall[bad]"]
    assert card.training["class_weight"] == "balanced" and card.training["class_weights"]["bad"] > 1
    # AND the card carries the base rate, the confusion matrix of the validation rows and the threshold
    metrics = card.metrics
    assert 0.02 < metrics["base_rate"]["train"] < 0.3 and metrics["threshold"] == 0.5 and card.threshold is None
    counts = np.array(metrics["confusion_matrix"]["counts"])
    assert counts.shape == (2, 2) and counts.sum() == weighted.validation_rows
    assert counts[1].sum() == round(metrics["base_rate"]["validation"] * weighted.validation_rows)
    assert {"auc", "pr_auc", "log_loss", "brier", "f1", "precision[bad]", "recall[good]"} <= set(metrics["keras"])


def test_the_threshold_given_or_auto_reaches_the_card(tmp_path):
    _, given = build(tmp_path, "given", threshold=0.3)
    assert given.threshold == 0.3 and given.decision_threshold == 0.3 and given.metrics["threshold"] == 0.3
    _, auto = build(tmp_path, "auto", threshold="auto")
    assert 0 < auto.threshold < 1 and auto.metrics["threshold"] == auto.threshold
    assert auto.training["threshold"] == "auto"
