"""The explain function's time budget (functions/explain/budget.py): the work a request asks for, its
price, the over_budget refusal, and the deadline guard between rows, without a model
(tests/functional/test_explain_budget.py runs it in the explain function over trained bundles)."""

from __future__ import annotations

import json
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
from litelens.infra.local.container import InvocationContext
from tests.support.contexts import Remaining
from tests.support.responses import decoded

# One second per model row, nothing else: the arithmetic is readable in the tests.
ROWS_ONLY = Rates(model_row=1.0, multiply_add=0.0, element=0.0, step=0.0)


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
        task="multiclass",
        classes=["low", "medium", "high"],
        n_outputs=3,
        schema=SimpleNamespace(names=list("abcdefgh")),
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
    body = decoded(response).body
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
