"""What the explainers need from the training rows, computed once at build time, in column space.

Both work on the training rows in the schema's column space (``build.bundle.schema``: one value per
raw column; categorical columns hold level codes, NaN marks a missing number or date):

- the SHAP background: real training rows, one per k-means cluster (the cluster's medoid: the row
  nearest its centre), weighted by cluster size. Never an average: every background row is a row the
  model could be sent (an integer stays an integer, a category a category);
- LIME's ``training_data_stats``: for numeric and date columns exactly what
  ``LimeTabularExplainer(discretize_continuous=True, discretizer="quartile")`` would compute from the
  same values (missing values left out); for a categorical column the level codes seen and their
  frequencies, as lime keeps them for its ``categorical_features``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from litelens.build.bundle.schema import CATEGORICAL, NUMERIC, Column, Schema

# lime adds this to every per-bin std (discretize.BaseDiscretizer) so a constant bin never divides by 0.
_LIME_STD_EPS = 1e-11
KMEANS_FIT_ROWS = 4000
KMEANS_INITS = 4


def numeric_column(name: str, values: np.ndarray) -> Column:
    """A numeric column as training saw it: median (what a missing value becomes), range, whole numbers, missing."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if not len(present):
        raise ValueError(f"column {name!r} has no values")
    return Column(
        name,
        NUMERIC,
        missing=bool(len(present) < len(values)),
        median=float(np.median(present)),
        min=float(present.min()),
        max=float(present.max()),
        integer=bool(np.all(np.mod(present, 1) == 0)),
    )


def numeric_schema(names: list[str], X: np.ndarray) -> Schema:
    """The schema of plain numeric columns ``names`` over training rows ``X`` (medians and ranges)."""
    X = np.asarray(X, dtype=np.float64)
    return Schema(tuple(numeric_column(name, X[:, j]) for j, name in enumerate(names)))


def kmeans_background(
    X: np.ndarray, k: int = 10, seed: int = 0, *, schema: Schema | None = None, fit_rows: int = KMEANS_FIT_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows (K, n_columns) float64, weights (K,))``: one real row of ``X`` per k-means cluster.

    ``X`` is in ``schema``'s column space (default: plain numeric columns). Clusters are found on
    the model's inputs (``schema.encode``, missing values imputed) standardized per input, fitted on
    at most ``fit_rows`` sampled rows (a 4k sample summarizes as well as 16k rows at a fraction of
    the cost); each cluster is represented by its medoid, the row of ``X`` nearest its centre, and
    weighted by its share of all rows. ``K`` is capped at the number of distinct rows.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    schema = schema or Schema.numeric([f"x{j}" for j in range(X.shape[1])])
    encoded = schema.encode(X).astype(np.float64)
    spread = encoded.std(axis=0)
    scaled = (encoded - encoded.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    k = max(1, min(int(k), len(np.unique(scaled, axis=0))))
    rng = np.random.default_rng(seed)
    sample = (
        scaled if len(scaled) <= fit_rows else scaled[np.sort(rng.choice(len(scaled), size=fit_rows, replace=False))]
    )
    with threadpool_limits(1):  # on a busy 2-core box OpenMP threads oversubscribe: 1 thread is ~8x faster
        km = KMeans(n_clusters=k, n_init=KMEANS_INITS, random_state=seed).fit(sample)
        labels = km.predict(scaled)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    rows, weights = [], []
    for cluster in np.flatnonzero(counts):
        members = np.flatnonzero(labels == cluster)
        distances = ((scaled[members] - km.cluster_centers_[cluster]) ** 2).sum(axis=1)
        rows.append(X[members[int(np.argmin(distances))]])
        weights.append(counts[cluster])
    weights_array = np.asarray(weights)
    return np.asarray(rows), weights_array / weights_array.sum()


def lime_training_stats(X: np.ndarray, schema: Schema | None = None) -> dict[str, dict[int, Any]]:
    """LIME's ``training_data_stats``, keyed by column index, for rows ``X`` in ``schema``'s column space.

    Numeric and date columns mirror ``lime.discretize.QuartileDiscretizer`` + ``LimeTabularExplainer``
    on their non-missing values: ``bins`` are the unique 25/50/75th percentiles; per bin
    (``searchsorted(bins, x)``): mean, std (+1e-11), min and max edges; ``feature_values`` /
    ``feature_frequencies`` are the bin ids seen and their shares. A categorical column has only
    ``feature_values`` (the level codes seen, missing included) and ``feature_frequencies``.
    """
    X = np.asarray(X, dtype=np.float64)
    kinds = [c.kind for c in schema.columns] if schema is not None else [NUMERIC] * X.shape[1]
    stats: dict[str, dict[int, Any]] = {k: {} for k in ("means", "mins", "maxs", "stds", "feature_values")}
    stats["feature_frequencies"] = {}
    stats["bins"] = {}
    for j, kind in enumerate(kinds):
        column = X[:, j]
        if kind == CATEGORICAL:
            counts = sorted(Counter(column.tolist()).items())
            stats["feature_values"][j] = [float(v) for v, _ in counts]
            stats["feature_frequencies"][j] = [float(c) / len(column) for _, c in counts]
            continue
        column = column[~np.isnan(column)]
        if not len(column):  # the build excludes an empty column; a hand-made array may not
            column = np.zeros(1)
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
