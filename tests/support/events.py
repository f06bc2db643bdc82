"""Real API Gateway / direct-invoke event JSONs from tests/events/, handed out by scenario name."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"
# the instances every predict_* event carries (predict_malformed_json_rest_v1 cuts them short)
ROWS = [[41, 52000, 0.31, 6], [29, 23000, 0.95, 1]]


def load_event(name: str, *, body: Any = None, base64_body: bool = False) -> dict[str, Any]:
    """The event ``tests/events/<name>.json``; ``body`` (a dict or str) replaces its body if given."""
    path = EVENTS_DIR / (name if name.endswith(".json") else f"{name}.json")
    event = json.loads(path.read_text())
    if body is not None:
        event = copy.deepcopy(event)
        text = body if isinstance(body, str) else json.dumps(body)
        if base64_body:
            event["body"] = base64.b64encode(text.encode()).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
            event["isBase64Encoded"] = False
    return event


def event_names() -> list[str]:
    return sorted(p.stem for p in EVENTS_DIR.glob("*.json"))
