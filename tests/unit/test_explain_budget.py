"""The explain function's time budget (functions/explain/budget.py): the work a request asks for, its
price, the over_budget refusal, and the deadline guard between rows (direct invoke and the twin)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from litelens.explain.service import ALL_CLASSES, ExplainOptions
from litelens.functions.common import constants
from litelens.functions.common.errors import E_DEADLINE_EXCEEDED, E_OVER_BUDGET, ClientError
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Router
from litelens.functions.common.settings import Settings
from litelens.functions.explain import budget
from litelens.functions.explain.budget import Budget, Deadline, Rates, Work, explanation_work, request_work
from litelens.infra.aws.template import FunctionSpec
from litelens.infra.local.container import InvocationContext, LocalFunction
from tests.support.predict_app import import_function_app

EXPLAIN_APP = Path(__file__).resolve().parents[2] / "functions" / "explain" / "app.py"
# One second per model row, nothing else: the arithmetic is readable in the tests.
ROWS_ONLY = Rates(model_row=1.0, multiply_add=0.0, element=0.0, step=0.0)


class Remaining:
    """A Lambda context whose time left is ``plenty_ms`` for the first ``calls`` questions, then ``short_ms``."""

    def __init__(self, calls: int, plenty_ms: int = 60_000, short_ms: int = 200) -> None:
        self.calls, self.plenty_ms, self.short_ms = calls, plenty_ms, short_ms
        self.asked = 0
        self.aws_request_id = "req-deadline"

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return self.plenty_ms if self.asked <= self.calls else self.short_ms


# --- the work of one explained row -----------------------------------------------------------------


def test_shap_work_is_its_worst_case_coalitions_times_the_background():
    # GIVEN 4 columns: 2^4 - 2 = 14 proper coalitions, fewer than any sample cap
    assert budget.shap_coalitions(4, 10_000) == 14
    assert budget.shap_coalitions(100, 10_000) == 10_000 and budget.shap_coalitions(500, 700) == 700
    assert budget.shap_coalitions(1, 10_000) == 0 and budget.shap_coalitions(30, 0) == 0
    shap_only = explanation_work(4, 10_000, background_rows=10, num_samples=0, outputs=1)
    assert shap_only.model_rows == (14 + 1) * 10  # every coalition on every background row, and f(x)
    lime_only = explanation_work(4, 0, background_rows=10, num_samples=5000, outputs=1)
    assert lime_only.model_rows == 5000
    both = explanation_work(4, 10_000, background_rows=10, num_samples=5000, outputs=1)
    assert both.model_rows == shap_only.model_rows + lime_only.model_rows


def test_work_grows_with_width_and_outputs():
    narrow = explanation_work(100, 10_000, 10, 10_000, outputs=1)
    wide = explanation_work(500, 10_000, 10, 10_000, outputs=1)
    assert wide.model_rows == narrow.model_rows  # as many rows, each wider: the rate prices the width
    assert wide.multiply_adds > 20 * narrow.multiply_adds and wide.elements > 4 * narrow.elements
    three = explanation_work(100, 10_000, 10, 10_000, outputs=3)
    assert three.multiply_adds > 2 * narrow.multiply_adds  # SHAP: each output's share of the error
    assert three.model_rows == narrow.model_rows  # one model call serves every output
    # LIME: one Gram matrix and one solve serve every target; each target adds its products
    lime_one, lime_three = (explanation_work(100, 0, 10, 10_000, outputs=k) for k in (1, 3))
    assert lime_three.multiply_adds == lime_one.multiply_adds and lime_three.elements > lime_one.elements


def test_request_work_reads_the_explainers_the_classes_and_the_default_samples():
    card = SimpleNamespace(
        task="multiclass", classes=["low", "medium", "high"], columns=SimpleNamespace(names=list("abcdefgh"))
    )
    # 8 columns: 254 proper coalitions, under the default 2 * 8 + 2048
    work = request_work(ExplainOptions(explainers=("shap",)), card, background_rows=10)
    assert work == explanation_work(8, 254, 10, 0, outputs=1, shap_outputs=3)
    every = request_work(ExplainOptions(target_class=ALL_CLASSES, num_samples=700), card, background_rows=10)
    assert every == explanation_work(8, 2 * 8 + 2048, 10, 700, outputs=3, shap_outputs=3)


# --- the price and the refusal ----------------------------------------------------------------------


def test_over_budget_names_the_budget_the_estimate_and_the_rows_that_fit():
    # GIVEN a row priced at 3 s and a 10 s budget
    limit = Budget(10.0, ROWS_ONLY)
    row = Work(model_rows=3)
    assert limit.check(3, row, context=None) == 9.0  # 9 s fits
    with pytest.raises(ClientError) as caught:
        limit.check(20, row, context=None)
    error = caught.value
    assert (error.status, error.code) == (400, E_OVER_BUDGET)
    assert "60.0 s" in error.message and "10.0 s" in error.message and constants.EXPLAIN_BUDGET_SECONDS in error.message
    assert "at most 3 row(s)" in error.message
    assert error.payload()["error"] | {} == {
        "code": E_OVER_BUDGET,
        "message": error.message,
        "status": 400,
        "budget_seconds": 10.0,
        "estimated_seconds": 60.0,
        "rows_that_fit": 3,
    }


def test_a_row_over_the_whole_budget_says_how_to_make_it_smaller():
    with pytest.raises(ClientError, match=r"not even one row fits: lower parameters\.nsamples"):
        Budget(2.0, ROWS_ONLY).check(1, Work(model_rows=3), context=None)


def test_the_default_budget_is_a_share_of_the_invocations_time_limit():
    unset = Budget(0.0, ROWS_ONLY)
    assert unset.for_invocation(Remaining(calls=1, plenty_ms=29_000)) == pytest.approx(29 * budget.DEFAULT_BUDGET_SHARE)
    assert unset.for_invocation(None) == budget.FALLBACK_TIMEOUT_SECONDS * budget.DEFAULT_BUDGET_SHARE
    assert Budget(4.0, ROWS_ONLY).for_invocation(Remaining(calls=1)) == 4.0  # the setting wins


def test_wide_models_calibrate_on_fewer_rows_of_as_many_values():
    assert budget.calibration_rows(4) == budget.calibration_rows(128) == 2048
    assert budget.calibration_rows(500) == 524 and budget.calibration_rows(100_000) == budget.CALIBRATION_MIN_ROWS


def test_below_one_vcpu_a_row_costs_the_memorys_share_more():
    limit, row = Budget(100.0, ROWS_ONLY), Work(model_rows=2)
    assert limit.row_seconds(row, SimpleNamespace(memory_limit_in_mb=2048)) == 2.0
    assert limit.row_seconds(row, None) == 2.0  # no context: this host's own speed
    half = SimpleNamespace(memory_limit_in_mb=budget.FULL_VCPU_MEMORY_MB // 2)
    assert limit.row_seconds(row, half) == pytest.approx(4.0, rel=1e-3)
    assert limit.check(10, row, half) == pytest.approx(40.0, rel=1e-3)


def test_rates_are_measured_on_batches_of_the_background_rows():
    background = np.arange(12.0).reshape(3, 4)
    seen = []

    def columns(Z):
        seen.append(Z)
        return np.zeros((len(Z), 2))

    rates = Rates.measure(columns, background)
    assert len(seen) == 1 + budget.MODEL_REPEATS
    assert all(Z.shape == (2048, 4) for Z in seen)
    assert {tuple(row) for row in seen[0]} == {tuple(row) for row in background}
    assert all(np.isfinite(v) and v > 0 for v in vars(rates).values())
    assert rates.seconds(Work(1, 2, 3, 4)) == pytest.approx(
        rates.model_row + 2 * rates.multiply_add + 3 * rates.element + 4 * rates.step
    )


# --- the deadline between rows ----------------------------------------------------------------------


def test_the_deadline_leaves_room_for_the_slowest_row_and_the_answer():
    left = [10_000]
    guard = Deadline(lambda: left[0], row_seconds=2.0)
    assert not guard.reached()  # 10 s left, 1.5 x 2 s + 1 s needed
    left[0] = 3_900
    assert guard.reached()
    # a row slower than the estimate raises the bar
    guard = Deadline(lambda: 4_500, row_seconds=0.01)
    assert not guard.reached()
    guard._last -= 3.0  # as if the last row took 3 s
    assert guard.reached()


def test_no_context_no_deadline():
    assert Budget(1.0, ROWS_ONLY).deadline(None, Work(model_rows=1)) is None
    assert Budget(1.0, ROWS_ONLY).deadline(SimpleNamespace(), Work(model_rows=1)) is None


def test_the_router_answers_deadline_exceeded_as_503_with_retry_after_and_the_partial_body(load_event, lambda_context):
    def route(request):
        raise budget.deadline_exceeded(1, 3, {"predictions": [1, 2, 3], "explanations": [{"x": 1}, None, None]})

    log = JsonLogger(stream=__import__("io").StringIO())
    router = Router({("POST", "/explain"): route}, direct_route=("POST", "/explain"), logger=log, settings=Settings())
    response = router.handle(load_event("explain_rest_v1"), lambda_context)
    assert response["statusCode"] == 503 and response["headers"]["Retry-After"] == str(budget.RETRY_AFTER_SECONDS)
    body = json.loads(response["body"])
    assert body["error"]["code"] == E_DEADLINE_EXCEEDED and body["error"]["explained"] == 1
    assert body["error"]["requested"] == 3 and body["explanations"] == [{"x": 1}, None, None]
    assert body["predictions"] == [1, 2, 3]
    line = json.loads(log.stream.getvalue().splitlines()[-1])
    assert line["status"] == 503 and line["ServerErrors"] == 1 and line["error_code"] == E_DEADLINE_EXCEEDED


def test_the_twins_context_counts_down_from_the_functions_timeout():
    context = InvocationContext("ExplainFunction", 2048, timeout_s=29)
    assert 28_900 <= context.get_remaining_time_in_millis() <= 29_000
    context.started -= 28.5
    assert 400 <= context.get_remaining_time_in_millis() <= 500
    context.started -= 10
    assert context.get_remaining_time_in_millis() == 0


# --- the explain function over trained bundles ------------------------------------------------------


def rows_of(app, n):
    background, _ = app.MODEL.bundle.shap_background()
    return np.resize(background, (n, background.shape[1])).tolist()


def post(app, context, instances, parameters=None):
    body = {"instances": instances} | ({"parameters": parameters} if parameters else {})
    response = app.lambda_handler(body, context)
    return (response["error"]["status"] if "error" in response else 200), response


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
    assert response["statusCode"] == 503 and json.loads(response["body"])["error"]["explained"] == 0
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
