"""Every error the functions answer, in one place: the error types and their stable codes.

``HttpError(status, code, message)`` is the root of every answered error, sent as
``{"error": {"code", "message", "status"}}`` with that status (``error_payload``); its two branches fix
the status family: ``ClientError`` (4xx) for a mistake in the request, ``ServerError`` (5xx) for what
is not the client's (``PartialAnswer``: the function ran short of time and answers what it did).
Codes are the ``E_*`` constants below: the stable part of every answer (clients branch on them;
messages may change). The local twin answers its own gateway errors (unknown route, wrong method)
with the same codes and envelope. Libraries (``litelens.explain``) raise their own errors; a function
maps them to a ``ClientError`` when it routes them (``routing.Router(client_errors=...)``).
``json_type``/``short_value`` name and quote a request value in a message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from litelens.build.bundle.errors import LitelensError

# The body and its framing.
E_MALFORMED_JSON = "malformed_json"
E_MALFORMED_BODY = "malformed_body"
E_BODY_NOT_OBJECT = "body_not_object"
E_UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
E_BODY_TOO_LARGE = "body_too_large"
E_UNKNOWN_FIELD = "unknown_field"
# Instances.
E_MISSING_INSTANCES = "missing_instances"
E_AMBIGUOUS_INPUT = "ambiguous_input"
E_INVALID_INSTANCES = "invalid_instances"
E_EMPTY_INSTANCES = "empty_instances"
E_TOO_MANY_INSTANCES = "too_many_instances"
E_INVALID_INSTANCE = "invalid_instance"
E_WRONG_FEATURE_COUNT = "wrong_feature_count"
E_MISSING_FEATURE = "missing_feature"
E_UNKNOWN_FEATURE = "unknown_feature"
E_INVALID_VALUE = "invalid_value"
E_NON_FINITE_VALUE = "non_finite_value"
E_COLUMN_LENGTH_MISMATCH = "column_length_mismatch"
# The model's answer.
E_NON_FINITE_OUTPUT = "non_finite_output"
# 413: the answer to the request would be over Lambda's response limit (details: limit_bytes, max_rows).
E_RESPONSE_TOO_LARGE = "response_too_large"
# The explain request's "parameters".
E_INVALID_PARAMETERS = "invalid_parameters"
E_UNKNOWN_PARAMETER = "unknown_parameter"
E_INVALID_PARAMETER = "invalid_parameter"
E_UNKNOWN_EXPLAINER = "unknown_explainer"
E_UNKNOWN_CLASS = "unknown_class"
E_OVER_LIMIT = "over_limit"
E_TOO_MANY_EXPLANATIONS = "too_many_explanations"
E_OVER_BUDGET = "over_budget"  # the request's estimated time is over the explain function's budget
# Routing (the functions' router and the local twin's gateway).
E_NOT_FOUND = "not_found"
E_METHOD_NOT_ALLOWED = "method_not_allowed"
# HTTP framing the local twin's server refuses before any gateway decision (unreadable, too large).
E_BAD_REQUEST = "bad_request"
E_PAYLOAD_TOO_LARGE = "payload_too_large"
E_HEADERS_TOO_LARGE = "headers_too_large"  # 431: request line and headers over the twin's limit
# Not the client's: a bug or an outage, answered 500 with the request id only.
E_INTERNAL = "internal_error"
# Not the client's: the invocation ran short of time (the server's estimate was wrong); 503 with
# Retry-After and what was done (``PartialAnswer``).
E_DEADLINE_EXCEEDED = "deadline_exceeded"

# However much of the request a message quotes (unknown keys, a path), an error answer stays small:
# a message is cut to this many characters and says how long it was (Lambda answers at most 6 MB).
MAX_MESSAGE_CHARS = 1000


class HttpError(LitelensError):
    """An answered error: ``status`` and ``{"error": {"code", "message", "status"}}``. Raised as one of
    its branches, whose ``STATUSES`` bound the status it may carry.

    ``details``: more fields of the ``"error"`` object (numbers a client acts on, e.g. how many rows fit);
    ``headers``: more response headers. ``rows``: how many rows the request had read when this was
    raised (set by the data plane; the log line's ``Rows``)."""

    STATUSES = range(400, 600)
    rows: int | None = None

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if status not in self.STATUSES:
            raise ValueError(
                f"{type(self).__name__} answers {self.STATUSES.start}-{self.STATUSES.stop - 1}, not {status}"
            )
        # A message may quote the request (a path, a key); lone surrogates in it could not be encoded.
        message = bounded(message).encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = dict(details or {})

    def payload(self) -> dict[str, Any]:
        return error_payload(self.status, self.code, self.message, **self.details)


class ClientError(HttpError):
    """A mistake in the request: a 4xx."""

    STATUSES = range(400, 500)


class ServerError(HttpError):
    """Not the client's: a 5xx."""

    STATUSES = range(500, 600)


class PartialAnswer(ServerError):
    """The function could do only part of the work (it ran short of time): a 5xx answered with ``body``,
    the part that was done, next to ``"error"``."""

    def __init__(self, status: int, code: str, message: str, *, body: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(status, code, message, **kwargs)
        self.body = dict(body)

    def payload(self) -> dict[str, Any]:
        return {**self.body, **super().payload()}


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` cut to ``limit`` characters, saying how long it was."""
    if len(message) <= limit:
        return message
    return f"{message[: limit - 60]}... (message cut: {len(message)} characters)"


def error_payload(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The error envelope every litelens answer >= 400 carries."""
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def protocol_error_payload(message: str) -> dict[str, str]:
    """The error answer of the Open Inference Protocol and KServe V1: ``{"error": "message"}``."""
    return {"error": message}


def bad_request(code: str, message: str) -> ClientError:
    return ClientError(400, code, message)


def json_type(value: Any, integers: bool = False) -> str:
    """A JSON value's kind as a message names it: "null", "a boolean", "a number", "a list", ...;
    with ``integers``, an integer is "an integer" (where a message asks for one kind of number)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int) and integers:
        return "an integer"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def short_value(value: Any) -> str:
    """A request value as an error message quotes it: JSON of at most 40 characters. A big integer
    is given by its digit count: Python refuses to print one of more than 4300 digits (a direct
    invocation's event can hold one), and its digits would say nothing anyway."""
    if type(value) is int and abs(value) >= 10**30:
        digits = int((abs(value).bit_length() - 1) * 0.30102999566398120) + 1
        digits += abs(value) >= 10**digits
        return f"an integer of {digits} digits"
    try:
        text = json.dumps(value, allow_nan=True, default=str)
    except ValueError:  # a big integer inside a list or object
        return f"{json_type(value)} too large to show"
    return text if len(text) <= 40 else text[:37] + "..."
