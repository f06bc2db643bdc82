"""The explain request: its ``"parameters"`` object, validated strictly, and which rows to explain.

``{"explainers": ["shap", "lime"], "nsamples": int | "auto", "target_error": number, "num_samples": int,
"num_features": int,
"seed": int, "class": name | "all", "output_space": "probability" | "log_odds",
"lime_sampling": "continuous" | "discretized",
"explain_if": {"min_probability": p, "max_probability": p, "labels": [...], "min_value": y,
"max_value": y}}``, every key optional; every mistake is a 400 naming it. ``nsamples`` is SHAP's budget
of distinct coalitions (each costs one model row per background row), ``target_error`` the estimated
relative error in [0, 1] at which SHAP stops sampling before the budget is spent (0: spend it; default
``DEFAULT_TARGET_ERROR``).

``parse_parameters(value, card, caps) -> ExplainParameters`` (the explain library's
``ExplainOptions`` plus the request's ``explain_if``). Caps (``Caps.from_settings``, at init) bound
the work of one request so it finishes inside the function's timeout, defaults included (a default
above a cap is lowered to it); a value over a cap is a 400 naming the cap and its environment
variable. ``max_rows(params, caps, max_instances)`` is how many rows a request may send and
``select_rows(...)`` which of them are explained (at most ``caps.instances``; a label filter reads the
label as the predict response gives it, ``card.predicted_index``: the card's decision threshold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from litelens.build.bundle import BundleCard, Task
from litelens.explain.arrays import Floats
from litelens.explain.errors import NonFiniteOutput
from litelens.explain.lime_method import LimeSampling
from litelens.explain.service import ALL_CLASSES, DEFAULT_LIME_NUM_SAMPLES, EXPLAINERS, ExplainOptions
from litelens.explain.shap_method import DEFAULT_TARGET_ERROR, SHAP_OUTPUT_SPACES, OutputSpace, default_nsamples
from litelens.functions.common import constants
from litelens.functions.common.errors import (
    E_INVALID_PARAMETER,
    E_INVALID_PARAMETERS,
    E_NON_FINITE_OUTPUT,
    E_OVER_LIMIT,
    E_TOO_MANY_EXPLANATIONS,
    E_UNKNOWN_CLASS,
    E_UNKNOWN_EXPLAINER,
    E_UNKNOWN_PARAMETER,
    ClientError,
    bad_request,
    json_type,
    short_value,
)
from litelens.functions.common.settings import Settings

AUTO = "auto"  # parameters.nsamples: shap's own word for its default (here shap_method.default_nsamples)
MIN_LIME_NUM_SAMPLES = 100
MAX_SEED = 2**32 - 1
# The explain library's errors, as the router answers them.
LIBRARY_ERRORS: Mapping[type[Exception], tuple[int, str]] = {NonFiniteOutput: (400, E_NON_FINITE_OUTPUT)}

PARAMETER_KEYS = (
    "explainers",
    "nsamples",
    "target_error",
    "num_samples",
    "num_features",
    "seed",
    "class",
    "output_space",
    "lime_sampling",
    "explain_if",
)
CLASSIFICATION_FILTERS = ("min_probability", "max_probability", "labels")
REGRESSION_FILTERS = ("min_value", "max_value")


@dataclass(frozen=True)
class Caps:
    """Server-side limits on one explain request."""

    instances: int = constants.MAX_EXPLAIN_INSTANCES_DEFAULT
    nsamples: int = constants.MAX_SHAP_NSAMPLES_DEFAULT
    num_samples: int = constants.MAX_LIME_NUM_SAMPLES_DEFAULT

    @classmethod
    def from_settings(cls, settings: Settings) -> Caps:
        return cls(settings.max_explain_instances, settings.max_shap_nsamples, settings.max_lime_num_samples)


@dataclass(frozen=True)
class ExplainIf:
    """Which rows to explain; the rest get ``null``. Bounds are inclusive."""

    min_probability: float | None = None
    max_probability: float | None = None
    labels: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class ExplainParameters(ExplainOptions):
    """The parsed ``"parameters"``: how to explain (``ExplainOptions``) and which rows (``explain_if``)."""

    explain_if: ExplainIf | None = None


def _integer(params: Mapping[str, Any], key: str, low: int, high: int, cap_env: str | None = None) -> int | None:
    if key not in params:
        return None
    value = params[key]
    if type(value) is not int:
        raise bad_request(
            E_INVALID_PARAMETER, f"parameters.{key} must be an integer, got {json_type(value, integers=True)}"
        )
    if value > high and cap_env is not None:
        raise bad_request(
            E_OVER_LIMIT, f"parameters.{key} = {short_value(value)} is over the server's limit of {high} ({cap_env})"
        )
    if not low <= value <= high:
        raise bad_request(
            E_INVALID_PARAMETER, f"parameters.{key} must be between {low} and {high}, got {short_value(value)}"
        )
    return value


def _probability(filters: Mapping[str, Any], key: str) -> float | None:
    if key not in filters:
        return None
    value = filters[key]
    if type(value) not in (int, float) or not 0.0 <= value <= 1.0:
        raise bad_request(
            E_INVALID_PARAMETER, f"parameters.explain_if.{key} must be a number in [0, 1], got {short_value(value)}"
        )
    return float(value)


def _number(filters: Mapping[str, Any], key: str) -> float | None:
    if key not in filters:
        return None
    value = filters[key]
    try:
        number = float(value) if type(value) in (int, float) else math.nan
    except OverflowError:  # an integer beyond float64 (a direct invocation's event holds Python ints)
        number = math.nan
    if not math.isfinite(number):
        raise bad_request(
            E_INVALID_PARAMETER, f"parameters.explain_if.{key} must be a finite number, got {short_value(value)}"
        )
    return number


def _reject_unknown(value: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(k for k in value if k not in allowed)
    if unknown:
        raise bad_request(
            E_UNKNOWN_PARAMETER,
            f"unknown key(s) {', '.join(map(repr, unknown))} in {where}; allowed: {', '.join(allowed)}",
        )


def _explain_if(value: Any, task: str, classes: Sequence[str] | None) -> ExplainIf | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise bad_request(E_INVALID_PARAMETER, "parameters.explain_if must be a non-empty object")
    allowed = REGRESSION_FILTERS if task == Task.REGRESSION else CLASSIFICATION_FILTERS
    _reject_unknown(value, allowed, f"parameters.explain_if (a {task} model)")
    labels = value.get("labels")
    if labels is not None:
        if not isinstance(labels, list) or not labels or not all(isinstance(c, str) for c in labels):
            raise bad_request(
                E_INVALID_PARAMETER, "parameters.explain_if.labels must be a non-empty list of class names"
            )
        missing = [c for c in labels if c not in (classes or ())]
        if missing:
            raise bad_request(
                E_UNKNOWN_CLASS,
                f"parameters.explain_if.labels: unknown class(es) {', '.join(map(repr, missing))}; "
                f"the model's classes are {', '.join(classes or ())}",
            )
    return ExplainIf(
        min_probability=_probability(value, "min_probability"),
        max_probability=_probability(value, "max_probability"),
        labels=tuple(labels) if labels is not None else None,
        min_value=_number(value, "min_value"),
        max_value=_number(value, "max_value"),
    )


def parse_parameters(value: Any, card: BundleCard, caps: Caps) -> ExplainParameters:
    """The request's ``"parameters"`` (may be absent: None) for the model ``card``, or a 400 naming the mistake."""
    if value is None:
        value = {}  # every default, still bounded by the caps below
    if not isinstance(value, dict):
        raise bad_request(
            E_INVALID_PARAMETERS, f'"parameters" must be an object, got {json_type(value, integers=True)}'
        )
    _reject_unknown(value, PARAMETER_KEYS, '"parameters"')
    explainers = value.get("explainers", list(EXPLAINERS))
    if not isinstance(explainers, list) or not explainers or not all(isinstance(e, str) for e in explainers):
        raise bad_request(
            E_INVALID_PARAMETER, f"parameters.explainers must be a non-empty list of names from {', '.join(EXPLAINERS)}"
        )
    for name in explainers:
        if name not in EXPLAINERS:
            raise bad_request(E_UNKNOWN_EXPLAINER, f"unknown explainer {name!r}; available: {', '.join(EXPLAINERS)}")
    if len(set(explainers)) != len(explainers):
        raise bad_request(E_INVALID_PARAMETER, "parameters.explainers lists an explainer twice")
    n_features = len(card.schema.names)  # the explainers attribute original columns, not model inputs
    min_nsamples = min(2 * n_features + 2, caps.nsamples)
    if value.get("nsamples") == AUTO:
        value = {k: v for k, v in value.items() if k != "nsamples"}  # shap's "auto" is our default
    nsamples = _integer(value, "nsamples", min_nsamples, caps.nsamples, constants.MAX_SHAP_NSAMPLES)
    if nsamples is None and default_nsamples(n_features) > caps.nsamples:
        nsamples = caps.nsamples
    target_error = value.get("target_error", DEFAULT_TARGET_ERROR)
    if type(target_error) not in (int, float) or not 0.0 <= target_error <= 1.0:
        raise bad_request(
            E_INVALID_PARAMETER,
            f"parameters.target_error must be a number in [0, 1] (0: spend nsamples), got {short_value(target_error)}",
        )
    num_samples = _integer(
        value,
        "num_samples",
        min(MIN_LIME_NUM_SAMPLES, caps.num_samples),
        caps.num_samples,
        constants.MAX_LIME_NUM_SAMPLES,
    )
    num_features = _integer(value, "num_features", 1, n_features)
    seed = _integer(value, "seed", 0, MAX_SEED)
    target_class = value.get("class")
    if target_class is not None:
        if card.task == Task.REGRESSION:
            raise bad_request(E_INVALID_PARAMETER, "parameters.class does not apply to a regression model")
        if not isinstance(target_class, str):
            raise bad_request(
                E_INVALID_PARAMETER, f"parameters.class must be a string, got {json_type(target_class, integers=True)}"
            )
        if target_class != ALL_CLASSES and target_class not in (card.classes or ()):
            raise bad_request(
                E_UNKNOWN_CLASS,
                f"parameters.class {target_class!r} is not a class of the model; use one of "
                f'{", ".join(card.classes or ())} or "{ALL_CLASSES}"',
            )
    output_space = value.get("output_space", OutputSpace.PROBABILITY)
    if output_space not in SHAP_OUTPUT_SPACES:
        raise bad_request(
            E_INVALID_PARAMETER,
            f"parameters.output_space must be one of {', '.join(SHAP_OUTPUT_SPACES)}, got {output_space!r}",
        )
    log_odds = OutputSpace.LOG_ODDS
    if output_space == log_odds and card.task != Task.BINARY:
        raise bad_request(
            E_INVALID_PARAMETER, f'parameters.output_space "{log_odds}" needs a binary model, not {card.task}'
        )
    if output_space == log_odds and "shap" not in explainers:
        raise bad_request(E_INVALID_PARAMETER, f'parameters.output_space "{log_odds}" applies to SHAP; add "shap"')
    lime_sampling = value.get("lime_sampling", LimeSampling.CONTINUOUS)
    if lime_sampling not in tuple(LimeSampling):
        raise bad_request(
            E_INVALID_PARAMETER,
            f"parameters.lime_sampling must be one of {', '.join(LimeSampling)}, got {short_value(lime_sampling)}",
        )
    return ExplainParameters(
        explainers=tuple(explainers),
        nsamples=nsamples,
        target_error=float(target_error),
        num_samples=min(DEFAULT_LIME_NUM_SAMPLES, caps.num_samples) if num_samples is None else num_samples,
        num_features=num_features,
        seed=0 if seed is None else seed,
        target_class=target_class,
        output_space=OutputSpace(output_space),
        lime_sampling=LimeSampling(lime_sampling),
        explain_if=_explain_if(value.get("explain_if"), card.task, card.classes),
    )


