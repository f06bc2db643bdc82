"""`litelens serve` over the real template.yaml and the real predict handler: HTTP and the Lambda
Invoke API agree with direct handler calls, also under concurrent load (8 threads x 500 requests),
and the handler's own 4xx come through unchanged."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from litelens.build.bundle import Bundle
from tests.support.events import load_event
from tests.support.responses import decoded
from tests.support.twin_requests import lambda_client, post, rows, serving

THREADS = 8
REQUESTS_PER_THREAD = 500


@pytest.fixture(scope="module")
def twin(binary_bundle):
    with serving(binary_bundle, functions=["PredictFunction"]) as running:
        yield running


@pytest.fixture(scope="module")
def features(binary_bundle):
    return Bundle.load(binary_bundle).card.features


def test_bad_input_gets_the_handlers_4xx_through_the_twin(twin):
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=30)
    conn.request("POST", "/predict", body="{not json", headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 400 and body["error"]["code"] and "Traceback" not in json.dumps(body)


def test_concurrent_load_gives_no_errors_and_the_direct_handlers_predictions(twin, features):
    # GIVEN the expected answer of every request, from direct handler calls with the REST v1 fixture event
    predict = twin.functions["PredictFunction"]
    requests = [[row] for row in rows(features, THREADS * REQUESTS_PER_THREAD, seed=1)]
    expected = []
    for instances in requests:
        answer = predict.invoke(load_event("predict_rest_v1", body={"instances": instances}))
        assert answer["statusCode"] == 200
        expected.append(decoded(answer).body["predictions"])
    errors: list = []
    got: list = [None] * len(requests)

    def worker(t: int) -> None:
        conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=60)
        try:
            for i in range(t, len(requests), THREADS):
                status, body = post(conn, "/predict", {"instances": requests[i]})
                if status != 200:
                    errors.append((i, status, body))
                got[i] = body.get("predictions")
        except Exception as exc:  # any transport failure is the twin's error
            errors.append((t, repr(exc)))
        finally:
            conn.close()

    # WHEN 8 threads send 500 requests each over keep-alive connections
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(worker, range(THREADS)))
    # THEN no request failed and every prediction is the direct call's
    assert errors == []
    assert got == expected
    assert len({json.dumps(p) for p in got}) > 100  # distinct rows, distinct answers: no mix-ups hidden
    assert threading.active_count() < 50  # finished connections leave no threads behind


def test_lambda_invoke_api_matches_http(twin, features):
    instances = rows(features, 3, seed=2)
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=30)
    _, over_http = post(conn, "/predict", {"instances": instances})
    conn.close()
    response = lambda_client(twin).invoke(FunctionName="PredictFunction", Payload=json.dumps({"instances": instances}))
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert json.loads(response["Payload"].read())["predictions"] == over_http["predictions"]
    # the direct-invoke metadata event the predict function documents
    response = lambda_client(twin).invoke(
        FunctionName="PredictFunction", Payload=json.dumps(load_event("metadata_direct"))
    )
    assert json.loads(response["Payload"].read())["features"] == features


def test_client_predict_and_metadata_over_http_and_lambda(twin, features):
    from litelens.infra.client import ApiError, LitelensClient

    instances = [dict(zip(features, row, strict=True)) for row in rows(features, 2, seed=3)]
    over_http = LitelensClient(twin.api_url, max_attempts=1)
    over_lambda = LitelensClient(predict_function="PredictFunction", lambda_client=lambda_client(twin))
    assert over_http.predict(instances)["predictions"] == over_lambda.predict(instances)["predictions"]
    assert over_http.metadata()["features"] == over_lambda.metadata()["features"] == features
    for client in (over_http, over_lambda):
        with pytest.raises(ApiError) as exc:
            client.predict([{"age": 1}])
        assert exc.value.status == 400 and exc.value.is_client_error and "income" in exc.value.message
