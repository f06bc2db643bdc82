"""The predict handler's event fixtures on their own, no model (tests/functional/test_predict_handler_answers.py
and test_predict_handler_errors.py serve them)."""

from __future__ import annotations

import base64
import json

ROWS = [[41, 52000, 0.31, 6], [29, 23000, 0.95, 1]]


def test_base64_helper_round_trip_sanity(load_event):
    event = load_event("predict_http_v2_base64")
    assert json.loads(base64.b64decode(event["body"])) == {"instances": ROWS}
