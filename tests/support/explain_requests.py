"""The explain function called in-process, its answer decoded: ``call`` hands it an event, ``post`` the
REST API explain event (``explain_rest_v1``) with another body."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from tests.support.responses import Answer, decoded


def call(app: ModuleType, event: Any, lambda_context: Any) -> Answer:
    return decoded(app.lambda_handler(event, lambda_context))


def post(app: ModuleType, load_event: Callable[..., dict[str, Any]], lambda_context: Any, body: Any) -> Answer:
    return call(app, load_event("explain_rest_v1", body=body), lambda_context)
