"""litelens explain: ``POST /explain``, the predict response plus SHAP and LIME attributions per row.

The standard paths to the same code: KServe V1 ``POST /v1/models/{name}:predict`` and ``:explain``
(API Gateway cannot split one path segment, so both verbs reach this function as ``/v1/models/{model}``),
the explainer's Open Inference Protocol ``POST /explainer/v2/models/{name}/infer`` (the prediction
tensors plus ``explanations``), and ``GET /openapi.json``, the whole API's OpenAPI document (this
function holds every validator the document is built from).

At import (cold start): the settings, the model bundle (same loader as predict: ``MODEL_URI``
folder or s3://bucket/prefix, else ``bundle/`` next to this file), both explainers over its
TFLite batch predict (no TensorFlow), and the time budget priced on this container
(``budget.Rates.measure``). Per request: event -> Request -> parameters and batch (the predict
function's parser and errors) -> model -> the estimate checked against the budget -> explanations
of the selected rows, the invocation's deadline asked between rows -> response.
"""

from __future__ import annotations

from pathlib import Path

from threadpoolctl import threadpool_limits

from litelens.explain.errors import Stopped
from litelens.explain.service import Explanations
from litelens.functions.common import inference_v2, instances, openapi, predictions
from litelens.functions.common.events import Request
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Router
from litelens.functions.common.settings import Settings
from litelens.functions.explain.budget import Budget, Rates, deadline_exceeded, request_work
from litelens.functions.explain.openapi_explain import explain_schemas
from litelens.functions.explain.request import (
    LIBRARY_ERRORS,
    REQUEST_FIELDS,
    Caps,
    max_rows,
    parse_parameters,
    select_rows,
)

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


def _explain(request: Request, body: dict) -> dict:
    params = parse_parameters(body.get("parameters"), MODEL.card, CAPS)
    batch = instances.parse_instances(body, MODEL.card.columns, max_rows(params, CAPS, SETTINGS.max_instances))
    request.rows = len(batch)
    outputs = MODEL.predict_batch(batch.X)
    predictions.require_finite_outputs(outputs)
    columns = EXPLANATIONS.to_output_columns(outputs)
    rows = select_rows(params.explain_if, MODEL.card, columns, CAPS)
    work = request_work(params, MODEL.card, len(BACKGROUND))
    BUDGET.check(len(rows), work, request.context)
    deadline = BUDGET.deadline(request.context, work)
    response = predictions.prediction_response(MODEL.card, outputs, batch.warnings)
    try:
        response["explanations"] = EXPLANATIONS.explain(
            batch.Z, columns, rows, params, stop=deadline.reached if deadline else None
        )
    except Stopped as stopped:
        raise deadline_exceeded(stopped.done, len(rows), response | {"explanations": stopped.explanations}) from None
    return response


def explain(request: Request) -> dict:
    body = request.json_object(SETTINGS.max_body_bytes)
    instances.reject_unknown_fields(body, REQUEST_FIELDS)
    return _explain(request, body)


def v1_model(request: Request) -> dict:
    name, verb = inference_v2.v1_verb(request.path_parameters.get("model", ""))
    inference_v2.check_model(MODEL.card, name)
    body = request.json_object(SETTINGS.max_body_bytes)
    instances.reject_unknown_fields(body, REQUEST_FIELDS)  # one body for both verbs, as /predict and /explain
    if verb == "predict":
        batch = instances.parse_instances(body, MODEL.card.columns, SETTINGS.max_instances, **request.value_hints())
        request.rows = len(batch)
        outputs = MODEL.predict_batch(batch.X)
        predictions.require_finite_outputs(outputs)
        return predictions.prediction_response(MODEL.card, outputs, batch.warnings)
    return _explain(request, body)


def v2_explainer_infer(request: Request) -> dict:
    inference_v2.check_model(MODEL.card, request.path_parameters.get("name"))
    body = request.json_object(SETTINGS.max_body_bytes)
    rows, requested = inference_v2.request_body(body, MODEL.card.columns, SETTINGS.max_instances)
    inference_v2.check_outputs(MODEL.card, requested, explainer=True)
    answer = _explain(request, {**rows, "parameters": inference_v2.explain_parameters(body)})
    outputs = inference_v2.output_tensors(MODEL.card, answer["predictions"], requested, answer["explanations"])
    return inference_v2.infer_response(MODEL.card, outputs, body.get("id"))


def openapi_document(request: Request) -> dict:
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


def lambda_handler(event, context):
    return router.handle(event, context)
