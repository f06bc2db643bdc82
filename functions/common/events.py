"""Lambda events in, proxy responses out: the only module that knows API Gateway and direct-invoke shapes.

``decode_event(event, direct_route) -> Request``
    API Gateway REST API proxy events (payload 1.0, ``kind == EventKind.REST_V1``), HTTP API events (payload
    2.0, ``HTTP_V2``; a named stage's prefix is taken off ``rawPath``, as API Gateway routes it;
    a REST event keeps its ``resource``, which a custom domain's base path mapping leaves unprefixed),
    base64 bodies (``isBase64Encoded``) and direct invocations (``DIRECT``: boto3 ``lambda.invoke``
    with the request JSON itself as the event, routed to ``direct_route``; or
    ``{"httpMethod"|"method": ..., "path": ..., "body": ...}`` without a ``requestContext`` to reach
    another route, e.g. ``{"httpMethod": "GET", "path": "/metadata"}``).

``Request.json_object(max_body_bytes)``
    Checks the content type (415), size (413) and syntax (400) and returns the body object; NaN and
    Infinity literals parse to floats, which the instance parser rejects with their position.
    ``Request.value_hints()`` says what the body text rules out (booleans, strings): a speed-up the
    instance parser may take, never a change in what is accepted.

``encode_response(status, payload, kind, headers) -> handler return value``
    API Gateway kinds get a proxy response (statusCode, compact JSON body, the given headers); a
    direct invocation gets the payload object itself (errors as ``{"error": {..., "status"}}``).
    ``response_headers(cors_origin)`` builds the headers every answer carries, once per cold start.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from litelens.functions.common.errors import (
    E_BODY_NOT_OBJECT,
    E_BODY_TOO_LARGE,
    E_MALFORMED_BODY,
    E_MALFORMED_JSON,
    E_UNSUPPORTED_MEDIA_TYPE,
    ClientError,
    bad_request,
    json_type,
)

try:  # 5-10x faster JSON both ways (a project dependency); the stdlib is the fallback and the error reporter
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _HAS_ORJSON = False
else:
    _HAS_ORJSON = True


class EventKind(StrEnum):
    """The shape of an invocation (``event_kind``), as the request log's ``event`` field names it."""

    REST_V1 = "rest_v1"  # API Gateway REST API proxy event, payload 1.0
    HTTP_V2 = "http_v2"  # HTTP API event, payload 2.0
    DIRECT = "direct"  # lambda.invoke with the request JSON (or a {method, path, body}) as the event


JSON_CONTENT_TYPE = "application/json"
CORS_ALLOW_HEADERS = "Content-Type,X-Api-Key,Authorization,X-Amz-Date,X-Amz-Security-Token"
CORS_ALLOW_METHODS = "GET,POST,OPTIONS"


@dataclass
class Request:
    """One decoded invocation. ``path`` is the route's path (stage prefix removed); ``body`` the raw
    text (None when there is none)."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    kind: EventKind
    request_id: str = ""
    stage: str = ""
    resource: str = ""  # REST API: the route's path template (a base path mapping prefixes the path, not this)
    direct_body: Any = None  # a direct invocation's event, already a JSON value
    context: Any = field(default=None, repr=False)  # the invocation's Lambda context (set by the router): time left
    path_parameters: dict[str, str] = field(default_factory=dict)  # the route template's, set by the router
    # Set False by json_object when the body text rules them out (see value_hints)
    booleans_possible: bool = True
    strings_possible: bool = True
    _parsed: dict[str, Any] | None = field(default=None, repr=False)

    def json_object(self, max_body_bytes: int) -> dict[str, Any]:
        """The body as a JSON object: 415 wrong content type, 413 too large, 400 not JSON/not an object."""
        if self._parsed is not None:
            return self._parsed
        if self.kind == EventKind.DIRECT and self.direct_body is not None:
            value = self.direct_body
        else:
            value = self._parse_body(max_body_bytes)
        if not isinstance(value, dict):
            raise bad_request(E_BODY_NOT_OBJECT, f"request body must be a JSON object, got {json_type(value)}")
        self._parsed = value
        return value

    def _parse_body(self, max_body_bytes: int) -> Any:
        content_type = self.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type and media_type != JSON_CONTENT_TYPE and not media_type.endswith("+json"):
            raise ClientError(
                415,
                E_UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {content_type!r} is not supported; send Content-Type: {JSON_CONTENT_TYPE}",
            )
        text = self.body or ""
        try:
            size = len(text) if text.isascii() else len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise bad_request(E_MALFORMED_BODY, "request body is not valid UTF-8 text (a lone surrogate)") from None
        if size > max_body_bytes:
            raise ClientError(
                413, E_BODY_TOO_LARGE, f"request body is {size} bytes; the limit is {max_body_bytes} bytes"
            )
        if not text.strip():
            raise bad_request(E_MALFORMED_JSON, "request body is empty; send a JSON object")
        try:
            value = loads(text)
        except json.JSONDecodeError as exc:
            raise bad_request(
                E_MALFORMED_JSON, f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        except RecursionError:
            raise bad_request(E_MALFORMED_JSON, "request body is not valid JSON: nested too deeply") from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise bad_request(E_MALFORMED_JSON, f"request body cannot be read: {str(exc).split(';')[0]}") from None
        if isinstance(value, dict):
            self.booleans_possible = _may_hold_boolean(text)
            self.strings_possible = not _quote_count_at_most(text, 2 * len(value))
        return value

    def value_hints(self) -> dict[str, bool]:
        """What the body text rules out, as ``instances.parse_instances`` keyword arguments."""
        return {"booleans_possible": self.booleans_possible, "strings_possible": self.strings_possible}


def _may_hold_boolean(text: str) -> bool:
    """False when the JSON text has no true/false literal. A true needs a "u" and a false an "l":
    one memchr each settles the usual numeric body (the substring searches cost ~1.4 ms each on 2 MB)."""
    return ("u" in text and "true" in text) or ("l" in text and "false" in text)


def _quote_count_at_most(text: str, limit: int) -> bool:
    """Whether ``text`` has at most ``limit`` double quotes (stops looking past the limit).

    Every JSON string spends two quotes, so a body object with ``k`` keys and only ``2k`` quotes holds
    no string besides its own keys: no string feature values, no nested objects."""
    position = -1
    for _ in range(limit + 1):
        position = text.find('"', position + 1)
        if position < 0:
            return True
    return False


def loads(text: str) -> Any:
    """JSON text -> value. orjson first; on anything it refuses, the stdlib decides: it reads NaN and
    Infinity literals and huge integers (which the instance parser then rejects, naming the instance
    and feature) and words the syntax error (line and column) for the client."""
    if _HAS_ORJSON:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(payload: Any) -> str:
    """Compact strict JSON (no NaN/Infinity: the formatters turn non-finite numbers into null)."""
    if _HAS_ORJSON:
        return _orjson.dumps(payload).decode()
    return json.dumps(payload, allow_nan=False, separators=(",", ":"))


def _lower_headers(headers: Any) -> dict[str, str]:
    if not isinstance(headers, Mapping):
        return {}
    return {k.lower(): v for k, v in headers.items() if isinstance(k, str) and isinstance(v, str)}


def _text(*candidates: Any, default: str = "") -> str:
    """The first non-empty string among an event's fields. A gateway always sends strings; anything
    else (a number, even one of 5000 digits that str() refuses, in a hand-made event) counts as absent."""
    return next((c for c in candidates if isinstance(c, str) and c), default)


def _decode_body(event: Mapping[str, Any]) -> str | None:
    body = event.get("body")
    if body is None:
        return None
    if not isinstance(body, str):
        raise bad_request(E_MALFORMED_BODY, "event body must be a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise bad_request(E_MALFORMED_BODY, "body is not valid base64-encoded UTF-8") from None
    return body


def event_kind(event: Any) -> EventKind:
    """``REST_V1``, ``HTTP_V2`` or ``DIRECT``, from the event's shape."""
    if isinstance(event, Mapping):
        context = event.get("requestContext")
        if isinstance(context, Mapping):
            if event.get("version") == "2.0" and isinstance(context.get("http"), Mapping):
                return EventKind.HTTP_V2
            if "httpMethod" in event:
                return EventKind.REST_V1
    return EventKind.DIRECT


