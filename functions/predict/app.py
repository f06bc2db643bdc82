"""litelens predict: ``POST /predict`` and ``GET /metadata`` over the bundle's TFLite model.

The model loads once, at import (cold start), from ``MODEL_URI`` (a folder or s3://bucket/prefix)
or, when that is empty, from the ``bundle/`` folder packaged next to this file. A bundle that
cannot be served fails the import with one log line, so the function never answers with it.
"""

from __future__ import annotations

from pathlib import Path

from litelens.functions.common import constants, protocol
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Router

# Top-level request keys besides instances/inputs: "parameters" is the explain function's, accepted
# so one request body works for both routes.
PREDICT_FIELDS = ("instances", "inputs", "parameters")

log = JsonLogger(service=constants.env_str(constants.SERVICE_NAME, "predict"))
MODEL = load_at_init(Path(__file__).resolve().parent, log)
MAX_INSTANCES = constants.env_int(constants.MAX_INSTANCES, constants.MAX_INSTANCES_DEFAULT)
MAX_BODY_BYTES = constants.env_int(constants.MAX_BODY_BYTES, constants.MAX_BODY_BYTES_DEFAULT)
log.info(
    "model loaded", model=MODEL.card.name, version=MODEL.card.version, task=MODEL.card.task, path=str(MODEL.bundle.path)
)


def predict(request: protocol.Request) -> dict:
    body = request.json_object(MAX_BODY_BYTES)
    protocol.reject_unknown_fields(body, PREDICT_FIELDS)
    X = protocol.parse_instances(body, MODEL.card.features, MAX_INSTANCES, **request.value_hints())
    request.rows = len(X)
    outputs = MODEL.predict_batch(X)
    protocol.require_finite_outputs(outputs)
    return protocol.prediction_response(MODEL.card, outputs)


def metadata(request: protocol.Request) -> dict:
    return protocol.card_metadata(MODEL.card)


router = Router(
    {("POST", "/predict"): predict, ("GET", "/metadata"): metadata}, direct_route=("POST", "/predict"), logger=log
)


def lambda_handler(event, context):
    return router.handle(event, context)
