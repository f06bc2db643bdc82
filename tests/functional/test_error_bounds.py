"""Every error answer of the predict function stays small, whatever the request quotes back (unknown keys,
a path): served from a trained bundle (tests/unit/test_error_bounds.py cuts the message itself)."""

from __future__ import annotations

import json

from tests.support.predict_app import import_predict_app
from tests.support.responses import decoded


def test_a_1_5_mb_request_of_unknown_keys_gets_a_small_400(binary_bundle, load_event, lambda_context):
    # GIVEN a 1.5 MB body whose every key is unknown, and a path of 100,000 characters
    app = import_predict_app(binary_bundle)
    body = json.dumps({"instances": [[1, 2, 3, 4]], **{f"key_\x7f{i:07d}": 0 for i in range(90_000)}})
    assert len(body) > 1_500_000
    response = app.lambda_handler(load_event("predict_rest_v1", body=body), lambda_context)
    # THEN the answer is a 400 of a few kilobytes, far below Lambda's 6 MB response limit
    assert response["statusCode"] == 400 and len(response["body"]) < 10_000
    assert decoded(response).body["error"]["code"] == "unknown_field"
    event = load_event("predict_rest_v1")
    event["path"] = "/" + "p" * 100_000
    response = app.lambda_handler(event, lambda_context)
    assert response["statusCode"] == 404 and len(response["body"]) < 10_000
