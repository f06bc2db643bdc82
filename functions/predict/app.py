"""litelens predict: ``POST /predict`` and ``GET /metadata`` over the bundle's TFLite model.

At import (cold start): the settings from the environment, then the model from ``MODEL_URI`` (a
folder or s3://bucket/prefix) or, when that is empty, from the ``bundle/`` folder packaged next to
this file. A bundle that cannot be served fails the import with one log line, so the function
never answers with it. Per request: event -> Request -> batch of raw rows (the card's schema) -> model -> predictions
(with per-row warnings) -> response.
"""

from __future__ import annotations

from pathlib import Path

from litelens.functions.common import instances, predictions
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


def predict(request: Request) -> dict:
    body = request.json_object(SETTINGS.max_body_bytes)
    instances.reject_unknown_fields(body, PREDICT_FIELDS)
    batch = instances.parse_instances(body, MODEL.card.columns, SETTINGS.max_instances, **request.value_hints())
    request.rows = len(batch)
    outputs = MODEL.predict_batch(batch.X)
    predictions.require_finite_outputs(outputs)
    return predictions.prediction_response(MODEL.card, outputs, batch.warnings)


def metadata(request: Request) -> dict:
    return predictions.card_metadata(MODEL.card)


router = Router(
    {("POST", "/predict"): predict, ("GET", "/metadata"): metadata},
    direct_route=("POST", "/predict"),
    logger=log,
    settings=SETTINGS,
)


def lambda_handler(event, context):
    return router.handle(event, context)
