"""litelens predict: ``POST /predict``, ``GET /metadata`` and the Open Inference Protocol (V2) over the TFLite model.

V2 routes (``inference_v2``): ``GET /v2`` (server metadata), ``GET /v2/health/live``, ``GET /v2/health/ready``,
``GET /v2/models/{name}``, ``GET /v2/models/{name}/ready``, ``POST /v2/models/{name}/infer`` (predictions;
attributions are the explainer's, ``/explainer/v2/models/{name}/infer`` on the explain function).

At import (cold start): the settings from the environment, then the model from ``MODEL_URI`` (a
folder or s3://bucket/prefix) or, when that is empty, from the ``bundle/`` folder packaged next to
this file. A bundle that cannot be served fails the import with one log line, so the function
never answers with it. Per request, the data plane (``common.dataplane``): event -> Request -> the
protocol's decoder -> batch of raw rows (the card's schema) -> model -> predictions (with per-row
warnings) -> the protocol's response.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litelens.functions.common import inference_v2, predictions
from litelens.functions.common.dataplane import DataPlane
from litelens.functions.common.events import Request
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Answer, Router
from litelens.functions.common.settings import Settings

SETTINGS = Settings.from_env(service="predict")
log = JsonLogger.from_settings(SETTINGS)
MODEL = load_at_init(Path(__file__).resolve().parent, log, SETTINGS)
log.info(
    "model loaded", model=MODEL.card.name, version=MODEL.card.version, task=MODEL.card.task, path=str(MODEL.bundle.path)
)
PLANE = DataPlane(MODEL, SETTINGS)


def predict(request: Request) -> Answer:
    return PLANE.predict(request, PLANE.decode(request))


def metadata(request: Request) -> dict[str, Any]:
    return predictions.card_metadata(MODEL.card)


def v2_server(request: Request) -> dict[str, Any]:
    return inference_v2.server_metadata()


def v2_live(request: Request) -> dict[str, Any]:
    return {"live": True}


def v2_ready(request: Request) -> dict[str, Any]:
    return {"ready": True}  # the model loads at init: a function that answers is ready


def v2_model(request: Request) -> dict[str, Any]:
    inference_v2.check_model(MODEL.card, request.path_parameters.get("name"))
    return inference_v2.model_metadata(MODEL.card)


def v2_model_ready(request: Request) -> dict[str, Any]:
    inference_v2.check_model(MODEL.card, request.path_parameters.get("name"))
    return {"name": MODEL.card.name, "ready": True}


def v2_infer(request: Request) -> Answer:
    return PLANE.predict(request, PLANE.decode_v2(request))


router = Router(
    {
        ("POST", "/predict"): predict,
        ("GET", "/metadata"): metadata,
        ("GET", "/v2"): v2_server,
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


def lambda_handler(event: Any, context: Any) -> Any:
    return router.handle(event, context)
