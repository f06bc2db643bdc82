"""What a function answered, read one way by every test: ``decoded(response)`` is the status and the
JSON body of a Lambda proxy response (what API Gateway gets back) or of a direct invocation's payload."""

from __future__ import annotations

import base64
import json
from typing import Any, NamedTuple


class Answer(NamedTuple):
    status: int
    body: Any


def decoded(response: Any) -> Answer:
    """(status, body) of what a handler returned. A proxy response carries both: its body is JSON, says
    so in its Content-Type, and is base64 when ``isBase64Encoded``. A direct invocation's payload is the
    body itself: an error's status is inside it, anything else is a 200."""
    if isinstance(response, dict) and "statusCode" in response:
        assert response["headers"]["Content-Type"] == "application/json"
        text = response["body"]
        if response.get("isBase64Encoded"):
            text = base64.b64decode(text)
        return Answer(response["statusCode"], json.loads(text))
    status = response["error"]["status"] if isinstance(response, dict) and "error" in response else 200
    return Answer(status, response)
