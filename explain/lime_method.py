"""LIME attributions per original column: a weighted ridge surrogate fitted on samples around a row.

LIME works in the schema's column space (``build.bundle.schema``: one value per raw column), so its
interpretable features are the original columns. Two neighbourhoods (``lime_sampling``), chosen per
request by ``sampling``:

- ``"continuous"`` (the default): samples around the row (a radius per sample, numbers moved by up to
  about one training std, levels redrawn from training with the radius as probability). The surrogate
  explains a classifier's **log-odds** of the class (``output_space`` ``"log_odds"``; a regression
  model's value as it is, ``"value"``). A column's weight is its term of the surrogate *at the row*:
  the local slope times the row's centred feature (``ContinuousSampler``), so
  ``intercept + sum(weights) = local_prediction``, and the intercept is the surrogate at the training
  means. Conditions read as the row's value: ``income = 52000``, ``signup = 2021-03-01``,
  ``applicant_type = self-employed``, ``income is missing``. Measured figures: explain/README.md.
- ``"discretized"``: lime's own ``LimeTabularExplainer`` neighbourhood built from the bundle's stats:
  each column drawn from the training distribution by quartile bin (a level by frequency) and read as
  "in the instance's bin" (``income <= 52000.00``, ``2021-03-01 < signup <= 2022-06-30``,
  ``applicant_type = self-employed``); class probabilities (``"probability"``). A weight is lime's
  coefficient of that indicator (1 at the row), so again ``intercept + sum(weights) = local_prediction``.
  A value training never draws (a missing number, an unseen level) is kept in ``KEEP_SHARE`` of the
  samples. One difference from lime: a bin with min == max (a value most rows share) gives that value,
  where lime gives its z-score.

Both modes weigh samples with lime's kernel, sqrt(exp(-d^2 / width^2)), width ``KERNEL_WIDTHS`` x sqrt(F)
(lime's 0.75 for the discretized samples, 0.2 around the row so the near samples count most), and fit
lime's ridge (weighted, with intercept; alpha ``RIDGE_ALPHAS``; ``weighted_ridge``: one factorization for
every requested class) in numpy. Top-k (``num_features``) keeps the full fit's k largest |weights| unchanged
and folds the others into ``rest`` (their sum), so intercept + sum(kept) + rest = local_prediction: no
refit, no forward selection. ``local_error`` = |local_prediction - model_prediction| in the same space.

All draws come from one generator seeded by ``seed``: the same row and seed give identical weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from litelens.build.bundle.schema import CATEGORICAL, DATE, UNKNOWN, Schema
from litelens.build.bundle.values import days_to_iso
from litelens.explain.arrays import BatchFunction, Floats
from litelens.explain.lime_sampling import KEEP_SHARE, BinSampler, ContinuousSampler, Neighbourhood
from litelens.explain.shap_method import OutputSpace, log_odds

__all__ = ["KEEP_SHARE", "LimeExplanation", "LimeMethod", "LimeResult", "LimeSampling", "weighted_ridge"]

CLASSIFICATION = "classification"  # LimeTabularExplainer's modes
REGRESSION = "regression"


class LimeSampling(StrEnum):
    """LIME's neighbourhood (``lime_sampling``, module docstring): around the row, or lime's own bins."""

    CONTINUOUS = "continuous"
    DISCRETIZED = "discretized"


RIDGE_ALPHA = 1.0  # lime's Ridge(alpha=1)
# lime's alpha 1 suits its 0/1 indicators (weighted variance ~0.2); around the row the features' weighted
# variance is ~0.04 (std units, narrow kernel), where alpha 1 shrinks a linear model's weights by percents and 0.01
# (lime's own feature-selection ridge) by hundredths of one (README, Benchmarks).
RIDGE_ALPHAS = {LimeSampling.CONTINUOUS: 0.01, LimeSampling.DISCRETIZED: RIDGE_ALPHA}
# The kernel width, times sqrt(number of columns): lime's 0.75 for its discretized samples; 0.2 around the
# row, where a sample's distance is about its radius x sqrt(F), so the weight is about exp(-12.5 r^2) (effective
# sample size ~36%): a median local error well below 0.05 log-odds with a third of the samples still effective
# (wider: less local; narrower: fewer effective samples; how it was chosen: README, Benchmarks).
KERNEL_WIDTHS = {LimeSampling.CONTINUOUS: 0.2, LimeSampling.DISCRETIZED: 0.75}


@dataclass(frozen=True)
class LimeResult:
    """One class's local surrogate: ``weights`` [(column index, weight)] by |weight| (the k largest with
    top-k, the others' sum in ``rest``), ``values`` (F,) every column's weight, and the fit."""

    intercept: float
    weights: list[tuple[int, float]]
    score: float
    local_prediction: float
    model_prediction: float
    values: Floats = field(compare=False)  # equal fits have equal weights: compared through them
    rest: float | None = None
    spread: float = 0.0  # weighted std of the model's output over the neighbourhood

    @property
    def local_error(self) -> float:
        return abs(self.local_prediction - self.model_prediction)


@dataclass(frozen=True)
class LimeExplanation:
    """Per requested output index, a LimeResult; ``conditions[j]``: the instance's bin (or level) of column j."""

    results: dict[int, LimeResult]
    conditions: list[str]
    num_samples: int
    sampling: LimeSampling = LimeSampling.CONTINUOUS
    output_space: OutputSpace = OutputSpace.PROBABILITY


