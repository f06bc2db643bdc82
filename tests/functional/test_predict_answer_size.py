"""No amplification: an output named 40,000 times is a 400, and an answer that would be over
the response limit is a 413 naming the rows that fit, before it is built; those rows are answered
within the limit. Logged as client errors."""

from __future__ import annotations

import json

import pytest

from litelens.build.bundle import Bundle
from litelens.functions.common import answer_size, constants
from tests.support.predict_app import import_predict_app
from tests.support.responses import decoded

LIMIT = 60_000  # small, so the boundary is a few hundred rows


@pytest.fixture(scope="module")
def small_app(binary_bundle):
    return import_predict_app(binary_bundle, **{constants.MAX_RESPONSE_BYTES: str(LIMIT)})


@pytest.fixture(scope="module")
def features(binary_bundle):
    return Bundle.load(binary_bundle).card.features


def v2_event(load_event, name: str, body: dict, prefix: str = "") -> dict:
    event = load_event("predict_rest_v1", body=body)
    event["resource"] = f"{prefix}/v2/models/{{name}}/infer"
    event["path"] = f"{prefix}/v2/models/{name}/infer"
    return event


def matrix(n: int, width: int, value: float) -> dict:
    return {"inputs": [{"name": "X", "shape": [n, width], "datatype": "FP64", "data": [value] * (n * width)}]}


def last_log(capsys) -> dict:
    return json.loads(capsys.readouterr().out.splitlines()[-1])


def test_an_output_named_40000_times_is_a_400_logged_as_a_client_error(
    app, features, load_event, lambda_context, capsys
):
    # GIVEN the amplification attack: 1,000 rows and "outputs": [{"name": "label"}] x 40,000 (0.9 MB)
    body = matrix(1000, len(features), 0.5) | {"outputs": [{"name": "label"}] * 40_000}
    capsys.readouterr()
    status, answer = decoded(app.lambda_handler(v2_event(load_event, app.MODEL.card.name, body), lambda_context))
    # THEN a 400 in the protocol's shape naming the repeated output, not a 362 MB answer
    assert status == 400 and "'label' 40000 times" in answer["error"]
    record = last_log(capsys)
    assert record["ClientErrors"] == 1 and record["ServerErrors"] == 0 and record["error_code"] == "invalid_instances"


@pytest.mark.parametrize("protocol", ["predict", "v2"])
def test_an_answer_over_the_limit_is_a_413_and_the_rows_that_fit_are_answered(
    small_app, features, load_event, lambda_context, capsys, protocol
):
    name = small_app.MODEL.card.name

    def send(n: int):
        # every value far outside the training range: one out_of_range warning per value
        rows = matrix(n, len(features), 1e6)
        if protocol == "predict":
            event = load_event("predict_rest_v1", body={"instances": [rows["inputs"][0]["data"][: len(features)]] * n})
        else:
            event = v2_event(load_event, name, rows)
        response = small_app.lambda_handler(event, lambda_context)
        return response, *decoded(response)

    # GIVEN more rows than fit in the limit
    capsys.readouterr()
    _, status, answer = send(400)
    # THEN a 413 naming the limit and how many rows fit
    assert status == 413
    message = answer["error"] if protocol == "v2" else answer["error"]["message"]
    assert f"{LIMIT}-byte limit" in message
    record = last_log(capsys)
    assert record["ClientErrors"] == 1 and record["error_code"] == "response_too_large" and record["Rows"] == 400
    fit = int(message.split(" rows fit")[0].rsplit(" ", 1)[-1])
    if protocol == "predict":
        assert answer["error"]["max_rows"] == fit and answer["error"]["limit_bytes"] == LIMIT
    assert 0 < fit < 400
    # WHEN the client sends the rows that fit: answered, within the limit; one more is refused
    response, status, answer = send(fit)
    assert status == 200 and answer_size.payload_bytes(response) <= LIMIT
    assert answer_size.payload_bytes(response) > 0.6 * LIMIT  # the bound is not far above what is sent
    assert send(fit + 1)[1] == 413


def test_the_explainer_refuses_an_output_named_twice_too(binary_app, features, load_event, lambda_context):
    body = matrix(2, len(features), 0.5) | {"outputs": [{"name": "explanations"}] * 3}
    event = v2_event(load_event, binary_app.MODEL.card.name, body, prefix="/explainer")
    status, answer = decoded(binary_app.lambda_handler(event, lambda_context))
    assert status == 400 and "'explanations' 3 times" in answer["error"]
