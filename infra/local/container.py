"""One function as one warm Lambda container: imported once, invoked one request at a time.

``LocalFunction(spec, environment)`` imports the function's handler (``load``: the model loads at
import, as at a cold start) and ``invoke(event, request_id)`` runs it with the ``InvocationContext``
the Python runtime passes, returning the handler's value or raising ``FunctionInvokeError`` the way
a failed invocation fails: the handler raised, its import failed, or it ran past its timeout.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from litelens.build.bundle.errors import LitelensError
from litelens.infra.aws.template import PSEUDO_PARAMETERS, FunctionSpec
from litelens.infra.local.loader import load_app
from litelens.infra.local.twin_log import Traceback, log

ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
REGION = PSEUDO_PARAMETERS["AWS::Region"]
# Lambda's synchronous invocation payload limit, request and response.
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024


def json_bytes(payload: Any) -> bytes:
    """Compact JSON, as the runtime serialises a handler's result (and the twin its own answers)."""
    return json.dumps(payload, separators=(",", ":")).encode()


class FunctionInvokeError(LitelensError, RuntimeError):
    """The handler raised, failed to initialise, or returned something unusable."""

    def __init__(self, error_type: str, message: str, stack: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.stack = stack or []

    def payload(self, request_id: str) -> dict[str, Any]:
        return {
            "errorMessage": str(self),
            "errorType": self.error_type,
            "requestId": request_id,
            "stackTrace": self.stack,
        }


@dataclass
class InvocationContext:
    """The Lambda context object the Python runtime passes to handlers."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{_dt.date.today():%Y/%m/%d}/[$LATEST]litelens-twin"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


class LocalFunction:
    """One function as one warm Lambda container: imported once, invoked one request at a time."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str]) -> None:
        self.spec = spec
        self.environment = dict(environment)
        self.handler: Callable[[Any, Any], Any] | None = None
        self.init_error: FunctionInvokeError | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def load(self) -> None:
        """Import the handler module; a failure is kept as ``init_error`` (every invocation raises it)."""
        path = self.spec.handler_file
        try:
            module = load_app(path, self.environment, module_prefix=f"_litelens_twin_{self.name}")
            handler = getattr(module, self.spec.handler_name, None)
            if not callable(handler):
                raise AttributeError(f"{path} defines no function {self.spec.handler_name!r}")
            self.handler = handler
        except Exception as exc:
            self.init_error = FunctionInvokeError(
                "Runtime.ImportModuleError", f"{self.name} failed to initialise: {type(exc).__name__}: {exc}"
            )
            log.error("%s", self.init_error)
            log.debug("%s", Traceback(traceback.format_exc()))

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """The handler's return value; raises FunctionInvokeError like a failed invocation."""
        if self.handler is None:
            raise self.init_error or FunctionInvokeError("Runtime.ImportModuleError", f"{self.name} is not loaded")
        context = InvocationContext(self.name, self.spec.memory_size, self.spec.timeout)
        if request_id:
            context.aws_request_id = request_id
        with self._lock:
            context.started = time.monotonic()
            try:
                result = self.handler(event, context)
            except Exception as exc:
                stack = traceback.format_exception(exc)
                log.error("%s raised (request %s):\n%s", self.name, context.aws_request_id, Traceback("".join(stack)))
                raise FunctionInvokeError(type(exc).__name__, str(exc), [line.rstrip() for line in stack]) from None
            elapsed = time.monotonic() - context.started
        if elapsed > self.spec.timeout:
            # Lambda would have stopped the handler at its timeout; the twin cannot, so it discards the answer.
            message = f"Task timed out after {self.spec.timeout:.2f} seconds (took {elapsed:.2f} s)"
            log.error("%s: %s (request %s)", self.name, message, context.aws_request_id)
            raise FunctionInvokeError("Sandbox.Timedout", message)
        return result
