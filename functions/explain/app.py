"""litelens explain: ``POST /explain``, the predict response plus SHAP and LIME attributions per row.

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
from litelens.functions.common import instances, predictions
from litelens.functions.common.events import Request
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Router
from litelens.functions.common.settings import Settings
from litelens.functions.explain.budget import Budget, Rates, deadline_exceeded, request_work
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
BUDGET = Budget(SETTINGS.explain_budget_seconds, Rates.measure(EXPLANATIONS.columns, BACKGROUND))
log.info(
    "explainers ready",
    model=MODEL.card.name,
    version=MODEL.card.version,
    task=MODEL.card.task,
    caps=vars(CAPS),
    budget_seconds=BUDGET.seconds or None,
    ns_per_unit=BUDGET.rates.as_log(),
)


def explain(request: Request) -> dict:
    body = request.json_object(SETTINGS.max_body_bytes)
    instances.reject_unknown_fields(body, REQUEST_FIELDS)
    params = parse_parameters(body.get("parameters"), MODEL.card, CAPS)
    batch = instances.parse_instances(body, MODEL.card.columns, max_rows(params, CAPS, SETTINGS.max_instances))
    request.rows = len(batch)
    outputs = MODEL.predict_batch(batch.X)
    predictions.require_finite_outputs(outputs)
    columns = EXPLANATIONS.columns_from_outputs(outputs)
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


router = Router(
    {("POST", "/explain"): explain},
    direct_route=("POST", "/explain"),
    logger=log,
    settings=SETTINGS,
    client_errors=LIBRARY_ERRORS,
)


def lambda_handler(event, context):
    return router.handle(event, context)
