"""HTTP framing against the twin over the real template: a chunked POST /predict reaches the
predict handler whole, answers what the same request with a Content-Length answers, and leaves
the keep-alive connection usable."""

from __future__ import annotations

import http.client
import json

import pytest

from litelens.build.bundle import Bundle
from tests.support.twin_requests import get, post, rows, serving


@pytest.fixture(scope="module")
def twin(binary_bundle):
    with serving(binary_bundle, functions=["PredictFunction"]) as running:
        yield running


def pieces(data: bytes, size: int = 7):
    """The body as an iterable, which http.client sends chunked (one chunk per piece)."""
    return (data[start : start + size] for start in range(0, len(data), size))


def test_chunked_predict_equals_the_plain_one_and_the_connection_stays_usable(twin, binary_bundle):
    # GIVEN one request body sent once with a Content-Length and once chunked, on one connection
    features = Bundle.load(binary_bundle).card.features
    request = {"instances": rows(features, 3, seed=5)}
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=120)
    try:
        status, plain = post(conn, "/predict", request)
        assert status == 200, plain
        data = json.dumps(request).encode()
        conn.request(
            "POST", "/predict", body=pieces(data), headers={"Content-Type": "application/json"}, encode_chunked=True
        )
        response = conn.getresponse()
        chunked_status, chunked_answer = response.status, json.loads(response.read())
        # THEN the chunked request is predicted the same
        assert chunked_status == 200, chunked_answer
        assert chunked_answer["predictions"] == plain["predictions"]
        # AND the same connection serves the next request
        status, metadata = get(conn, "/metadata")
        assert status == 200 and metadata["features"] == features
        assert post(conn, "/predict", request) == (200, plain)
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "PROPFIND"])
def test_a_method_no_route_has_is_answered_by_the_gateway_not_by_http_server(twin, method):
    # GIVEN a method token http.server has no handler for, on a path that exists and one that does not
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=60)
    try:
        for path, status in (("/predict", 405), ("/nowhere", 404)):
            conn.request(method, path)
            response = conn.getresponse()
            body = response.read()
            # THEN the answer is the gateway's, in the functions' error envelope (not a 501 HTML page)
            assert response.status == status, body
            assert response.getheader("Content-Type", "").startswith("application/json")
            assert json.loads(body)["error"]["status"] == status
    finally:
        conn.close()
