"""LIME's neighbourhoods around a column-space row: where the samples come from, per sampling mode.

- ``BinSampler`` (``"discretized"``, lime's own): every column drawn from the training distribution,
  bin (or level) by training frequency, value by the bin's truncated normal (what lime's
  ``__data_inverse`` draws, vectorized with tables built at init). The interpretable feature is "in
  the instance's bin". The samples ignore the row except through the indicators, so the neighbourhood
  is the whole training distribution: the surrogate is a global fit (measured: lime's kernel weights
  these samples almost uniformly).
- ``ContinuousSampler`` (``"continuous"``, the default): samples *around the row*. Each sample draws
  a radius r ~ U(0, 1) (row 0: r = 0, the row itself); a numeric or date column moves to
  x + r * std * u, u uniform with unit variance on [-sqrt 3, sqrt 3] (std: the column's training std,
  from the per-bin stats by the law of total variance); a categorical column, a missing number or an
  unseen level is replaced, with probability r, by a training draw (``BinSampler.training_values``)
  and kept otherwise. So samples come at every distance from the row, and lime's kernel, narrowed to
  width 0.2 sqrt(F) (``lime_method.KERNEL_WIDTHS``), weighs the near ones up: the fit is local.
  Distances are in training stds (a numeric column) plus 1 per column whose value changed. Why a radius
  per sample: with one fixed scale, distances in many dimensions concentrate, so the kernel weighs the
  samples almost alike, and a kernel narrow enough to tell them apart leaves ~1% of them effective; the
  radius is what lets the kernel choose the near samples (README, Benchmarks).

Both return the interpretable features of every sample (row 0 = the row's own) and the distances to the
row; the caller runs the model on the column-space values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litelens.build.bundle.schema import CATEGORICAL, Schema
from litelens.explain.arrays import Floats, Indices

# The share of samples that keep a value training never draws (missing, unseen level): half, so the
# "is the instance's value" indicator is balanced and its ridge weight is as well determined as it gets.
KEEP_SHARE = 0.5
NO_BIN = -2  # BinSampler.own: the instance's value is in no training bin
_VECTORIZED_BINS = 8  # up to this many bins per feature the inverse CDF is one pass per bin over all features
# A training std at or below this is a constant column (lime's stats add 1e-11 to every per-bin std).
CONSTANT_STD = 1e-9


class BinSampler:
    """lime's neighbourhood for discretized features, vectorized: bins by training frequency, values by
    the bin's truncated normal. A categorical column's "bins" are its level codes, each drawn with its
    training frequency and valued at its code. Per (feature, bin) tables, padded past each feature's bins,
    are built once: the bin id (or level code), the cumulative frequency, and the truncated normal's mean,
    std, Phi(lower z), Phi(upper z) and bounds, so one draw is two uniforms, gathers and one inverse
    normal CDF."""

    def __init__(self, explainer: Any) -> None:
        from scipy.special import ndtr

        discretizer = explainer.discretizer
        n_features = len(explainer.feature_names)
        n_bins = max(len(explainer.feature_values[j]) for j in range(n_features))
        self.discretizer = discretizer
        self.n_bins: NDArray[np.int64] = np.array([len(explainer.feature_values[j]) for j in range(n_features)])
        self.values = np.zeros((n_features, n_bins), dtype=np.int64)
        self.cumulative = np.full((n_features, n_bins), np.inf)
        stat = {key: np.zeros((n_features, n_bins)) for key in ("means", "stds", "mins", "maxs")}
        self.levels: dict[int, frozenset[int]] = {}  # categorical column -> the codes training draws
        for j in range(n_features):
            nb = self.n_bins[j]
            self.values[j, :nb] = np.asarray(explainer.feature_values[j], dtype=np.float64).astype(np.int64)
            self.cumulative[j, :nb] = np.cumsum(explainer.feature_frequencies[j])
            if j not in discretizer.lambdas:  # a level is a bin of one value: its code
                self.levels[j] = frozenset(self.values[j, :nb].tolist())
                for key in ("means", "mins", "maxs"):
                    stat[key][j, :nb] = self.values[j, :nb]
                continue
            for key, table in stat.items():
                per_bin = np.asarray(getattr(discretizer, key)[j], dtype=np.float64)[self.values[j, :nb]]
                table[j, :nb] = per_bin
        self.mean, self.std, self.low, self.high = stat["means"], stat["stds"], stat["mins"], stat["maxs"]
        with np.errstate(divide="ignore", invalid="ignore"):
            self.cdf_low = ndtr((self.low - self.mean) / self.std)
            self.cdf_width = ndtr((self.high - self.mean) / self.std) - self.cdf_low
        # A bin whose truncated normal cannot be drawn (min == max, std 0, or all mass beyond float
        # precision) gives its mean clipped to the bin. (lime returns the z-score for min == max, a bug.)
        self.degenerate = ~(self.std > 0) | ~(self.cdf_width > 0)
        self.cdf_width[self.degenerate] = 0.0
        self.cdf_low[self.degenerate] = 0.5
        self.fallback = np.clip(self.mean, self.low, self.high)
        self._offsets = np.arange(n_features) * n_bins

    def own(self, x: Floats) -> NDArray[np.int64]:
        """Per feature the instance's bin (or level code); ``NO_BIN`` for a value training never draws
        (a missing number or date, an unseen level)."""
        own = np.full(len(self._offsets), NO_BIN, dtype=np.int64)
        for j, bin_of in self.discretizer.lambdas.items():
            if not np.isnan(x[j]):
                own[j] = int(bin_of(x[j]))
        for j, codes in self.levels.items():
            if x[j] in codes:
                own[j] = int(x[j])
        return own

    def _bin_index(self, u: Floats) -> NDArray[np.int64]:
        """Inverse CDF: per sample and feature, the index of the drawn bin."""
        if self.cumulative.shape[1] <= _VECTORIZED_BINS:  # count the thresholds u passed, all features at once
            index = np.zeros(u.shape, dtype=np.int64)
            for b in range(self.cumulative.shape[1] - 1):
                index += u >= self.cumulative[:, b]
        else:  # many levels: one binary search per feature
            index = np.empty(u.shape, dtype=np.int64)
            for j, nb in enumerate(self.n_bins.tolist()):
                index[:, j] = np.searchsorted(self.cumulative[j, : nb - 1], u[:, j], side="right")
        return np.minimum(index, self.n_bins - 1)  # a cumulative sum that ends just below 1

    def training_values(self, columns: Indices, u_bin: Floats, u_value: Floats) -> Floats:
        """Values (n, len(columns)) the training distribution draws for ``columns``, from uniforms of that
        shape: a bin (or level) by training frequency, then a value by the bin's truncated normal."""
        from scipy.special import ndtri

        out = np.empty(u_bin.shape)
        for c, j in enumerate(columns):
            nb = int(self.n_bins[j])
            index = np.minimum(np.searchsorted(self.cumulative[j, : nb - 1], u_bin[:, c], side="right"), nb - 1)
            p = self.cdf_low[j, index] + u_value[:, c] * self.cdf_width[j, index]
            values = self.mean[j, index] + self.std[j, index] * ndtri(p)
            np.clip(values, self.low[j, index], self.high[j, index], out=values)
            out[:, c] = np.where(self.degenerate[j, index], self.fallback[j, index], values)
        return out

    def sample(self, x: Floats, num_samples: int, random_state: np.random.RandomState) -> tuple[Floats, Floats]:
        """(in-bin indicators (n, F) with row 0 all ones, feature values (n, F) with row 0 = x)."""
        from scipy.special import ndtri

        u = random_state.random_sample((num_samples, len(self._offsets)))
        flat = self._bin_index(u) + self._offsets  # (feature, bin) -> position in the raveled tables
        bins = self.values.ravel()[flat]
        own = self.own(np.asarray(x, dtype=np.float64))
        indicators = (bins == own).astype(np.float64)
        p = self.cdf_low.ravel()[flat] + random_state.random_sample(u.shape) * self.cdf_width.ravel()[flat]
        values = self.mean.ravel()[flat] + self.std.ravel()[flat] * ndtri(p)
        np.clip(values, self.low.ravel()[flat], self.high.ravel()[flat], out=values)
        degenerate = self.degenerate.ravel()[flat]
        if degenerate.any():
            values[degenerate] = self.fallback.ravel()[flat[degenerate]]
        kept = np.flatnonzero(own == NO_BIN)
        if len(kept):  # a value training never draws stays in KEEP_SHARE of the samples
            keep = random_state.random_sample((num_samples, len(kept))) < KEEP_SHARE
            values[:, kept] = np.where(keep, x[kept], values[:, kept])
            indicators[:, kept] = keep
        indicators[0], values[0] = 1.0, x
        return indicators, values


