"""The OpenAPI 3.1 document of the whole API, built from the code that validates requests: it cannot drift.

``document(card, settings, explain=ExplainSchemas(...)) -> dict``
    Every route of ``ROUTES`` (the same table as template.yaml's events: a test holds them equal),
    with its request and response schemas (``openapi_schemas``: the bundle's column schema for
    instances, the task's prediction shape, every ``E_*`` error code, the warnings), the limits the
    functions enforce (``Settings``: rows per request, the explain caps), and the API key scheme.
    ``explain`` carries what only the explain function knows (its parameters, its answer); the
    explain function serves the result at ``GET /openapi.json`` and ``litelens openapi`` writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from litelens.build.bundle import BundleCard
from litelens.functions.common import inference_v2
from litelens.functions.common import openapi_schemas as schemas
from litelens.functions.common.settings import Settings

OPENAPI_VERSION = "3.1.0"
API_KEY_SCHEME = "apiKey"
EXPLAINER_INFER = f"{inference_v2.EXPLAINER_PREFIX}/v2/models/{{name}}/infer"

# (method, path, function, summary): the routes of template.yaml, and what each is for.
ROUTES = (
    ("POST", "/predict", "PredictFunction", "Predictions for a batch of rows"),
    ("GET", "/metadata", "PredictFunction", "The model card: schema, classes, threshold, metrics"),
    ("GET", "/v2", "PredictFunction", "Open Inference Protocol: server metadata"),
    ("GET", "/v2/health/live", "PredictFunction", "Open Inference Protocol: server live"),
    ("GET", "/v2/health/ready", "PredictFunction", "Open Inference Protocol: server ready"),
    ("GET", "/v2/models/{name}", "PredictFunction", "Open Inference Protocol: model metadata"),
    ("GET", "/v2/models/{name}/ready", "PredictFunction", "Open Inference Protocol: model ready"),
    ("POST", "/v2/models/{name}/infer", "PredictFunction", "Open Inference Protocol: predictions as tensors"),
    ("POST", "/explain", "ExplainFunction", "Predictions with SHAP and LIME attributions per row"),
    ("POST", "/v1/models/{model}", "ExplainFunction", "KServe V1: {name}:predict or {name}:explain"),
    ("POST", EXPLAINER_INFER, "ExplainFunction", "Open Inference Protocol explainer: predictions and attributions"),
    ("GET", "/openapi.json", "ExplainFunction", "This document"),
)
EXPLAIN_PATHS = ("/explain", "/v1/models/{model}", EXPLAINER_INFER)  # may answer 503 at the time budget
# One route's (request body schema or None, 200 answer schema, path parameters).
_Operation: TypeAlias = tuple[dict[str, Any] | None, dict[str, Any], list[dict[str, Any]]]


@dataclass(frozen=True)
class ExplainSchemas:
    """What the explain function contributes: its ``parameters`` object, one row's explanation, and
    the most rows it explains per request."""

    parameters: dict[str, Any]
    explanation: dict[str, Any]
    max_rows: int


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(path: str) -> dict[str, Any]:
    own = _ref("ProtocolError") if path.startswith(inference_v2.PROTOCOL_PATHS) else _ref("Error")
    answers = {
        "400": _json(own, "A mistake in the request (the message names the instance and column)"),
        "403": _json(_ref("GatewayMessage"), "Missing or wrong x-api-key (API Gateway)"),
        "404": _json(own, "Unknown model name"),
        "413": _json(own, "Body over the function's limit, or an answer over the response limit (response_too_large)"),
        "415": _json(own, "Content-Type other than application/json"),
        "429": _json(_ref("GatewayMessage"), "Throttled by the usage plan (API Gateway)"),
        "500": _json(_ref("Error"), "A bug; the answer carries the request id only"),
        "502": _json(_ref("GatewayMessage"), "The function failed (API Gateway)"),
        "504": _json(_ref("GatewayMessage"), "The function timed out (API Gateway)"),
    }
    if path in EXPLAIN_PATHS:
        answers["503"] = _json(own, "The time budget ran out: retry after Retry-After seconds")
    return answers


def _model_parameter(name: str, values: list[str], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "enum": values},
    }


def _operations(card: BundleCard, settings: Settings, explain: ExplainSchemas) -> dict[tuple[str, str], _Operation]:
    """(method, path) -> (request body schema or None, 200 answer schema, path parameters)."""
    schema, rows = card.schema, settings.max_instances
    explain_answer = schemas.predict_answer(
        card, {"explanations": {"type": "array", "items": {"anyOf": [{"type": "null"}, explain.explanation]}}}
    )
    explain_body = schemas.instances_body(schema, explain.max_rows, {"parameters": explain.parameters})
    v2_parameters = {
        "type": "object",
        "properties": explain.parameters.get("properties", {}),
        "description": "the /explain parameters; the protocol's own flags (binary_data_output) are ignored",
    }
    name = [_model_parameter("name", [card.name], "the bundle's name")]
    verbs = [f"{card.name}:{verb}" for verb in inference_v2.V1_VERBS]
    model = [_model_parameter("model", verbs, "the bundle's name, a colon, and predict or explain")]
    flag = {"type": "boolean"}
    return {
        ("POST", "/predict"): (
            schemas.instances_body(schema, rows, {"parameters": {}}),
            schemas.predict_answer(card),
            [],
        ),
        ("GET", "/metadata"): (None, {"type": "object", "required": ["name", "version", "task", "schema"]}, []),
        ("GET", "/v2"): (None, _ref("V2ServerMetadata"), []),
        ("GET", "/v2/health/live"): (None, {"type": "object", "required": ["live"], "properties": {"live": flag}}, []),
        ("GET", "/v2/health/ready"): (
            None,
            {"type": "object", "required": ["ready"], "properties": {"ready": flag}},
            [],
        ),
        ("GET", "/v2/models/{name}"): (None, _ref("V2ModelMetadata"), name),
        ("GET", "/v2/models/{name}/ready"): (
            None,
            {"type": "object", "required": ["ready"], "properties": {"ready": flag}},
            name,
        ),
        ("POST", "/v2/models/{name}/infer"): (schemas.v2_request(schema, rows), _ref("V2InferResponse"), name),
        ("POST", "/explain"): (explain_body, explain_answer, []),
        ("POST", "/v1/models/{model}"): (
            explain_body,
            {"anyOf": [schemas.predict_answer(card), explain_answer]},
            model,
        ),
        ("POST", EXPLAINER_INFER): (
            schemas.v2_request(schema, explain.max_rows, v2_parameters),
            _ref("V2InferResponse"),
            name,
        ),
        ("GET", "/openapi.json"): (None, {"type": "object", "required": ["openapi", "paths"]}, []),
    }


def _operation_id(method: str, path: str) -> str:
    """``postV2ModelsNameInfer`` for ``POST /v2/models/{name}/infer``."""
    words = path.replace(".", "/").replace("{", "").replace("}", "").split("/")
    return method.lower() + "".join(word.title() for word in words)


def document(card: BundleCard, settings: Settings, *, explain: ExplainSchemas) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route, for the model ``card`` under ``settings``' limits."""
    operations = _operations(card, settings, explain)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, function, summary in ROUTES:
        body, answer, parameters = operations[(method, path)]
        operation: dict[str, Any] = {
            "operationId": _operation_id(method, path),
            "summary": summary,
            "x-litelens-function": function,
            "responses": {"200": _json(answer, "OK"), **_errors(path)},
        }
        if parameters:
            operation["parameters"] = parameters
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "litelens",
            "version": card.version,
            "description": (
                f"Model {card.name!r} ({card.task}): predictions, SHAP and LIME attributions, the Open "
                "Inference Protocol (V2) and KServe V1. Limits: "
                f"{settings.max_instances} rows per predict request, {explain.max_rows} explained rows per request."
            ),
        },
        "security": [{API_KEY_SCHEME: []}],
        "paths": paths,
        "components": {
            "securitySchemes": {API_KEY_SCHEME: {"type": "apiKey", "in": "header", "name": "x-api-key"}},
            "schemas": {
                "Error": schemas.error_envelope(),
                "ProtocolError": schemas.protocol_error(),
                "GatewayMessage": schemas.gateway_message(),
                "V2InferResponse": schemas.v2_response(),
                "V2ServerMetadata": {
                    "type": "object",
                    "required": ["name", "version", "extensions"],
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "extensions": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "V2ModelMetadata": {
                    "type": "object",
                    "required": ["name", "versions", "platform", "inputs", "outputs"],
                    "properties": {
                        "name": {"type": "string"},
                        "versions": {"type": "array", "items": {"type": "string"}},
                        "platform": {"type": "string"},
                        "inputs": {"type": "array", "items": _ref("V2TensorMetadata")},
                        "outputs": {"type": "array", "items": _ref("V2TensorMetadata")},
                    },
                },
                "V2TensorMetadata": {
                    "type": "object",
                    "required": ["name", "datatype", "shape"],
                    "properties": {
                        "name": {"type": "string"},
                        "datatype": {"type": "string", "enum": list(inference_v2.DATATYPES)},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            },
        },
    }