def event_path(event: Any) -> str:
    """The request path an event names, read without decoding the event: for error answers."""
    if not isinstance(event, Mapping):
        return ""
    kind = event_kind(event)
    path = event.get("rawPath") if kind == EventKind.HTTP_V2 else event.get("path")
    if not isinstance(path, str):
        return ""
    if kind == EventKind.HTTP_V2 and isinstance(event["requestContext"].get("stage"), str):
        return _without_stage(path, event["requestContext"]["stage"])
    return path


def _without_stage(path: str, stage: str) -> str:
    """An HTTP API's rawPath carries a named stage (``/v1/predict``); its routes do not."""
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        return path[len(stage) + 1 :]
    return path


def decode_event(event: Any, direct_route: tuple[str, str]) -> Request:
    """The invocation as a Request; raises ClientError for an undecodable body."""
    kind = event_kind(event)
    if kind in (EventKind.REST_V1, EventKind.HTTP_V2):
        context = event["requestContext"]
        stage = _text(context.get("stage"))
        if kind == EventKind.REST_V1:
            method, path = event.get("httpMethod"), _text(event.get("path"), event.get("resource"), default="/")
        else:
            http = context["http"]
            method = http.get("method")
            path = _without_stage(_text(event.get("rawPath"), http.get("path"), default="/"), stage)
        return Request(
            method=_text(method).upper(),
            path=path,
            headers=_lower_headers(event.get("headers")),
            body=_decode_body(event),
            kind=kind,
            request_id=_text(context.get("requestId")),
            stage=stage,
            resource=_text(event.get("resource")) if kind == EventKind.REST_V1 else "",
        )
    if (
        isinstance(event, Mapping)
        and isinstance(event.get("path"), str)
        and ("httpMethod" in event or "method" in event)
    ):
        # A direct invocation naming its route (the client uses it for GET /metadata).
        return Request(
            method=_text(event.get("httpMethod"), event.get("method")).upper(),
            path=event["path"],
            headers=_lower_headers(event.get("headers")),
            body=_decode_body(event),
            kind=kind,
        )
    method, path = direct_route
    return Request(method=method, path=path, headers={}, body=None, kind=kind, direct_body=event)


def response_headers(cors_origin: str) -> dict[str, str]:
    """The headers of every proxy response: JSON, and CORS for ``cors_origin`` (empty: none)."""
    headers = {"Content-Type": JSON_CONTENT_TYPE}
    if cors_origin:
        headers |= {
            "Access-Control-Allow-Origin": cors_origin,
            "Access-Control-Allow-Headers": CORS_ALLOW_HEADERS,
            "Access-Control-Allow-Methods": CORS_ALLOW_METHODS,
        }
    return headers


def encode_response(status: int, payload: Any, kind: EventKind, headers: Mapping[str, str]) -> Any:
    """The handler's return value: a proxy response for API Gateway, the payload for a direct invoke."""
    if kind == EventKind.DIRECT:
        return payload
    return {"statusCode": status, "headers": dict(headers), "body": dumps(payload), "isBase64Encoded": False}
