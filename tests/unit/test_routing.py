"""The router on its own (a stand-in route, no model): how events reach routes, and the request log line."""

from __future__ import annotations

import io
import json

import pytest

from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import XRAY_TRACE_ENV, Router
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
