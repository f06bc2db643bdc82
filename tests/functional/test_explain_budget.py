"""The explain function's time budget over trained bundles: the deadline guard between rows (direct
invoke and the twin's function), a wide model refused at the caps, a small one within them
(tests/unit/test_explain_budget.py: the work, the price and the refusal without a model)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from litelens.explain.service import ExplainOptions
from litelens.functions.common import constants
from litelens.functions.common.errors import E_DEADLINE_EXCEEDED, E_OVER_BUDGET
from litelens.functions.explain.budget import request_work
from litelens.infra.aws.template import FunctionSpec
from litelens.infra.local.container import LocalFunction
from tests.support.contexts import Remaining
from tests.support.predict_app import EXPLAIN_APP, import_function_app
from tests.support.responses import decoded


def rows_of(app, n):
    background, _ = app.MODEL.bundle.shap_background()
    return np.resize(background, (n, background.shape[1])).tolist()


def post(app, context, instances, parameters=None):
    body = {"instances": instances} | ({"parameters": parameters} if parameters else {})
    return decoded(app.lambda_handler(body, context))


def test_a_deadline_between_rows_answers_the_rows_done(binary_bundle, lambda_context):
    app = import_function_app(EXPLAIN_APP, binary_bundle, **{constants.EXPLAIN_BUDGET_SECONDS: "20"})
    X = rows_of(app, 3)
    # GIVEN an invocation whose time runs short after two rows (no sleeping: the context says so)
    status, body = post(app, Remaining(calls=2), X)
    assert status == 503 and body["error"]["code"] == E_DEADLINE_EXCEEDED
    assert body["error"]["explained"] == 2 and body["error"]["requested"] == 3
    assert body["explanations"][0]["shap"] and body["explanations"][1]["shap"] and body["explanations"][2] is None
    assert len(body["predictions"]) == 3
    # the rows done are the rows a full answer gives
    status, full = post(app, lambda_context, X)
    assert status == 200 and full["explanations"][:2] == body["explanations"][:2]
    # short of time from the start: nothing explained
    status, body = post(app, Remaining(calls=0), X)
    assert status == 503 and body["error"]["explained"] == 0 and body["explanations"] == [None, None, None]


def test_the_twin_gives_the_handler_the_time_its_template_timeout_leaves(binary_bundle, load_event):
    def twin(timeout):
        spec = FunctionSpec("ExplainFunction", "Image", EXPLAIN_APP, "lambda_handler", {}, 2048, timeout)
        function = LocalFunction(spec, {constants.MODEL_URI: str(binary_bundle), constants.EXPLAIN_BUDGET_SECONDS: "5"})
        function.load()
        return function

    event = load_event("explain_rest_v1")
    # a 1 s timeout leaves less than the answer's margin: the handler answers before Lambda would kill it
    response = twin(1).invoke(event)
    assert response["statusCode"] == 503 and decoded(response).body["error"]["explained"] == 0
    assert twin(29).invoke(event)["statusCode"] == 200


@pytest.fixture(scope="module")
def wide_app(wide_bundle):
    # a 4 s budget keeps the answered request short on a test host
    return import_function_app(EXPLAIN_APP, wide_bundle, **{constants.EXPLAIN_BUDGET_SECONDS: "4"})


def test_a_wide_bundle_at_the_caps_is_refused_saying_how_many_rows_fit(wide_app, lambda_context):
    caps = {"nsamples": constants.MAX_SHAP_NSAMPLES_DEFAULT, "num_samples": constants.MAX_LIME_NUM_SAMPLES_DEFAULT}
    # GIVEN 500 columns: every parameter within its cap, 20 rows at the caps
    status, body = post(wide_app, lambda_context, rows_of(wide_app, 20), caps)
    assert status == 400 and body["error"]["code"] == E_OVER_BUDGET and body["error"]["rows_that_fit"] < 20
    # WHEN the defaults ask for less work per row
    status, body = post(wide_app, lambda_context, rows_of(wide_app, 20))
    assert status == 400 and body["error"]["code"] == E_OVER_BUDGET
    fit = body["error"]["rows_that_fit"]
    assert 1 <= fit < 20 and f"at most {fit} row(s)" in body["error"]["message"]
    # THEN that many rows are answered, in about the time estimated (a loose sanity check of the
    # price's form, not a speed target: a busy host may be a few times slower than at init)
    per_row = body["error"]["estimated_seconds"] / 20
    start = time.perf_counter()
    status, answered = post(wide_app, lambda_context, rows_of(wide_app, fit))
    took = time.perf_counter() - start
    assert status == 200 and all(e is not None for e in answered["explanations"])
    assert 0.2 < took / (fit * per_row) < 5


def test_a_small_model_at_every_cap_stays_within_the_budget(binary_bundle, lambda_context):
    # 4 columns: 14 coalitions; 20 rows at the caps are what the caps alone allowed, and still are
    app = import_function_app(EXPLAIN_APP, binary_bundle)
    options = ExplainOptions(
        nsamples=constants.MAX_SHAP_NSAMPLES_DEFAULT, num_samples=constants.MAX_LIME_NUM_SAMPLES_DEFAULT
    )
    work = request_work(options, app.MODEL.card, len(app.BACKGROUND))
    assert app.BUDGET.check(constants.MAX_EXPLAIN_INSTANCES_DEFAULT, work, lambda_context) < app.BUDGET.for_invocation(
        lambda_context
    )