def training_moments(stats: Mapping[str, Mapping[int, Any]], j: int) -> tuple[float, float]:
    """(mean, std) of numeric or date column ``j``'s training values from lime's per-bin stats: the
    bin means and stds weighted by the bin frequencies (law of total variance; exact for population stds)."""
    bins = np.asarray(stats["feature_values"][j], dtype=np.float64).astype(np.int64)
    share = np.asarray(stats["feature_frequencies"][j], dtype=np.float64)
    means = np.asarray(stats["means"][j], dtype=np.float64)[bins]
    stds = np.asarray(stats["stds"][j], dtype=np.float64)[bins]
    mean = float(share @ means)
    return mean, float(np.sqrt(max(float(share @ (stds**2 + (means - mean) ** 2)), 0.0)))


@dataclass(frozen=True)
class Neighbourhood:
    """Samples around a row: ``features`` (n, F) the interpretable features (row 0: the row's),
    ``values`` (n, F) the column-space rows the model gets (row 0: the row), ``distances`` (n,) to it."""

    features: Floats
    values: Floats
    distances: Floats


class ContinuousSampler:
    """Samples around the row (module docstring). Interpretable features, each centred on its training
    mean so a weight is a share of the output at the row against the training data:

    - a present number or date: (value - training mean) / training std, so a weight is the local slope
      per std times how many stds the row's value is from the training mean;
    - a categorical level training draws: "same level as the row" minus that level's training share;
    - a missing number or date, an unseen level: "kept the row's value" (training never draws it: share 0).
    """

    def __init__(self, stats: Mapping[str, Mapping[int, Any]], schema: Schema, bins: BinSampler) -> None:
        n = len(schema.columns)
        self.bins = bins
        self.categorical = np.array([c.kind == CATEGORICAL for c in schema.columns])
        self.mean, self.std = np.zeros(n), np.zeros(n)
        for j in np.flatnonzero(~self.categorical):
            self.mean[j], self.std[j] = training_moments(stats, int(j))
        self.moves = self.std > CONSTANT_STD  # a constant column stays at the row's value
        self.unit = np.where(self.moves, self.std, 1.0)
        self.share = {
            j: dict(zip(np.asarray(stats["feature_values"][j], dtype=np.float64).tolist(),
                        stats["feature_frequencies"][j], strict=True))
            for j in np.flatnonzero(self.categorical).tolist()
        }  # fmt: skip

    def sample(self, x: Floats, num_samples: int, rng: np.random.Generator) -> Neighbourhood:
        x = np.asarray(x, dtype=np.float64)
        radius = rng.random((num_samples, 1))
        radius[0] = 0.0
        redrawn = np.flatnonzero(self.categorical | np.isnan(x))  # levels, and numbers training cannot centre on
        # whole-array steps (every column moves by its std, 0 where it does not) and redrawn columns
        # overwritten after: a gather/scatter per numeric column would cost more than the arithmetic
        step = rng.random((num_samples, len(x)))  # uniform on [-sqrt 3, sqrt 3]: unit variance, a third of
        step -= 0.5  # the cost of normal draws
        step *= radius * 2.0 * np.sqrt(3.0)
        step *= self.moves & ~np.isnan(x)
        values = step * self.std
        values += np.where(np.isnan(x), 0.0, x)
        features = values - self.mean
        features /= self.unit
        squared = np.einsum("ij,ij->i", step, step)
        if len(redrawn):
            replace = rng.random((num_samples, len(redrawn))) < radius
            drawn = self.bins.training_values(redrawn, rng.random(replace.shape), rng.random(replace.shape))
            values[:, redrawn] = np.where(replace, drawn, x[redrawn])
            same = np.where(replace, drawn == x[redrawn], True)  # a missing value drawn never equals NaN
            reference = [self.share.get(int(j), {}).get(float(x[j]), 0.0) for j in redrawn]
            features[:, redrawn] = same - np.asarray(reference)
            squared += (~same).sum(axis=1)
        return Neighbourhood(features, values, np.sqrt(squared))
