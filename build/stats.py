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

from typing import Any

import numpy as np

from litelens.build.bundle.schema import CATEGORICAL, NUMERIC, Column, Schema

# lime adds this to every per-bin std (discretize.BaseDiscretizer) so a constant bin never divides by 0.
_LIME_STD_EPS = 1e-11
KMEANS_FIT_ROWS = 4000
KMEANS_INITS = 4
CHUNK_ROWS = 65536


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


def input_moments(
    Z: np.ndarray, schema: Schema | None = None, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per model input, the mean and population variance (float64) of ``schema.encode(Z[rows])``.

    Encoded chunk by chunk (``CHUNK_ROWS``): 800k rows x 100 inputs never exist at once, in float32
    or float64. ``rows`` None: every row."""
    schema = schema or Schema.numeric([f"x{j}" for j in range(Z.shape[1])])
    rows = np.arange(len(Z)) if rows is None else np.asarray(rows)
    chunks = [rows[start : start + CHUNK_ROWS] for start in range(0, len(rows), CHUNK_ROWS)]
    total, squares = np.zeros(schema.n_inputs), np.zeros(schema.n_inputs)
    for chunk in chunks:
        total += schema.encode(Z[chunk]).sum(axis=0, dtype=np.float64)
    mean = total / len(rows)
    for chunk in chunks:
        squares += ((schema.encode(Z[chunk]) - mean) ** 2).sum(axis=0)
    return mean, squares / len(rows)


def kmeans_background(
    X: np.ndarray, k: int = 10, seed: int = 0, *, schema: Schema | None = None, fit_rows: int = KMEANS_FIT_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows (K, n_columns) float64, weights (K,))``: one real row of ``X`` per k-means cluster.

    ``X`` is in ``schema``'s column space (default: plain numeric columns). Clusters are found on
    the model's inputs (``schema.encode``, missing values imputed) standardized per input, fitted on
    at most ``fit_rows`` sampled rows (a 4k sample summarizes as well as 16k rows at a fraction of
    the cost); each cluster is represented by its medoid, the row of ``X`` nearest its centre, and
    weighted by its share of all rows. ``K`` is capped at the number of distinct rows fitted on.
    Works in chunks of ``CHUNK_ROWS`` rows: memory stays at ``X`` plus a chunk, whatever the row count.
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    X = np.asarray(X, dtype=np.float64)
    schema = schema or Schema.numeric([f"x{j}" for j in range(X.shape[1])])
    chunks = [slice(start, start + CHUNK_ROWS) for start in range(0, len(X), CHUNK_ROWS)]
    mean, variance = input_moments(X, schema)
    spread = np.sqrt(variance)
    spread = np.where(spread > 0, spread, 1.0)

    def scaled(rows: slice | np.ndarray) -> np.ndarray:
        return (schema.encode(X[rows]).astype(np.float64) - mean) / spread

    rng = np.random.default_rng(seed)
    sample = scaled(slice(None)) if len(X) <= fit_rows else scaled(np.sort(rng.choice(len(X), fit_rows, replace=False)))
    k = max(1, min(int(k), len(np.unique(sample, axis=0))))  # no more clusters than distinct rows to fit on
    with threadpool_limits(1):  # on a busy 2-core box OpenMP threads oversubscribe: 1 thread is ~8x faster
        km = KMeans(n_clusters=k, n_init=KMEANS_INITS, random_state=seed).fit(sample)
        counts = np.zeros(k)
        nearest = np.full(k, np.inf)  # per cluster: the smallest distance to its centre so far, and its row
        medoid = np.zeros(k, dtype=np.int64)
        for rows in chunks:
            block = scaled(rows)
            labels = km.predict(block)
            counts += np.bincount(labels, minlength=k)
            distances = ((block - km.cluster_centers_[labels]) ** 2).sum(axis=1)
            for cluster in np.unique(labels):
                members = np.flatnonzero(labels == cluster)
                i = members[int(np.argmin(distances[members]))]
                if distances[i] < nearest[cluster]:  # strict: the first row of equal distance stays
                    nearest[cluster], medoid[cluster] = distances[i], rows.start + i
    used = np.flatnonzero(counts)
    weights = counts[used]
    return X[medoid[used]], weights / weights.sum()


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
            values, counts = np.unique(column, return_counts=True)
            stats["feature_values"][j] = values.tolist()
            stats["feature_frequencies"][j] = (counts / len(column)).tolist()
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
        values, counts = np.unique(binned, return_counts=True)
        stats["bins"][j] = qts.tolist()
        stats["means"][j] = means
        stats["stds"][j] = stds
        stats["mins"][j] = [float(column.min()), *qts.tolist()]
        stats["maxs"][j] = [*qts.tolist(), float(column.max())]
        stats["feature_values"][j] = values.astype(np.float64).tolist()
        stats["feature_frequencies"][j] = (counts / len(column)).tolist()
    return stats
