"""The explain service: a loaded model's SHAP and LIME explainers, built once, and the response fields.

``Explanations.from_model(model)`` (cold start) wraps ``model.predict_batch`` into one batch
function over *output columns*: binary ``[P(classes[0]), P(classes[1])]``, multiclass the class
probabilities, regression the value. Both methods explain those columns, so "which class" is a
column index everywhere. ``explain(X, columns, rows, options)`` returns one JSON-able explanation per
selected row (``None`` for the others).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from litelens.explain import quality
from litelens.explain.errors import NonFiniteOutput
from litelens.explain.lime_method import CLASSIFICATION, REGRESSION, LimeExplanation, LimeMethod
from litelens.explain.shap_method import LOG_ODDS, PROBABILITY, ShapMethod, ShapResult

EXPLAINERS = ("shap", "lime")
ALL_CLASSES = "all"  # ExplainOptions.target_class: explain every class
DEFAULT_LIME_NUM_SAMPLES = 5000


@dataclass(frozen=True)
class ExplainOptions:
    """How to explain a row: which methods, their sample budgets, top-k, seed, class, output space."""

    explainers: tuple[str, ...] = EXPLAINERS
    nsamples: int | None = None  # None: 2 F + 2048 (shap's "auto")
    num_samples: int = DEFAULT_LIME_NUM_SAMPLES
    num_features: int | None = None  # None: every feature
    seed: int = 0
    target_class: str | None = None  # None: the predicted class; ALL_CLASSES: every class
    output_space: str = PROBABILITY


class Explanations:
    def __init__(self, card: Any, predict_batch: Any, background: np.ndarray, weights: np.ndarray, lime_stats: dict):
        self.card = card
        self.features = list(card.features)
        self._predict_batch = predict_batch
        # Binary: SHAP explains the one model output P(classes[1]) (or its log-odds); classes[0]'s
        # attributions are the exact mirror (1 - p, -logit), so shap solves one regression, not two.
        if card.task == "binary":
            self.shap = {
                PROBABILITY: ShapMethod(self._positive, background, weights, self.features),
                LOG_ODDS: ShapMethod(self._positive, background, weights, self.features, output_space=LOG_ODDS),
            }
        else:
            self.shap = {PROBABILITY: ShapMethod(self.columns, background, weights, self.features)}
        self.lime = LimeMethod(
            self.columns,
            lime_stats,
            background,
            self.features,
            mode=REGRESSION if card.task == "regression" else CLASSIFICATION,
            class_names=card.classes,
        )

    @classmethod
    def from_model(cls, model: Any) -> Explanations:
        """Explainers for a loaded ``functions.common.model.Model`` (its bundle's background and LIME stats)."""
        background, weights = model.bundle.shap_background()
        return cls(model.card, model.predict_batch, background, weights, model.bundle.lime_stats())

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        """The model on the explainers' samples; NonFiniteOutput when it overflows on one."""
        outputs = np.asarray(self._predict_batch(X), dtype=np.float64)
        if not np.isfinite(outputs).all():
            raise NonFiniteOutput(
                "the model's output is not finite (NaN or infinity) on samples around the instance: "
                "its feature values are far outside what the model was trained on",
            )
        return outputs

    def columns(self, X: np.ndarray) -> np.ndarray:
        """The explained outputs (n, columns) as float64: class probabilities, or the regression value."""
        return self.columns_from_outputs(self._outputs(X))

    def columns_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """``columns`` from the model's own outputs (binary: P(classes[1]) -> both classes' probabilities)."""
        out = np.asarray(outputs, dtype=np.float64)
        if self.card.task == "binary":
            return np.column_stack([1.0 - out[:, 0], out[:, 0]])
        return out

    def _positive(self, X: np.ndarray) -> np.ndarray:
        return self._outputs(X)

    def output_names(self) -> list[str]:
        return list(self.card.classes) if self.card.classes else [self.card.target]

    def predicted_column(self, columns: np.ndarray) -> np.ndarray:
        """The predicted class's column per row, as the predict response labels it (binary: p >= 0.5)."""
        if self.card.task == "binary":
            return (columns[:, 1] >= 0.5).astype(int)
        if self.card.task == "multiclass":
            return columns.argmax(axis=1)
        return np.zeros(len(columns), dtype=int)

    def _targets(self, options: ExplainOptions, predicted: int) -> list[int]:
        if self.card.task == "regression":
            return [0]
        if options.target_class == ALL_CLASSES:
            return list(range(len(self.card.classes)))
        if options.target_class is not None:
            return [self.card.classes.index(options.target_class)]
        return [int(predicted)]

    def explain(self, X: np.ndarray, columns: np.ndarray, rows: Sequence[int], options: ExplainOptions) -> list:
        """One explanation per row of X: rows in ``rows`` explained, the others None."""
        predicted = self.predicted_column(columns)
        out: list[dict[str, Any] | None] = [None] * len(X)
        for i in rows:
            out[i] = self.explain_row(X[i], self._targets(options, predicted[i]), options)
        return out

    def explain_row(self, x: np.ndarray, targets: list[int], options: ExplainOptions) -> dict[str, Any]:
        shap_result = lime_result = None
        if "shap" in options.explainers:
            shap_result = self.shap[options.output_space].explain(
                x, nsamples=options.nsamples, top_k=options.num_features, seed=options.seed
            )
        if "lime" in options.explainers:
            lime_result = self.lime.explain(
                x, targets, num_samples=options.num_samples, num_features=options.num_features, seed=options.seed
            )
        names = self.output_names()
        per_target = {
            names[t]: self._target_fields(t, shap_result, lime_result, options, options.output_space) for t in targets
        }
        if options.target_class == ALL_CLASSES:
            return {"classes": per_target}
        ((name, fields),) = per_target.items()
        return ({} if self.card.task == "regression" else {"class": name}) | fields

    def _target_fields(
        self,
        t: int,
        shap_result: ShapResult | None,
        lime_result: LimeExplanation | None,
        options: ExplainOptions,
        space: str,
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if shap_result is not None:
            values, base, output = self._shap_for(shap_result, t, space)
            fields["shap"] = {
                "base_value": base,
                "values": dict(zip(self.features, values.tolist(), strict=True)),
                "output_space": space,
                "output": output,
                "additivity_gap": quality.additivity_gap(values, base, output),
                "nsamples": shap_result.nsamples,
            }
        if lime_result is not None:
            fit = lime_result.results[t]
            fields["lime"] = {
                "intercept": fit.intercept,
                "weights": [
                    {"feature": self.features[j], "condition": lime_result.conditions[j], "weight": w}
                    for j, w in fit.weights
                ],
                "score": fit.score,
                "local_prediction": fit.local_prediction,
                "model_prediction": fit.model_prediction,
                "num_samples": lime_result.num_samples,
            }
        if shap_result is not None and lime_result is not None:
            k = options.num_features or min(quality.DEFAULT_TOP_K, len(self.features))
            fields["agreement"] = quality.agreement(
                self._shap_for(shap_result, t, space)[0], dict(lime_result.results[t].weights), self.features, k
            )
        return fields

    def _shap_for(self, result: ShapResult, t: int, space: str) -> tuple[np.ndarray, float, float]:
        """(values, base, output) of output column ``t``; binary classes[0] mirrors the explained P(classes[1])."""
        if self.card.task != "binary":
            return result.values[:, t], float(result.base_values[t]), float(result.outputs[t])
        values, base, output = result.values[:, 0], float(result.base_values[0]), float(result.outputs[0])
        if t == 1:
            return values, base, output
        if space == LOG_ODDS:  # logit(1 - p) = -logit(p)
            return -values, -base, -output
        return -values, 1.0 - base, 1.0 - output
