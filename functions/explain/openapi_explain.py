"""The explain function's part of the OpenAPI document: its ``parameters`` and one row's explanation.

``explain_schemas(card, caps) -> openapi.ExplainSchemas``. The parameters' schema is keyed by
``request.PARAMETER_KEYS`` with the bounds ``parse_parameters`` enforces (the caps, the card's
columns and classes); ``PARAMETER_SCHEMAS`` must describe every key (a test holds them equal).
The explanation follows ``explain.service``'s answer, the fields this version may add optional.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litelens.build.bundle import BundleCard, Task
from litelens.explain.lime_method import LimeSampling
from litelens.explain.service import ALL_CLASSES, EXPLAINERS
from litelens.explain.shap_method import SHAP_OUTPUT_SPACES, OutputSpace
from litelens.functions.common.openapi import ExplainSchemas
from litelens.functions.explain.request import (
    AUTO,
    CLASSIFICATION_FILTERS,
    MAX_SEED,
    MIN_LIME_NUM_SAMPLES,
    PARAMETER_KEYS,
    REGRESSION_FILTERS,
    Caps,
)

NUMBER = {"type": "number"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
PROBABILITY = {"type": "number", "minimum": 0, "maximum": 1}


def _explain_if(card: BundleCard) -> dict[str, Any]:
    properties: dict[str, Any]
    if card.task == Task.REGRESSION:
        properties = {key: NUMBER for key in REGRESSION_FILTERS}
    else:
        labels = {"type": "array", "items": {"enum": list(card.classes or ())}, "minItems": 1}
        properties = {"min_probability": PROBABILITY, "max_probability": PROBABILITY, "labels": labels}
        assert set(properties) == set(CLASSIFICATION_FILTERS)
    return {"type": "object", "properties": properties, "additionalProperties": False, "minProperties": 1}


def _class(card: BundleCard) -> dict[str, Any]:
    if card.task == Task.REGRESSION:
        return {"not": {}, "description": "not for a regression model"}
    return {"enum": [*(card.classes or ()), ALL_CLASSES]}


def _output_space(card: BundleCard) -> dict[str, Any]:
    log_odds = OutputSpace.LOG_ODDS
    spaces = list(SHAP_OUTPUT_SPACES) if card.task == Task.BINARY else [s for s in SHAP_OUTPUT_SPACES if s != log_odds]
    return {"enum": spaces, "description": f"{log_odds}: a binary model's SHAP only"}


# parameter key -> its schema for a card and the caps: the bounds parse_parameters checks.
PARAMETER_SCHEMAS: dict[str, Callable[[BundleCard, Caps], dict[str, Any]]] = {
    "explainers": lambda card, caps: {
        "type": "array",
        "items": {"enum": list(EXPLAINERS)},
        "minItems": 1,
        "maxItems": len(EXPLAINERS),
        "uniqueItems": True,
    },
    "nsamples": lambda card, caps: {
        "anyOf": [
            {
                "type": "integer",
                "minimum": min(2 * len(card.schema.names) + 2, caps.nsamples),
                "maximum": caps.nsamples,
            },
            {"const": AUTO},
        ]
    },
    "target_error": lambda card, caps: {"type": "number", "minimum": 0.0, "maximum": 1.0},
    "num_samples": lambda card, caps: {
        "type": "integer",
        "minimum": min(MIN_LIME_NUM_SAMPLES, caps.num_samples),
        "maximum": caps.num_samples,
    },
    "num_features": lambda card, caps: {"type": "integer", "minimum": 1, "maximum": len(card.schema.names)},
    "seed": lambda card, caps: {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
    "class": lambda card, caps: _class(card),
    "output_space": lambda card, caps: _output_space(card),
    "lime_sampling": lambda card, caps: {"enum": list(LimeSampling)},
    "explain_if": lambda card, caps: _explain_if(card),
}


def parameters_schema(card: BundleCard, caps: Caps) -> dict[str, Any]:
    """The explain request's ``parameters`` object for ``card`` under ``caps``."""
    properties = {key: PARAMETER_SCHEMAS[key](card, caps) for key in PARAMETER_KEYS if key in PARAMETER_SCHEMAS}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _shap() -> dict[str, Any]:
    by_column = {"type": "object", "additionalProperties": NUMBER}
    return {
        "type": "object",
        "required": [
            "base_value",
            "values",
            "output_space",
            "output",
            "additivity_gap",
            "nsamples",
            "std_errors",
            "relative_error",
            "exact",
            "target_error",
        ],
        "properties": {
            "base_value": NUMBER,
            "values": by_column,
            "output_space": {"enum": list(SHAP_OUTPUT_SPACES)},
            "output": NUMBER,
            "additivity_gap": NUMBER,
            "nsamples": {"type": "integer"},
            "rest": NUMBER,
            "rest_columns": {"type": "integer", "minimum": 0},
            "std_errors": by_column,
            "rest_std_error": NUMBER,
            "relative_error": NUMBER,
            "exact": {"type": "boolean"},
            "target_error": NULLABLE_NUMBER,
        },
    }


def _lime() -> dict[str, Any]:
    weight = {
        "type": "object",
        "required": ["feature", "condition", "weight"],
        "properties": {"feature": {"type": "string"}, "condition": {"type": "string"}, "weight": NUMBER},
    }
    return {
        "type": "object",
        "required": [
            "intercept",
            "weights",
            "score",
            "local_prediction",
            "model_prediction",
            "num_samples",
            "local_error",
            "sampling",
            "output_space",
        ],
        "properties": {
            "intercept": NUMBER,
            "weights": {"type": "array", "items": weight},
            "score": NULLABLE_NUMBER,
            "local_prediction": NULLABLE_NUMBER,
            "model_prediction": NULLABLE_NUMBER,
            "num_samples": {"type": "integer"},
            "rest": NUMBER,
            "local_error": NUMBER,
            "sampling": {"enum": list(LimeSampling)},
            "output_space": {"enum": list(OutputSpace)},
        },
    }


def _agreement() -> dict[str, Any]:
    names = {"type": "array", "items": {"type": "string"}}
    return {
        "type": "object",
        "required": ["k", "overlap", "shap_top", "lime_top", "spearman", "kendall", "columns"],
        "properties": {
            "k": {"type": "integer"},
            "overlap": {"type": "integer"},
            "shap_top": names,
            "lime_top": names,
            "spearman": NULLABLE_NUMBER,
            "kendall": NULLABLE_NUMBER,
            "columns": {"type": "integer"},
        },
    }


def target_fields() -> dict[str, Any]:
    """The attributions of one explained output (a class, or a regression's value)."""
    warning = {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "type": "object",
        "required": ["warnings"],
        "properties": {
            "shap": _shap(),
            "lime": _lime(),
            "agreement": _agreement(),
            "warnings": {"type": "array", "items": warning},
        },
    }


def explanation_schema(card: BundleCard) -> dict[str, Any]:
    """One explained row: the fields of its class (``class`` names it), or of every class (``classes``)."""
    fields = target_fields()
    if card.task == Task.REGRESSION:
        return fields
    one = {
        **fields,
        "properties": {"class": {"enum": list(card.classes or ())}, **fields["properties"]},
        "required": ["class"],
    }
    every = {
        "type": "object",
        "required": ["classes"],
        "properties": {"classes": {"type": "object", "additionalProperties": fields}},
    }
    return {"anyOf": [one, every]}


def explain_schemas(card: BundleCard, caps: Caps) -> ExplainSchemas:
    return ExplainSchemas(parameters_schema(card, caps), explanation_schema(card), caps.instances)
