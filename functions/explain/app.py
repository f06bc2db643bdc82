"""litelens explain: ``POST /explain``, the predict response plus SHAP and LIME attributions per row.

The standard paths to the same code: KServe V1 ``POST /v1/models/{name}:predict`` and ``:explain``
(API Gateway cannot split one path segment, so both verbs reach this function as ``/v1/models/{model}``),
the explainer's Open Inference Protocol ``POST /explainer/v2/models/{name}/infer`` (the prediction
tensors plus ``explanations``), and ``GET /openapi.json``, the whole API's OpenAPI document (this
function holds every validator the document is built from).

At import (cold start): the settings, the model bundle (same loader as predict: ``MODEL_URI``
folder or s3://bucket/prefix, else ``bundle/`` next to this file), both explainers over its
TFLite batch predict (no TensorFlow), and the time budget priced on this container
(``budget.Rates.measure``). Per request, the data plane (``common.dataplane``, its explain side
``explain_plane``): event -> Request -> the protocol's decoder -> parameters and batch (the predict
function's parser and errors) -> model -> the estimate checked against the budget -> explanations
of the selected rows, the invocation's deadline asked between rows -> the protocol's response.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from litelens.explain.service import Explanations
from litelens.functions.common import inference_v2, openapi
from litelens.functions.common.dataplane import DataPlane
from litelens.functions.common.events import Request
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Answer, Router
from litelens.functions.common.settings import Settings
from litelens.functions.explain.budget import Budget, Rates
from litelens.functions.explain.explain_plane import ExplainPlane
from litelens.functions.explain.openapi_explain import explain_schemas
from litelens.functions.explain.request import LIBRARY_ERRORS, Caps

SETTINGS = Settings.from_env(service="explain")
log = JsonLogger.from_settings(SETTINGS)
MODEL = load_at_init(Path(__file__).resolve().parent, log, SETTINGS)
EXPLANATIONS = Explanations.from_model(MODEL)
# One BLAS thread: the solves are small (100 x 2248, 5000 x 100) and a Lambda of 2 GB has ~1 vCPU;
# OpenBLAS's spinning worker threads made LIME's ridge fit 10x slower on a busy 2-core host. Set once
# the explainers are built: scipy's own OpenBLAS loads with them (a limit set before missed it).
threadpool_limits(limits=1, user_api="blas")
CAPS = Caps.from_settings(SETTINGS)
BACKGROUND, _ = MODEL.bundle.shap_background()  # the rows SHAP evaluates each coalition on
BUDGET = Budget(SETTINGS.explain_budget_seconds, Rates.measure(EXPLANATIONS.predict_output_columns, BACKGROUND))
log.info(
    "explainers ready",
    model=MODEL.card.name,
    version=MODEL.card.version,
    task=MODEL.card.task,
    caps=vars(CAPS),
    budget_seconds=BUDGET.seconds or None,
    ns_per_unit=BUDGET.rates.as_log(),
)
PLANE = DataPlane(MODEL, SETTINGS)
EXPLAINER = ExplainPlane(PLANE, EXPLANATIONS, CAPS, BUDGET, len(BACKGROUND))


def explain(request: Request) -> Answer:
    return EXPLAINER.explain(request, PLANE.decode(request))


def v1_model(request: Request) -> Answer:
    name, verb = inference_v2.v1_verb(request.path_parameters.get("model", ""))
    inference_v2.check_model(MODEL.card, name)
    decoded = PLANE.decode(request)  # one body for both verbs, as /predict and /explain
    return PLANE.predict(request, decoded) if verb == "predict" else EXPLAINER.explain(request, decoded)


def v2_explainer_infer(request: Request) -> Answer:
    return EXPLAINER.explain(request, PLANE.decode_v2(request, explainer=True))


def openapi_document(request: Request) -> dict[str, Any]:
    return DOCUMENT


DOCUMENT = openapi.document(MODEL.card, SETTINGS, explain=explain_schemas(MODEL.card, CAPS))


router = Router(
    {
        ("POST", "/explain"): explain,
        ("POST", "/v1/models/{model}"): v1_model,
        ("POST", f"{inference_v2.EXPLAINER_PREFIX}/v2/models/{{name}}/infer"): v2_explainer_infer,
        ("GET", "/openapi.json"): openapi_document,
    },
    direct_route=("POST", "/explain"),
    logger=log,
    settings=SETTINGS,
    protocol_paths=inference_v2.PROTOCOL_PATHS,
    client_errors=LIBRARY_ERRORS,
)


def lambda_handler(event: Any, context: Any) -> Any:
    return router.handle(event, context)
