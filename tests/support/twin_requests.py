"""Helpers for tests that talk to a running local twin: start it over the real template, build
rows, post JSON over keep-alive connections, send one request on a connection of its own, and a boto3
Lambda client pointed at it."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litelens.functions.common import constants
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from litelens.infra.local.serve import Twin
from tests.support.bundles import FEATURES, credit_rows


@contextlib.contextmanager
def serving(bundle: str | Path, functions: Sequence[str] | None = None) -> Iterator[Twin]:
    """The twin over template.yaml and ``bundle`` on free ports; every served handler must load."""
    env = {constants.MODEL_URI: str(bundle)}
    template = SamTemplate.load(DEFAULT_TEMPLATE)
    with Twin(template, env_overrides=env, api_port=0, lambda_port=0, functions=functions) as twin:
        for name, function in twin.functions.items():
            assert function.handler is not None, f"{name}: {function.init_error}"
        yield twin


def rows(features: Sequence[str], n: int, seed: int = 0) -> list[list[float]]:
    """Plausible applicants in the test bundles' feature order."""
    assert list(features) == FEATURES
    return credit_rows(n, seed).astype(np.float64).round(3).tolist()


def post(conn: http.client.HTTPConnection, path: str, body: Any) -> tuple[int, Any]:
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, Any]:
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def call(
    twin: Twin, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request to the twin's API on a connection of its own: the status, the response, its body."""
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


def lambda_client(twin: Twin):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=twin.lambda_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 0}, read_timeout=120),
    )
