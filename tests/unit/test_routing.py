"""The router on its own (a stand-in route, no model): how events reach routes, and the request log line."""

from __future__ import annotations

import io
import json

import pytest

from litelens.functions.common.errors import ClientError
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import XRAY_TRACE_ENV, Answer, Router, counting_rows
from litelens.functions.common.settings import Settings
from tests.support.responses import decoded


@pytest.fixture
def router_and_log():
    stream = io.StringIO()
    router = Router(
        {("POST", "/predict"): lambda request: {"path": request.path, "resource": request.resource}},
        direct_route=("POST", "/predict"),
        logger=JsonLogger("predict", stream=stream),
        settings=Settings(),
    )
    return router, stream


def rest_event(load_event, path: str, resource: str) -> dict:
    event = load_event("predict_rest_v1")
    event["path"], event["resource"] = path, resource
    return event


def test_a_base_path_mapping_routes_by_the_resource(router_and_log, load_event, lambda_context):
    # GIVEN a REST API behind a custom domain whose base path mapping adds /credit to every path
    router, _ = router_and_log
    response = router.handle(rest_event(load_event, "/credit/predict", "/predict"), lambda_context)
    # THEN the route is found by its resource
    assert response["statusCode"] == 200
    assert decoded(response).body == {"path": "/credit/predict", "resource": "/predict"}
    # and a path whose resource is no route of the function is still a 404
    missing = router.handle(rest_event(load_event, "/credit/other", "/other"), lambda_context)
    assert missing["statusCode"] == 404


def test_the_request_line_carries_the_request_and_trace_ids(router_and_log, load_event, lambda_context, monkeypatch):
    router, stream = router_and_log
    monkeypatch.setenv(XRAY_TRACE_ENV, "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    router.handle(load_event("predict_rest_v1"), lambda_context)
    record = json.loads(stream.getvalue().splitlines()[-1])
    assert record["request_id"] == lambda_context.aws_request_id
    assert record["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    monkeypatch.delenv(XRAY_TRACE_ENV)
    router.handle(load_event("predict_rest_v1"), lambda_context)
    assert json.loads(stream.getvalue().splitlines()[-1])["xray_trace_id"] is None


def test_the_log_line_counts_the_rows_of_an_answer_and_of_an_error_raised_after_reading(load_event, lambda_context):
    # GIVEN routes that read three rows: one answers, one fails with a client error, one with a bug
    def counted(error):
        def route(request):
            with counting_rows(3):
                if error is not None:
                    raise error
                return Answer({"ok": True}, 3)

        return route

    stream = io.StringIO()
    routes = {
        ("POST", "/predict"): counted(None),
        ("POST", "/refused"): counted(ClientError(400, "non_finite_output", "no")),
        ("POST", "/broken"): counted(RuntimeError("bug")),
        ("GET", "/metadata"): lambda request: {"plain": True},
    }
    router = Router(
        routes, direct_route=("POST", "/predict"), logger=JsonLogger("t", stream=stream), settings=Settings()
    )

    def logged(path, method="POST"):
        router.handle(
            {**load_event("predict_rest_v1"), "path": path, "resource": path, "httpMethod": method}, lambda_context
        )
        line = json.loads(stream.getvalue().splitlines()[-1])
        return line["status"], line["Rows"]

    # THEN each line counts the rows read, whatever the answer; a route that read none counts 0
    assert logged("/predict") == (200, 3)
    assert logged("/refused") == (400, 3)
    assert logged("/broken") == (500, 3)
    assert logged("/metadata", "GET") == (200, 0)
