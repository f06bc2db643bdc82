"""Validation metrics on hand-checkable cases, the F1 threshold, the plateau rule, batch sizes and class weights."""

from __future__ import annotations

import math

import numpy as np
import pytest

from litelens.build.metrics import best_f1_threshold, confusion, task_metrics
from litelens.build.mlp import Plateau
from litelens.build.pipeline import BuildConfig, BuildInputError, auto_batch_size, balanced_class_weights

CLASSES = ["good", "bad"]


def test_binary_metrics_match_a_hand_count():
    # GIVEN 8 rows, 3 positives, scored so that at 0.5: TP 2, FN 1, FP 1, TN 4
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.45])
    m = task_metrics("binary", y, p[:, None], CLASSES)
    assert confusion(y, (p >= 0.5).astype(int), 2).tolist() == [[4, 1], [1, 2]]
    assert m["accuracy"] == 6 / 8
    assert m["precision[bad]"] == 2 / 3 and m["recall[bad]"] == 2 / 3
    assert m["precision[good]"] == 4 / 5 and m["recall[good]"] == 4 / 5
    assert m["f1"] == pytest.approx(2 / 3)
    # PR AUC = average precision: sum over positives (by score) of precision at its rank / positives
    order = np.argsort(-p)
    hits = y[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(y) + 1)
    assert m["pr_auc"] == pytest.approx(float(np.sum(precision_at[hits == 1]) / hits.sum()))
    # ROC AUC: the share of (positive, negative) pairs ranked right
    pairs = [(a > b) for a in p[y == 1] for b in p[y == 0]]
    assert m["auc"] == pytest.approx(np.mean(pairs))
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert m["log_loss"] == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_the_threshold_moves_the_labels_not_the_ranking():
    y = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.45])[:, None]
    low = task_metrics("binary", y, p, CLASSES, threshold=0.42)
    assert low["recall[bad]"] == 1.0 and low["auc"] == task_metrics("binary", y, p, CLASSES)["auc"]


def test_multiclass_metrics_recall_per_class():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.eye(3)[[0, 1, 1, 1, 2, 0]] * 0.8 + 0.2 / 3
    m = task_metrics("multiclass", y, pred, ["low", "medium", "high"])
    assert (m["recall[low]"], m["recall[medium]"], m["recall[high]"]) == (0.5, 1.0, 0.5)
    assert m["precision[medium]"] == 2 / 3 and m["accuracy"] == 4 / 6
    assert "log_loss" in m and "auc" in m


def test_auto_threshold_is_the_best_f1_on_the_rows():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.15).astype(int)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    t = best_f1_threshold(y, p)
    f1 = {c: task_metrics("binary", y, p[:, None], CLASSES, c)["f1"] for c in np.unique(p)}
    assert 0 < t < 1
    assert task_metrics("binary", y, p[:, None], CLASSES, t)["f1"] == pytest.approx(max(f1.values()))


def test_plateau_ignores_gains_below_min_delta():
    # GIVEN a loss creeping down by 0.01% an epoch: below a 0.1% relative min_delta
    plateau = Plateau(min_delta=1e-3, patience=3, lr_patience=2, lr_factor=0.5, min_lr=1e-5)
    decisions = [plateau.update(e, 0.5 * (1 - 1e-4 * e), 1e-3) for e in range(4)]
    # THEN every epoch is the best so far, yet the LR halves after 2 and training stops after 3
    assert all(best for best, _, _ in decisions)
    assert [lr for _, lr, _ in decisions] == [None, None, 5e-4, None]
    assert [stop for _, _, stop in decisions] == [False, False, False, True]
    # a real gain resets both counts
    plateau = Plateau(min_delta=1e-3, patience=2, lr_patience=5, lr_factor=0.5, min_lr=1e-5)
    assert [plateau.update(e, 0.5 * 0.99**e, 1e-3)[2] for e in range(6)] == [False] * 6


def test_auto_batch_size_keeps_small_builds_and_scales_large_ones():
    assert auto_batch_size(400) == 64 and auto_batch_size(1 << 17) == 64
    assert auto_batch_size(800_000) == 2048 and auto_batch_size(10**8) == 4096


def test_balanced_class_weights_equalize_the_classes():
    y = np.array([0] * 90 + [1] * 10)
    w = balanced_class_weights(y, 2)
    assert w.tolist() == pytest.approx([100 / 180, 100 / 20])
    assert math.isclose((w[y] * (y == 1)).sum(), (w[y] * (y == 0)).sum())


@pytest.mark.parametrize(
    "change", [{"threshold": 1.0}, {"threshold": 0}, {"threshold": "best"}, {"class_weight": "equal"}, {"min_delta": 1}]
)
def test_config_refuses_bad_threshold_and_class_weight(change):
    with pytest.raises(BuildInputError):
        BuildConfig(**change).validate()
