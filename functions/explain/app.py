"""litelens explain: ``POST /explain``, the predict response plus SHAP and LIME attributions per row.

At import (cold start): the model bundle (same loader as predict: ``MODEL_URI`` folder or
s3://bucket/prefix, else ``bundle/`` next to this file) and both explainers over its TFLite batch
predict; no TensorFlow. Per request: parse (the predict function's parser and errors, plus the
explain ``parameters``), predict, explain the selected rows, encode.
"""

from __future__ import annotations

from pathlib import Path

from threadpoolctl import threadpool_limits

from litelens.explain.parameters import REQUEST_FIELDS, Caps, parse_parameters, select_rows
from litelens.explain.service import Explanations
from litelens.functions.common import constants, protocol
from litelens.functions.common.model import load_at_init
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Router

# One BLAS thread: the solves are small (100 x 2248, 5000 x 100) and a Lambda of 2 GB has ~1 vCPU;
# OpenBLAS's spinning worker threads made LIME's ridge fit 10x slower on a busy 2-core host.
threadpool_limits(limits=1, user_api="blas")

log = JsonLogger(service=constants.env_str(constants.SERVICE_NAME, "explain"))
MODEL = load_at_init(Path(__file__).resolve().parent, log)
EXPLANATIONS = Explanations.from_model(MODEL)
CAPS = Caps.from_env()
MAX_INSTANCES = constants.env_int(constants.MAX_INSTANCES, constants.MAX_INSTANCES_DEFAULT)
MAX_BODY_BYTES = constants.env_int(constants.MAX_BODY_BYTES, constants.MAX_BODY_BYTES_DEFAULT)
log.info("explainers ready", model=MODEL.card.name, version=MODEL.card.version, task=MODEL.card.task, caps=vars(CAPS))


def explain(request: protocol.Request) -> dict:
    body = request.json_object(MAX_BODY_BYTES)
    protocol.reject_unknown_fields(body, REQUEST_FIELDS)
    params = parse_parameters(body.get("parameters"), MODEL.card, CAPS)
    # Without a filter every row is explained, so the explanation cap bounds the rows; with one,
    # a batch may be as large as predict's and only the rows passing the filter count.
    max_rows = CAPS.instances if params.explain_if is None else MAX_INSTANCES
    X = protocol.parse_instances(body, MODEL.card.features, max_rows)
    request.rows = len(X)
    outputs = MODEL.predict_batch(X)
    protocol.require_finite_outputs(outputs)
    columns = EXPLANATIONS.columns_from_outputs(outputs)
    rows = select_rows(params.explain_if, MODEL.card, columns, EXPLANATIONS.predicted_column(columns), CAPS)
    response = protocol.prediction_response(MODEL.card, outputs)
    response["explanations"] = EXPLANATIONS.explain(X, columns, rows, params)
    return response


router = Router({("POST", "/explain"): explain}, direct_route=("POST", "/explain"), logger=log)


def lambda_handler(event, context):
    return router.handle(event, context)