def select_rows(explain_if: ExplainIf | None, card: BundleCard, outputs: Floats, caps: Caps) -> list[int]:
    """Rows to explain, given the explained ``outputs`` (n, columns): the predicted label of a row is
    ``card.predicted_index``'s, the predict response's.

    400 when more than ``caps.instances`` rows would be explained.
    """
    n = len(outputs)
    if explain_if is None:
        selected = list(range(n))
    else:
        keep = np.ones(n, dtype=bool)
        if card.task == Task.REGRESSION:
            value = outputs[:, 0]
            if explain_if.min_value is not None:
                keep &= value >= explain_if.min_value
            if explain_if.max_value is not None:
                keep &= value <= explain_if.max_value
        else:
            # binary: the score the prediction shows, P(classes[1]); multiclass: the top probability
            score = outputs[:, 1] if card.task == Task.BINARY else outputs.max(axis=1)
            if explain_if.min_probability is not None:
                keep &= score >= explain_if.min_probability
            if explain_if.max_probability is not None:
                keep &= score <= explain_if.max_probability
            if explain_if.labels is not None:
                labels = np.asarray(card.classes)[card.predicted_index(outputs)]
                keep &= np.isin(labels, explain_if.labels)
        selected = np.flatnonzero(keep).tolist()
    if len(selected) > caps.instances:
        what = "instances" if explain_if is None else "instances pass parameters.explain_if"
        raise ClientError(
            400,
            E_TOO_MANY_EXPLANATIONS,
            f"{len(selected)} {what}; the limit is {caps.instances} explanations per request "
            f"({constants.MAX_EXPLAIN_INSTANCES}): split the batch or narrow explain_if",
        )
    return selected


def max_rows(params: ExplainParameters, caps: Caps, max_instances: int) -> int:
    """How many rows the request may send. Without a filter every row is explained, so the
    explanation cap bounds the rows; with one, a batch may be as large as predict's and only the rows
    passing the filter count (``select_rows``)."""
    return caps.instances if params.explain_if is None else max_instances
