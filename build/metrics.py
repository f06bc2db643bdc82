"""Validation metrics that stay honest on imbalanced classes, and the decision threshold.

``task_metrics`` gives one flat map of numbers per model (Keras and TFLite side by side in the card):

- binary (the output is P(classes[1])): ``auc`` (ROC AUC), ``pr_auc`` (average precision: the
  area under the precision-recall curve of classes[1], which a rare class cannot hide in),
  ``log_loss``, ``brier``, and at the decision threshold ``accuracy``, ``f1`` (of classes[1]) and
  ``precision[c]`` / ``recall[c]`` for each class ``c``;
- multiclass: ``accuracy``, ``auc`` (one-vs-rest, macro), ``log_loss``, ``precision[c]``, ``recall[c]``;
- regression: ``rmse``, ``r2``.

``confusion`` is the confusion matrix (rows: actual class, columns: predicted) and
``best_f1_threshold`` the threshold ``--threshold auto`` picks. scikit-learn is a build-time
dependency; nothing the functions import imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from litelens.build.bundle import Task, predicted_index

# The gated metrics: higher is better for each. ROC AUC and PR AUC compare the rankings (PR AUC
# is the one a quantized model's error on a rare class shows in), accuracy the labels at the
# threshold; F1 and per-class recall are left out: on a few dozen positives one flipped row moves
# them by a percent. Regression gates on R², which has no units.
GATED: dict[str, tuple[str, ...]] = {
    Task.BINARY: ("accuracy", "auc", "pr_auc"),
    Task.MULTICLASS: ("accuracy", "auc"),
    Task.REGRESSION: ("r2",),
}


def confusion(y: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: row = actual class, column = predicted class."""
    return np.bincount(y * n_classes + predicted, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(matrix: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """``precision[c]`` and ``recall[c]`` from a confusion matrix (NaN where nothing was predicted / present)."""
    out: dict[str, float] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.diag(matrix) / matrix.sum(axis=0)
        recall = np.diag(matrix) / matrix.sum(axis=1)
    for c, name in enumerate(classes):
        out[f"precision[{name}]"] = float(precision[c])
        out[f"recall[{name}]"] = float(recall[c])
    return out


def task_metrics(
    task: str, y: np.ndarray, pred: np.ndarray, classes: Sequence[str] | None = None, threshold: float = 0.5
) -> dict[str, float]:
    """The metrics of predictions ``pred`` (n, outputs) against ``y`` (class indices or numbers)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, r2_score, roc_auc_score

    if task == Task.REGRESSION:
        p = pred.reshape(-1)
        return {"rmse": float(np.sqrt(np.mean((p - y) ** 2))), "r2": float(r2_score(y, p))}
    n_classes = pred.shape[1] if task == Task.MULTICLASS else 2
    names = list(classes) if classes else [str(c) for c in range(n_classes)]
    predicted = predicted_index(task, pred, threshold)  # as the functions label a row
    matrix = confusion(y, predicted, n_classes)
    both = len(np.unique(y)) == n_classes
    metrics = {"accuracy": float(np.mean(predicted == y))}
    if task == Task.BINARY:
        p = np.clip(pred.reshape(-1), 0.0, 1.0)
        metrics["auc"] = float(roc_auc_score(y, p)) if both else float("nan")
        metrics["pr_auc"] = float(average_precision_score(y, p)) if y.any() else float("nan")
        metrics["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
        metrics["brier"] = float(brier_score_loss(y, p, pos_label=1))
        tp, fp, fn = matrix[1, 1], matrix[0, 1], matrix[1, 0]
        metrics["f1"] = float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else float("nan")
    else:
        probs = pred / pred.sum(axis=1, keepdims=True)
        metrics["auc"] = float(roc_auc_score(y, probs, multi_class="ovr", average="macro")) if both else float("nan")
        metrics["log_loss"] = float(log_loss(y, probs, labels=list(range(n_classes))))
    return metrics | per_class(matrix, names)


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold in (0, 1) whose labels ``P >= t`` give classes[1] the highest F1 on ``(y, p)``.

    Candidates are the predicted probabilities themselves (between two of them F1 cannot change);
    among equal F1 the highest threshold wins (fewer positive calls for the same F1)."""
    from sklearn.metrics import precision_recall_curve

    if not y.any():
        return 0.5
    precision, recall, thresholds = precision_recall_curve(y, np.asarray(p, dtype=np.float64).reshape(-1))
    precision, recall = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = np.flatnonzero(f1 == f1.max())[-1]
    tiny = np.finfo(np.float32).eps
    return float(np.clip(thresholds[best], tiny, 1.0 - tiny))


def class_shares(y: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Each class's share of the rows ``y`` (class indices)."""
    counts = np.bincount(y, minlength=len(classes))
    return {name: float(count / max(len(y), 1)) for name, count in zip(classes, counts, strict=True)}
