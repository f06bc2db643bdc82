"""The answer's size bound: never below what either Lambda runtime encoding sends, close to it, and the
413 at the boundary naming the rows that fit; the router's backstop for an answer already built."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from litelens.build.bundle.schema import CATEGORICAL, NUMERIC, Column, Schema
from litelens.functions.common import answer_size, events, instances
from litelens.functions.common import inference_v2 as v2
from litelens.functions.common.errors import ClientError
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.routing import Answer, Router
from litelens.functions.common.settings import Settings
from tests.support.responses import decoded

# Column and class names with every character JSON escapes, non-ASCII and astral ones among them.
AWKWARD = 'in"co\\me \u00e9\U0001f600\x01'
SCHEMA = Schema(
    (
        Column(AWKWARD, NUMERIC, median=1.0, min=0.0, max=2.0),
        Column("kind", CATEGORICAL, levels=("a", "b")),
        Column("plain", NUMERIC, median=1.0, min=0.0, max=2.0),
    )
)
CLASSES = {"binary": ("no", 'y"\\\u00e9s'), "multiclass": ("low", "m\x02id", "h\U0001f600igh"), "regression": None}


def card(task: str) -> SimpleNamespace:
    return SimpleNamespace(name='cr"edit\u00e9', version="v7", task=task, classes=CLASSES[task], schema=SCHEMA)


def batch(n: int) -> instances.Batch:
    """``n`` rows, most with warnings: out of range, unknown levels quoting awkward text, missing values."""
    levels = ["a", 'w"\\eird\u00e9\U0001f600\x03', "b", "x" * 60, None]
    rows = [[(i % 7) - 2.0, levels[i % len(levels)], 5.0 if i % 3 else 1.0] for i in range(n)]
    return instances.parse_instances({"instances": rows}, SCHEMA, n)


def predictions_of(task: str, b: instances.Batch) -> list[dict]:
    classes = CLASSES[task] or ()
    out = []
    for i, warnings in enumerate(b.warnings):
        p = 1 / (i + 3) if i % 4 else 2.2250738585072014e-308
        row = (
            {"probability": p, "label": classes[i % 2]}
            if task == "binary"
            else {"probabilities": dict.fromkeys(classes, p), "label": classes[i % 3]}
            if task == "multiclass"
            else {"value": -p * 1e300}
        )
        if warnings:
            row["warnings"] = warnings
        out.append(row)
    return out


def runtime_sizes(response) -> list[int]:
    """The invocation payload as Lambda's Python runtimes may serialize it (ASCII-escaped or not, spaces or not)."""
    return [
        len(json.dumps(response, ensure_ascii=ascii_only, separators=seps).encode("utf-8", "surrogatepass"))
        for ascii_only in (True, False)
        for seps in ((", ", ": "), (",", ":"))
    ]


def encodings(payload):
    headers = events.response_headers("*")
    return [events.encode_response(200, payload, kind, headers) for kind in events.EventKind]


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("n", [1, 2, 37])
def test_the_bound_is_never_below_the_sent_payload_and_close_to_it(task, n):
    b = batch(n)
    answers = [(answer_size.predict_bound(card(task), b.warnings), {"predictions": predictions_of(task, b)})]
    answers[0][1]["model"] = {"name": card(task).name, "version": "v7"}
    for requested in (None, list(v2.OUTPUTS_BY_TASK[task]), ["warnings"], [v2.OUTPUTS_BY_TASK[task][0]]):
        request_id = 'id "\u00e9\U0001f600'
        tensors = v2.output_tensors(card(task), predictions_of(task, b), requested)
        answers.append(
            (
                answer_size.v2_bound(card(task), b.warnings, requested, request_id),
                v2.infer_response(card(task), tensors, request_id),
            )
        )
    for bound, payload in answers:
        for response in encodings(payload):
            sent = max(runtime_sizes(response))
            # THEN the bound (from the batch alone) and the backstop's measure are never below it
            assert sent <= answer_size.payload_bytes(response) <= bound.total
            # and not so far above that a request which fits is refused (the envelope aside)
            assert bound.total - answer_size.ENVELOPE_BYTES <= 1.6 * sent + 200


def test_at_the_limit_the_413_names_the_rows_that_fit_and_those_rows_fit():
    b = batch(200)
    bound = answer_size.v2_bound(card("binary"), b.warnings, None)
    bound.check(bound.total)  # GIVEN a limit the whole answer fits: accepted
    limit = bound.total - 1
    with pytest.raises(ClientError) as raised:
        bound.check(limit)
    error = raised.value
    assert error.status == 413 and error.code == "response_too_large"
    fit = error.details["max_rows"]
    assert (
        error.details["limit_bytes"] == limit
        and f"{limit}-byte limit" in error.message
        and f"{fit} rows fit" in error.message
    )
    assert "LITELENS_MAX_RESPONSE_BYTES" in error.message and fit == 199
    # THEN the rows that fit are answered within the limit, one more would not be
    half = 100
    head = instances.Batch(b.Z[:half], b.X[:half], b.warnings[:half])
    smaller = answer_size.v2_bound(card("binary"), head.warnings, None)
    fit = smaller.rows_that_fit(smaller.total - 1)
    assert fit == half - 1
    tensors = v2.output_tensors(card("binary"), predictions_of("binary", head)[:fit], None)
    for response in encodings(v2.infer_response(card("binary"), tensors)):
        assert max(runtime_sizes(response)) <= smaller.total - 1


def test_the_router_refuses_an_answer_over_the_limit_as_a_client_error(load_event, lambda_context):
    # GIVEN a route whose answer is built past the limit (an estimate that let it through)
    stream = io.StringIO()
    router = Router(
        {("POST", "/predict"): lambda request: Answer({"big": "x" * 5_000}, rows=10)},
        direct_route=("POST", "/predict"),
        logger=JsonLogger("predict", stream=stream),
        settings=Settings(max_response_bytes=4_000),
    )
    for event in (load_event("predict_rest_v1"), {"instances": [[1]]}):
        status, body = decoded(router.handle(event, lambda_context))
        # THEN a 413 naming the limit and, in proportion, the rows that would fit
        assert status == 413 and body["error"]["code"] == "response_too_large"
        assert body["error"]["limit_bytes"] == 4_000 and 0 <= body["error"]["max_rows"] < 10
        record = json.loads(stream.getvalue().splitlines()[-1])
        assert record["status"] == 413 and record["ClientErrors"] == 1 and record["ServerErrors"] == 0
        assert record["error_code"] == "response_too_large"


def test_a_v2_answer_over_the_limit_is_the_protocols_error_shape(load_event, lambda_context):
    router = Router(
        {("POST", "/v2/models/{name}/infer"): lambda r: {"x": "y" * 5_000}, ("POST", "/predict"): lambda r: {}},
        direct_route=("POST", "/predict"),
        logger=JsonLogger("predict", stream=io.StringIO()),
        settings=Settings(max_response_bytes=4_000),
        protocol_paths=v2.PROTOCOL_PATHS,
    )
    event = {**load_event("predict_rest_v1"), "path": "/v2/models/m/infer", "resource": "/v2/models/{name}/infer"}
    status, body = decoded(router.handle(event, lambda_context))
    assert status == 413 and set(body) == {"error"} and "4000-byte limit" in body["error"]


def test_measuring_costs_no_copy_of_the_answer_per_warning():
    # the warnings' strings are measured, never a JSON text per row built: the bound is numbers only
    b = batch(50)
    bound = answer_size.predict_bound(card("binary"), b.warnings)
    assert bound.per_row.dtype == np.int64 and len(bound.per_row) == 50
