"""The JSON Schemas of the OpenAPI document, built from the code that reads requests and writes answers.

``column_value(column)`` is what ``Schema.read_values`` accepts for one column (kind, levels; ``null``
is a missing value); ``instances_body(schema, max_rows, fields)`` the ``instances``/``inputs`` body
``instances.parse_instances`` reads (a row list in ``schema.names`` order or an object by column name;
the keys of excluded columns are accepted and ignored); ``prediction(card)`` one prediction object of
``predictions.format_predictions`` by the card's task; ``error_envelope()`` litelens's error answer,
its ``code`` one of ``errors``' ``E_*`` constants; ``v2_*`` the Open Inference Protocol's tensors.
``openapi.document`` puts them together.
"""

from __future__ import annotations

from typing import Any

from litelens.build.bundle import BundleCard, Task
from litelens.build.bundle.schema import (
    CATEGORICAL,
    DATE,
    FLOAT32_MAX,
    NUMERIC,
    W_IMPUTED,
    W_OUT_OF_RANGE,
    W_UNKNOWN_CATEGORY,
    Column,
    Schema,
)
from litelens.functions.common import errors, inference_v2

NULLABLE_NUMBER = {"type": ["number", "null"]}
WARNING_CODES = (W_UNKNOWN_CATEGORY, W_OUT_OF_RANGE, W_IMPUTED)


def error_codes() -> list[str]:
    """Every stable error code, as ``errors`` defines them (a code added there is documented here)."""
    return sorted({value for name, value in vars(errors).items() if name.startswith("E_") and isinstance(value, str)})


def error_envelope() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": {"type": "string", "enum": error_codes()},
                    "message": {"type": "string", "maxLength": errors.MAX_MESSAGE_CHARS},
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "request_id": {"type": "string"},
                },
            }
        },
    }


def gateway_message() -> dict[str, Any]:
    """API Gateway's own answers (no key: 403, throttled: 429, function failed: 502, timeout: 504)."""
    return {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


def protocol_error() -> dict[str, Any]:
    """The Open Inference Protocol's (and KServe V1's) error answer."""
    return {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


def column_value(column: Column) -> dict[str, Any]:
    """One raw value of ``column`` as the schema reads it; ``null`` is missing (imputed, with a warning)."""
    if column.kind == NUMERIC:
        return {"type": ["number", "null"], "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
    if column.kind == DATE:
        return {"type": ["string", "null"], "format": "date", "description": "ISO 8601 date or date-time"}
    assert column.kind == CATEGORICAL
    schema: dict[str, Any] = {"type": ["string", "boolean", "null"] if column.boolean else ["string", "null"]}
    if column.levels:
        schema["examples"] = list(column.levels)[:20]
        schema["description"] = "a level seen in training; another string is answered with an unknown_category warning"
    return schema


def instances_body(schema: Schema, max_rows: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request body of ``instances.parse_instances`` over ``schema`` (plus the ``extra`` properties)."""
    values = [column_value(column) for column in schema.columns]
    ignored: dict[str, dict[str, Any]] = {name: {} for name in sorted(schema.accepted_keys - set(schema.names))}
    row_list = {"type": "array", "prefixItems": values, "items": False, "minItems": len(values)}
    row_object = {
        "type": "object",
        "required": list(schema.names),
        "properties": dict(zip(schema.names, values, strict=True)) | ignored,
        "additionalProperties": False,
    }
    columnar = {
        "type": "object",
        "required": list(schema.names),
        "properties": {
            name: {"type": "array", "items": value, "minItems": 1, "maxItems": max_rows}
            for name, value in zip(schema.names, values, strict=True)
        }
        | ignored,
        "additionalProperties": False,
        "description": "one list of values per column, all of one length",
    }
    return {
        "type": "object",
        "properties": {
            "instances": {
                "type": "array",
                "items": {"oneOf": [row_list, row_object]},
                "minItems": 1,
                "maxItems": max_rows,
            },
            "inputs": columnar,
        }
        | (extra or {}),
        "additionalProperties": False,
        "oneOf": [{"required": ["instances"]}, {"required": ["inputs"]}],
    }


def warnings_list() -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["column", "code", "message"],
            "properties": {
                "column": {"type": "string"},
                "code": {"type": "string", "enum": list(WARNING_CODES)},
                "message": {"type": "string"},
            },
        },
    }


def prediction(card: BundleCard) -> dict[str, Any]:
    """One row's prediction, as ``predictions.format_predictions`` writes it for the card's task."""
    label = {"type": ["string", "null"], "enum": [*card.classes, None]} if card.classes else None
    properties: dict[str, Any]
    if card.task == Task.BINARY:
        properties = {"probability": {"type": ["number", "null"], "minimum": 0, "maximum": 1}, "label": label}
    elif card.task == Task.MULTICLASS:
        classes = card.classes or []
        probabilities: dict[str, Any] = {"type": "object", "required": list(classes)}
        probabilities["properties"] = {c: {"type": ["number", "null"]} for c in classes}
        properties = {"probabilities": probabilities, "label": label}
    else:
        properties = {"value": NULLABLE_NUMBER}
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties | {"warnings": warnings_list()},
        "additionalProperties": False,
    }


def predict_answer(card: BundleCard, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {
        "predictions": {"type": "array", "items": prediction(card)},
        "model": {
            "type": "object",
            "required": ["name", "version"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
    }
    return {"type": "object", "required": list(properties), "properties": properties | (extra or {})}


def v2_tensor(datatypes: tuple[str, ...] = inference_v2.DATATYPES) -> dict[str, Any]:
    data_item = {"type": ["number", "string", "boolean", "null", "array"]}
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "shape": {
                "type": "array",
                "items": {"type": "integer", "minimum": -1},
                "minItems": 1,
                "maxItems": inference_v2.MAX_SHAPE_RANK,
            },
            "datatype": {"type": "string", "enum": list(datatypes)},
            "data": {"type": "array", "items": data_item},
            "parameters": {"type": "object"},
        },
    }


def v2_input(column: Column, name: str, max_rows: int) -> dict[str, Any]:
    """One column as a V2 input tensor (MLServer's pandas codec): BYTES for strings, numbers otherwise."""
    datatypes = ["FP64", "FP32", "INT64"] if column.kind == NUMERIC else ["BYTES"]
    if column.boolean:
        datatypes = ["BOOL", "BYTES"]
    return {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"const": name},
            "shape": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": max_rows},
                "minItems": 1,
                "maxItems": 1,
            },
            "datatype": {"enum": datatypes},
            "data": {"type": "array", "items": column_value(column), "minItems": 1, "maxItems": max_rows},
            "parameters": {"type": "object"},
        },
        "additionalProperties": False,
    }


def v2_request(schema: Schema, max_rows: int, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """An infer request: one input per column (``prefixItems`` in column order) or one numeric matrix."""
    per_column = [v2_input(c, n, max_rows) for c, n in zip(schema.columns, schema.names, strict=True)]
    return {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "inputs": {
                "anyOf": [
                    {"type": "array", "prefixItems": per_column, "items": False, "minItems": len(per_column)},
                    {"type": "array", "items": v2_tensor(inference_v2.NUMBER_TYPES), "minItems": 1, "maxItems": 1},
                ]
            },
            "outputs": {
                "type": "array",
                "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
            },
            "parameters": parameters or {"type": "object"},
        },
        "additionalProperties": False,
    }


def v2_response() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["model_name", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "outputs": {"type": "array", "items": v2_tensor()},
        },
    }
