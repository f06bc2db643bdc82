"""litelens predict: ``POST /predict``, ``GET /metadata`` and the Open Inference Protocol (V2) over the TFLite model.

V2 routes (``inference_v2``): ``GET /v2/health/live``, ``GET /v2/health/ready``, ``GET /v2/models/{name}``,
``GET /v2/models/{name}/ready``, ``POST /v2/models/{name}/infer`` (predictions; attributions are the
explainer's, ``/explainer/v2/models/{name}/infer`` on the explain function).

At import (cold start): the settings from the environment, then the model from ``MODEL_URI`` (a
folder or s3://bucket/prefix) or, when that is empty, from the ``bundle/`` folder packaged next to
this file. A bundle that cannot be served fails the import with one log line, so the function
never answers with it. Per request: event -> Request -> batch of raw rows (the card's schema) -> model -> predictions
(with per-row warnings) -> response.
"""

from __future__ import annotations

from pathlib import Path

from litelens.functions.common import inference_v2, instances, predictions
from litelens.functions.common.events import Request
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Router
from litelens.functions.common.settings import Settings

# Top-level request keys besides instances/inputs: "parameters" is the explain function's, accepted
# so one request body works for both routes.
PREDICT_FIELDS = ("instances", "inputs", "parameters")

SETTINGS = Settings.from_env(service="predict")
log = JsonLogger.from_settings(SETTINGS)
MODEL = load_at_init(Path(__file__).resolve().parent, log, SETTINGS)
log.info(
    "model loaded", model=MODEL.card.name, version=MODEL.card.version, task=MODEL.card.task, path=str(MODEL.bundle.path)
)


def _predict(request: Request, body: dict) -> dict:
    batch = instances.parse_instances(body, MODEL.card.columns, SETTINGS.max_instances, **request.value_hints())
    request.rows = len(batch)
    outputs = MODEL.predict_batch(batch.X)
    predictions.require_finite_outputs(outputs)
    return predictions.prediction_response(MODEL.card, outputs, batch.warnings)


def predict(request: Request) -> dict:
    body = request.json_object(SETTINGS.max_body_bytes)
    instances.reject_unknown_fields(body, PREDICT_FIELDS)
    return _predict(request, body)


def metadata(request: Request) -> dict:
    return predictions.card_metadata(MODEL.card)


def v2_live(request: Request) -> dict:
    return {"live": True}


def v2_ready(request: Request) -> dict:
    return {"ready": True}  # the model loads at init: a function that answers is ready


def v2_model(request: Request) -> dict:
    inference_v2.check_model(MODEL.card, request.path_parameters.get("name"))
    return inference_v2.model_metadata(MODEL.card)


def v2_model_ready(request: Request) -> dict:
    inference_v2.check_model(MODEL.card, request.path_parameters.get("name"))
    return {"name": MODEL.card.name, "ready": True}


def v2_infer(request: Request) -> dict:
    inference_v2.check_model(MODEL.card, request.path_parameters.get("name"))
    body = request.json_object(SETTINGS.max_body_bytes)
    inference_v2.refuse_explain(body)
    rows, requested = inference_v2.request_body(body, MODEL.card.columns, SETTINGS.max_instances)
    inference_v2.check_outputs(MODEL.card, requested)
    answer = _predict(request, rows)
    outputs = inference_v2.output_tensors(MODEL.card, answer["predictions"], requested)
    return inference_v2.infer_response(MODEL.card, outputs, body.get("id"))


router = Router(
    {
        ("POST", "/predict"): predict,
        ("GET", "/metadata"): metadata,
        ("GET", "/v2/health/live"): v2_live,
        ("GET", "/v2/health/ready"): v2_ready,
        ("GET", "/v2/models/{name}"): v2_model,
        ("GET", "/v2/models/{name}/ready"): v2_model_ready,
        ("POST", "/v2/models/{name}/infer"): v2_infer,
    },
    direct_route=("POST", "/predict"),
    logger=log,
    settings=SETTINGS,
    protocol_paths=inference_v2.PROTOCOL_PATHS,
)


def lambda_handler(event, context):
    return router.handle(event, context)
