"""What the explainers need from the training rows, computed once at build time.

- the SHAP background: k-means centres of the training rows weighted by cluster size (what
  ``shap.kmeans`` returns, computed with scikit-learn so the build does not need shap);
- LIME's ``training_data_stats``: exactly what ``LimeTabularExplainer(discretize_continuous=True,
  discretizer="quartile")`` would compute from the same rows, so the explain function never needs them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

# lime adds this to every per-bin std (discretize.BaseDiscretizer) so a constant bin never divides by 0.
_LIME_STD_EPS = 1e-11
KMEANS_FIT_ROWS = 4000
KMEANS_INITS = 4


def kmeans_background(
    X: np.ndarray, k: int = 10, seed: int = 0, *, fit_rows: int = KMEANS_FIT_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """``(centres (K, F) float64, weights (K,))``: k-means summary of ``X``, weights = cluster size / n.

    Like ``shap.kmeans``, each centre coordinate is snapped to the nearest value that feature takes in
    ``X`` (so a 0/1 feature stays 0/1). ``K`` is capped at the number of distinct rows. The centres are
    fitted on at most ``fit_rows`` sampled rows (a 4k sample summarizes as well as 16k rows at a
    fraction of the cost); the weights count every row of ``X``.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    k = max(1, min(int(k), len(np.unique(X, axis=0))))
    rng = np.random.default_rng(seed)
    sample = X if len(X) <= fit_rows else X[np.sort(rng.choice(len(X), size=fit_rows, replace=False))]
    with threadpool_limits(1):  # on a busy 2-core box OpenMP threads oversubscribe: 1 thread is ~8x faster
        km = KMeans(n_clusters=k, n_init=KMEANS_INITS, random_state=seed).fit(sample)
        labels = km.predict(X)
    centres = km.cluster_centers_.copy()
    for j in range(X.shape[1]):
        column = np.unique(X[:, j])
        if len(column) == 1:
            centres[:, j] = column[0]
            continue
        idx = np.clip(np.searchsorted(column, centres[:, j]), 1, len(column) - 1)
        left, right = column[idx - 1], column[idx]
        centres[:, j] = np.where(np.abs(centres[:, j] - left) <= np.abs(right - centres[:, j]), left, right)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    keep = counts > 0
    return centres[keep], counts[keep] / counts[keep].sum()


def lime_training_stats(X: np.ndarray) -> dict[str, dict[int, Any]]:
    """LIME's ``training_data_stats`` for the default quartile discretizer, keyed by feature index.

    Mirrors ``lime.discretize.QuartileDiscretizer`` + ``LimeTabularExplainer``: ``bins`` are the
    unique 25/50/75th percentiles; per bin (``searchsorted(bins, x)``): mean, std (+1e-11), min and max
    edges; ``feature_values``/``feature_frequencies`` are the discretized bin ids seen and their counts.
    """
    X = np.asarray(X, dtype=np.float64)
    stats: dict[str, dict[int, Any]] = {k: {} for k in ("means", "mins", "maxs", "stds", "feature_values")}
    stats["feature_frequencies"] = {}
    stats["bins"] = {}
    for j in range(X.shape[1]):
        column = X[:, j]
        qts = np.unique(np.percentile(column, [25, 50, 75]))
        binned = np.searchsorted(qts, column)
        means, stds = [], []
        for b in range(len(qts) + 1):
            selection = column[binned == b]
            means.append(float(np.mean(selection)) if len(selection) else 0.0)
            stds.append((float(np.std(selection)) if len(selection) else 0.0) + _LIME_STD_EPS)
        counts = sorted(Counter(binned.tolist()).items())
        stats["bins"][j] = qts.tolist()
        stats["means"][j] = means
        stats["stds"][j] = stds
        stats["mins"][j] = [float(column.min()), *qts.tolist()]
        stats["maxs"][j] = [*qts.tolist(), float(column.max())]
        stats["feature_values"][j] = [float(v) for v, _ in counts]
        stats["feature_frequencies"][j] = [float(c) / len(column) for _, c in counts]
    return stats