def weighted_ridge(
    features: Floats, targets: Floats, weights: ArrayLike, alpha: float = RIDGE_ALPHA
) -> tuple[Floats, Floats, Floats, Floats]:
    """sklearn's ``Ridge(alpha).fit(features, y, sample_weight=weights)`` for every column y of ``targets``
    (n, T) at once: (intercepts (T,), coefficients (F, T), weighted R^2 (T,) as ``Ridge.score`` gives it,
    weighted std of each target (T,)). Centred by the weighted means, then one Cholesky solve."""
    w = np.asarray(weights, dtype=np.float64)
    share = w / w.sum()
    x_mean, y_mean = share @ features, share @ targets
    root = np.sqrt(w)[:, None]
    xc, yc = (features - x_mean) * root, (targets - y_mean) * root
    gram = xc.T @ xc
    gram[np.diag_indices_from(gram)] += alpha
    coef = np.linalg.solve(gram, xc.T @ yc)
    residual = yc - xc @ coef
    total, unexplained = np.square(yc).sum(axis=0), np.square(residual).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):  # sklearn's r2_score for a constant target: 1 or 0
        score = np.where(total > 0, 1.0 - unexplained / total, np.where(unexplained > 0, 0.0, 1.0))
    return y_mean - x_mean @ coef, coef, score, np.sqrt(total / w.sum())


class LimeMethod:
    """LIME for a batch predict function ``f(Z (n, F)) -> (n, n_outputs)`` (class probabilities or values)
    over column-space rows of ``schema`` (default: plain numeric columns named ``feature_names``)."""

    def __init__(
        self,
        predict: BatchFunction,
        training_data_stats: Mapping[str, Mapping[int, Any]],
        background: ArrayLike,
        feature_names: Sequence[str],
        *,
        mode: str,
        class_names: Sequence[str] | None = None,
        schema: Schema | None = None,
    ) -> None:
        from lime.lime_tabular import LimeTabularExplainer

        if mode not in (CLASSIFICATION, REGRESSION):
            raise ValueError(f"unknown LIME mode {mode!r}")
        self.feature_names = list(feature_names)
        self.schema = schema if schema is not None else Schema.numeric(self.feature_names)
        if self.schema.names != self.feature_names:
            raise ValueError("the feature names must be the schema's column names")
        self.mode = mode
        self._predict = predict
        stats = {key: dict(value) for key, value in training_data_stats.items()}
        self._explainer = LimeTabularExplainer(
            np.asarray(background, dtype=np.float64),
            mode=mode,
            feature_names=self.feature_names,
            categorical_features=[j for j, c in enumerate(self.schema.columns) if c.kind == CATEGORICAL],
            class_names=list(class_names) if class_names else None,
            discretize_continuous=True,
            training_data_stats=stats,
            random_state=0,
        )  # lime's discretizer: the bins, their names and stats the discretized mode samples from
        self._sampler = BinSampler(self._explainer)
        self._continuous = ContinuousSampler(stats, self.schema, self._sampler)
        self._bin_names = _bin_names(self.schema, self._explainer.discretizer)
        root_f = np.sqrt(len(self.feature_names))
        self._widths: dict[str, float] = {sampling: width * root_f for sampling, width in KERNEL_WIDTHS.items()}

    def output_space(self, sampling: LimeSampling) -> OutputSpace:
        """What the surrogate explains: a regression model's value; a classifier's log-odds (continuous)
        or probability (discretized, lime's own)."""
        if self.mode == REGRESSION:
            return OutputSpace.VALUE
        return OutputSpace.LOG_ODDS if sampling == LimeSampling.CONTINUOUS else OutputSpace.PROBABILITY

    def conditions(self, x: ArrayLike, sampling: LimeSampling = LimeSampling.DISCRETIZED) -> list[str]:
        """The instance's value of each column as a condition a person reads. Discretized: its bin
        (``income <= 52000.00``, ``2021-03-01 < signup <= 2022-06-30``); continuous: its value
        (``income = 52000``, ``signup = 2021-03-01``). Both: its level (``applicant_type = self-employed``,
        ``applicant_type = (unknown)``), or ``income is missing``."""
        x = np.asarray(x, dtype=np.float64)
        own = self._sampler.own(x) if sampling == LimeSampling.DISCRETIZED else None
        out = []
        for j, name in enumerate(self.feature_names):
            if self.schema.columns[j].kind != CATEGORICAL:
                if np.isnan(x[j]):
                    out.append(f"{name} is missing")
                elif own is not None:
                    out.append(self._bin_names[j][own[j]])
                else:
                    out.append(f"{name} = {_number_text(self.schema, j, x[j])}")
                continue
            text = _level_text(self.schema, j, x[j])
            out.append(f"{name} is missing" if text is None else f"{name} = {text}")
        return out

    def neighbourhood(
        self, x: ArrayLike, num_samples: int, seed: int, sampling: LimeSampling = LimeSampling.CONTINUOUS
    ) -> Neighbourhood:
        """The samples around ``x`` (row 0 is x itself): their interpretable features, their column-space
        values, their distances to x."""
        x = np.asarray(x, dtype=np.float64)
        if sampling == LimeSampling.CONTINUOUS:
            return self._continuous.sample(x, num_samples, np.random.default_rng(seed))
        if sampling != LimeSampling.DISCRETIZED:
            raise ValueError(f"unknown LIME sampling {sampling!r}; use one of {', '.join(LimeSampling)}")
        indicators, values = self._sampler.sample(x, num_samples, np.random.RandomState(seed))
        return Neighbourhood(indicators, values, np.sqrt(np.square(indicators - indicators[0]).sum(axis=1)))

    def kernel_weights(self, distances: Floats, sampling: LimeSampling = LimeSampling.CONTINUOUS) -> Floats:
        """lime's sample weights: sqrt(exp(-d^2 / width^2)), width = ``KERNEL_WIDTHS[sampling]`` sqrt(F)."""
        return np.sqrt(np.exp(-np.square(distances) / self._widths[sampling] ** 2))

    def targets(self, outputs: ArrayLike, labels: Sequence[int], sampling: LimeSampling) -> Floats:
        """The explained outputs (n, len(labels)) in the surrogate's output space."""
        chosen = np.asarray(outputs, dtype=np.float64)[:, list(labels)]
        return log_odds(chosen) if self.output_space(sampling) == OutputSpace.LOG_ODDS else chosen

    def explain(
        self,
        x: ArrayLike,
        outputs: Sequence[int],
        *,
        num_samples: int = 5000,
        num_features: int | None = None,
        seed: int = 0,
        sampling: LimeSampling = LimeSampling.CONTINUOUS,
    ) -> LimeExplanation:
        """Local surrogates of output columns ``outputs`` around row ``x`` (F,); ``num_features``: top-k."""
        labels = list(outputs)
        n_features = len(self.feature_names)
        k = n_features if num_features is None else max(1, min(int(num_features), n_features))
        samples = self.neighbourhood(x, num_samples, seed, sampling)
        targets = self.targets(self._predict(samples.values), labels, sampling)
        intercepts, coef, scores, spreads = weighted_ridge(
            samples.features, targets, self.kernel_weights(samples.distances, sampling), RIDGE_ALPHAS[sampling]
        )
        terms = coef * samples.features[0][:, None]  # each column's term of the surrogate at the row
        results = {}
        for t, label in enumerate(labels):
            values = terms[:, t]
            order = np.lexsort((np.arange(n_features), -np.abs(values)))
            left_out = order[k:]
            results[label] = LimeResult(
                intercept=float(intercepts[t]),
                weights=[(int(j), float(values[j])) for j in order[:k]],
                score=float(scores[t]),
                local_prediction=float(intercepts[t] + values.sum()),
                model_prediction=float(targets[0, t]),
                values=values,
                rest=float(values[left_out].sum()) if len(left_out) else None,
                spread=float(spreads[t]),
            )
        return LimeExplanation(
            results=results,
            conditions=self.conditions(x, sampling),
            num_samples=num_samples,
            sampling=sampling,
            output_space=self.output_space(sampling),
        )


