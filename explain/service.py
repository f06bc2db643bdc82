"""The explain service: a loaded model's SHAP and LIME explainers, built once, and the response fields.

Both explainers work in the schema's *column space* (``build.bundle.schema``: one float64 per raw
column; a categorical column holds its level code, NaN marks a missing number or date), so every
attribution names an original column (``schema.names``): the batch function they call takes
column-space rows ``Z`` and runs ``predict_batch(schema.encode(Z))`` (an identity schema, plain
numbers, skips the encoding: ``Z`` is what the model takes).

``Explanations.from_model(model)`` (cold start) reads the card's schema (``card.schema``), the
bundle's background of real training rows in column space with their weights, and the per-column
LIME stats, and wraps ``model.predict_batch`` into one batch function over *output columns*: binary
``[P(classes[0]), P(classes[1])]``, multiclass the class probabilities, regression the value. Both
methods explain those columns, so "which class" is a column index everywhere. ``explain(Z, columns,
rows, options)`` takes the request's rows in column space and returns one JSON-able explanation per
selected row (``None`` for the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litelens.build.bundle import Bundle, BundleCard, Task
from litelens.explain import quality
from litelens.explain.arrays import BatchFunction, Floats, Rows
from litelens.explain.errors import NonFiniteOutput, Stopped
from litelens.explain.lime_method import CLASSIFICATION, REGRESSION, LimeExplanation, LimeMethod, LimeSampling
from litelens.explain.shap_method import DEFAULT_TARGET_ERROR, OutputSpace, ShapMethod, ShapResult

EXPLAINERS = ("shap", "lime")
ALL_CLASSES = "all"  # ExplainOptions.target_class: explain every class
DEFAULT_LIME_NUM_SAMPLES = 5000


@dataclass(frozen=True)
class ExplainOptions:
    """How to explain a row: which methods, their sample budgets, SHAP's target error, top-k, seed, class,
    output space."""

    explainers: tuple[str, ...] = EXPLAINERS
    nsamples: int | None = None  # SHAP's budget of distinct coalitions; None: shap_method.default_nsamples
    num_samples: int = DEFAULT_LIME_NUM_SAMPLES
    num_features: int | None = None  # None: every feature
    seed: int = 0
    target_class: str | None = None  # None: the predicted class; ALL_CLASSES: every class
    output_space: OutputSpace = OutputSpace.PROBABILITY
    lime_sampling: LimeSampling = LimeSampling.CONTINUOUS
    target_error: float | None = DEFAULT_TARGET_ERROR  # SHAP stops sampling here; None: spend nsamples


class LoadedModel(Protocol):
    """What ``Explanations.from_model`` reads of a loaded model: ``functions.common.model.Model``, which
    this library does not import (the functions import it)."""

    @property
    def bundle(self) -> Bundle: ...

    @property
    def card(self) -> BundleCard: ...

    def predict_batch(self, X: Rows) -> NDArray[np.floating[Any]]: ...


class Explanations:
    """SHAP and LIME over column-space rows of ``card.schema`` for a model's ``predict_batch(X)``."""

    def __init__(
        self,
        card: BundleCard,
        predict_batch: BatchFunction,
        background: Floats,
        weights: Floats,
        lime_stats: Mapping[str, Mapping[int, Any]],
    ) -> None:
        self.card = card
        self.schema = card.schema
        self.features = self.schema.names  # what every attribution is keyed by: the original columns
        self._encode = None if self.schema.is_identity else self.schema.encode  # plain numbers: Z is X
        self._predict_batch = predict_batch
        # Binary: SHAP explains the one model output P(classes[1]) (or its log-odds); classes[0]'s
        # attributions are the exact mirror (1 - p, -logit), so shap solves one regression, not two.
        # Plain numeric columns go to the model as they are, as float32: SHAP builds its rows in float32.
        rows = np.float32 if self._encode is None else np.float64
        if card.task == Task.BINARY:
            self.shap = {
                space: ShapMethod(
                    self._positive, background, weights, self.features, output_space=space, row_dtype=rows
                )
                for space in (OutputSpace.PROBABILITY, OutputSpace.LOG_ODDS)
            }
        else:
            self.shap = {
                OutputSpace.PROBABILITY: ShapMethod(
                    self.predict_output_columns, background, weights, self.features, row_dtype=rows
                )
            }
        self.lime = LimeMethod(
            self.predict_output_columns,
            lime_stats,
            background,
            self.features,
            mode=REGRESSION if card.task == Task.REGRESSION else CLASSIFICATION,
            class_names=card.classes,
            schema=self.schema,
        )

    @classmethod
    def from_model(cls, model: LoadedModel) -> Explanations:
        """Explainers for a loaded ``functions.common.model.Model``: its card's schema, its bundle's background
        (real training rows in column space, weighted) and per-column LIME stats."""
        background, weights = model.bundle.shap_background()
        return cls(model.card, model.predict_batch, background, weights, model.bundle.lime_stats())

    def _outputs(self, Z: Rows) -> Floats:
        """The model on the explainers' column-space samples; NonFiniteOutput when it overflows on one."""
        X = Z if self._encode is None else self._encode(Z)
        outputs = np.asarray(self._predict_batch(X), dtype=np.float64)
        if not np.isfinite(outputs).all():
            raise NonFiniteOutput(
                "the model's output is not finite (NaN or infinity) on samples around the instance: "
                "its feature values are far outside what the model was trained on",
            )
        return outputs

    def predict_output_columns(self, Z: Rows) -> Floats:
        """The explained outputs (n, columns) of column-space rows as float64: class probabilities, or the value."""
        return self.to_output_columns(self._outputs(Z))

    def to_output_columns(self, outputs: ArrayLike) -> Floats:
        """The output columns of the model's own outputs (binary: P(classes[1]) -> both classes' probabilities)."""
        out = np.asarray(outputs, dtype=np.float64)
        if self.card.task == Task.BINARY:
            both: Floats = np.column_stack([1.0 - out[:, 0], out[:, 0]])
            return both
        return out

    def _positive(self, Z: Rows) -> Floats:
        return self._outputs(Z)

    def output_names(self) -> list[str]:
        return list(self.card.classes) if self.card.classes else [self.card.target]

    def _targets(self, options: ExplainOptions, predicted: int) -> list[int]:
        if self.card.task == Task.REGRESSION:
            return [0]
        classes = self.output_names()  # a classifier's: its card's classes
        if options.target_class == ALL_CLASSES:
            return list(range(len(classes)))
        if options.target_class is not None:
            return [classes.index(options.target_class)]
        return [int(predicted)]

    def explain(
        self,
        Z: Floats,
        columns: Floats,
        rows: Sequence[int],
        options: ExplainOptions,
        stop: Callable[[], bool] | None = None,
    ) -> list[dict[str, Any] | None]:
        """One explanation per column-space row of ``Z`` (n, n_columns; for plain numeric columns the model's
        inputs themselves): rows in ``rows`` explained, the others None. ``columns``: the explained outputs
        of every row (``to_output_columns`` of the model's outputs), which pick each row's predicted class.
        ``stop``, asked before each row: when it answers True, ``Stopped`` carries the rows done so far."""
        predicted = self.card.predicted_index(columns)  # the class the predict response labels each row with
        out: list[dict[str, Any] | None] = [None] * len(Z)
        for done, i in enumerate(rows):
            if stop is not None and stop():
                raise Stopped(out, done)
            out[i] = self.explain_row(Z[i], self._targets(options, predicted[i]), options)
        return out

    def explain_row(self, x: Floats, targets: list[int], options: ExplainOptions) -> dict[str, Any]:
        """The explanation of one column-space row ``x`` (n_columns,) for output columns ``targets``."""
        shap_result = lime_result = None
        if "shap" in options.explainers:
            shap_result = self.shap[options.output_space].explain(
                x, nsamples=options.nsamples, target_error=options.target_error, seed=options.seed
            )
        if "lime" in options.explainers:
            lime_result = self.lime.explain(
                x,
                targets,
                num_samples=options.num_samples,
                num_features=options.num_features,
                seed=options.seed,
                sampling=options.lime_sampling,
            )
        names = self.output_names()
        per_target = {
            names[t]: self._target_fields(t, shap_result, lime_result, options, options.output_space) for t in targets
        }
        if options.target_class == ALL_CLASSES:
            return {"classes": per_target}
        ((name, fields),) = per_target.items()
        return ({} if self.card.task == Task.REGRESSION else {"class": name}) | fields

    def _target_fields(
        self,
        t: int,
        shap_result: ShapResult | None,
        lime_result: LimeExplanation | None,
        options: ExplainOptions,
        space: OutputSpace,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if shap_result is not None:
            fields["shap"] = self._shap_fields(shap_result, t, space, options.num_features)
        warnings: list[dict[str, str]] = []
        if lime_result is not None:
            fit = lime_result.results[t]
            fields["lime"] = {
                "intercept": fit.intercept,
                "weights": [
                    {"feature": self.features[j], "condition": lime_result.conditions[j], "weight": w}
                    for j, w in fit.weights
                ],
                **({} if fit.rest is None else {"rest": fit.rest}),
                "output_space": lime_result.output_space,
                "score": fit.score,
                "local_prediction": fit.local_prediction,
                "model_prediction": fit.model_prediction,
                "local_error": fit.local_error,
                "num_samples": lime_result.num_samples,
                "sampling": lime_result.sampling,
            }
            warnings += quality.lime_warnings(fit.score, fit.local_error, lime_result.output_space, fit.spread)
        if shap_result is not None and lime_result is not None:
            k = options.num_features or min(quality.DEFAULT_TOP_K, len(self.features))
            fields["agreement"] = quality.agreement(
                self._shap_for(shap_result, t, space)[0], lime_result.results[t].values, self.features, k
            )
        fields["warnings"] = warnings
        return fields

    def _shap_fields(self, result: ShapResult, t: int, space: OutputSpace, num_features: int | None) -> dict[str, Any]:
        """The ``shap`` block of output column ``t``: the full solution's values; with ``num_features`` = k below
        the number of columns only the k largest |value|, unchanged, and the others summed as ``rest``."""
        values, base, output = self._shap_for(result, t, space)
        column = 0 if self.card.task == Task.BINARY else t  # the binary classes mirror one explained output
        errors = result.std_errors[:, column]
        if num_features is None:
            kept, left_out = np.arange(len(values)), np.arange(0)
        else:
            order = np.lexsort((np.arange(len(values)), -np.abs(values)))  # largest |value| first, ties by column
            kept, left_out = order[:num_features], order[num_features:]
        fields: dict[str, Any] = {
            "base_value": base,
            "values": {self.features[j]: float(values[j]) for j in kept},
            "output_space": space,
            "output": output,
        }
        if len(left_out):
            fields["rest"] = float(values[left_out].sum())
            fields["rest_columns"] = len(left_out)
        fields["std_errors"] = {self.features[j]: float(errors[j]) for j in kept}
        if len(left_out):
            fields["rest_std_error"] = result.sum_std_error(left_out.tolist(), column)
        fields |= {
            "relative_error": float(result.relative_error[column]),
            "exact": result.exact,
            "target_error": result.target_error,
            "additivity_gap": quality.additivity_gap(values, base, output),
            "nsamples": result.nsamples,
        }
        return fields

    def _shap_for(self, result: ShapResult, t: int, space: OutputSpace) -> tuple[Floats, float, float]:
        """(values, base, output) of output column ``t``; binary classes[0] mirrors the explained P(classes[1])."""
        if self.card.task != Task.BINARY:
            return result.values[:, t], float(result.base_values[t]), float(result.outputs[t])
        values, base, output = result.values[:, 0], float(result.base_values[0]), float(result.outputs[0])
        if t == 1:
            return values, base, output
        if space == OutputSpace.LOG_ODDS:  # logit(1 - p) = -logit(p)
            return -values, -base, -output
        return -values, 1.0 - base, 1.0 - output