def _number_text(schema: Schema, j: int, value: float) -> str:
    """A present number or date as a person reads it: ``52000``, ``0.3617``, ``2021-03-01``."""
    if schema.columns[j].kind == DATE:
        return days_to_iso(value)
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 1e6 else f"{value:.6g}"


def _bin_names(schema: Schema, discretizer: Any) -> dict[int, list[str]]:
    """Per discretized column, its bins' conditions: lime's own names for a number (``income <= 52000.00``),
    the same with ISO dates for a date column (``2021-03-01 < signup <= 2022-06-30``)."""
    out = {}
    for j in discretizer.lambdas:
        column = schema.columns[j]
        if column.kind != DATE:
            out[j] = list(discretizer.names[j])
            continue
        # lime's bins are searchsorted(edges, days): a bin holds edge_low < days <= edge_high, which for
        # whole days is the dates after floor(edge_low) up to floor(edge_high)
        edges = [days_to_iso(edge) for edge in discretizer.data_stats["bins"][j]]
        names = [f"{column.name} <= {edges[0]}"]
        names += [f"{low} < {column.name} <= {high}" for low, high in itertools.pairwise(edges)]
        names.append(f"{column.name} > {edges[-1]}")
        out[j] = names
    return out


def _level_text(schema: Schema, j: int, code: float) -> str | None:
    """A categorical column-space code as a person reads it (``schema.display``); None when missing."""
    column = schema.columns[j]
    if not (code == UNKNOWN or (float(code).is_integer() and 0 <= code <= column.missing_code)):
        code = UNKNOWN  # not a code of this column: the model sees it as an unseen level
    level: str | None = schema.display(j, code)  # a categorical column displays its level, or None
    return level
