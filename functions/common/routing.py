"""Dispatch: one route table per function, HTTP errors -> their status, surprises -> 500, one log line each.

``Router(routes, direct_route=..., logger=..., settings=..., client_errors=...).handle(event, context)``
is everything a ``lambda_handler`` does: decode the event (``events``), call the route, encode the
answer. ``routes`` maps ``(METHOD, "/path")`` to ``fn(request: events.Request) -> payload | Answer``
(a JSON-able object answered with 200; an ``Answer`` when the route read a batch of rows: the payload
and its row count); a path may hold API Gateway's path parameters (``{name}`` one segment,
``{name+}`` the rest: ``route_pattern``), handed to the route as ``request.path_parameters``;
a route raises an ``errors.HttpError`` (``ClientError`` for a client mistake, ``ServerError``), and
``client_errors`` maps a library's own exception types to ``(status, code)`` (the explain
library's errors know nothing of HTTP). A path starting with one of ``protocol_paths`` answers its
4xx as the Open Inference Protocol (and KServe V1) say, ``{"error": "message"}``, body decoding's
included; the log line keeps the code. Unknown path -> 404 ``not_found``; known path, other
method -> 405 ``method_not_allowed`` (with ``Allow``); any other exception -> 500
``internal_error`` carrying the request id, the traceback logged with it, nothing internal in the
answer. An encoded answer over ``settings.max_response_bytes`` (Lambda's 6 MB, as its runtime counts
the payload: ``answer_size.payload_bytes``) is not sent: 413 ``response_too_large`` instead, a client
error like the data plane's own refusal, which bounds the answer before building it.

Each invocation writes one JSON line that is also a CloudWatch EMF record: request id, X-Ray trace id, cold start,
route, status, rows (the route's ``Answer.rows``; for an error, the rows read before it was raised:
``counting_rows``), latency in ms; metrics ``Latency``, ``Rows``, ``ClientErrors``, ``ServerErrors``
under the ``service`` dimension.
"""

from __future__ import annotations

import os
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from litelens.functions.common import answer_size, events
from litelens.functions.common.errors import (
    E_INTERNAL,
    E_METHOD_NOT_ALLOWED,
    E_NOT_FOUND,
    ClientError,
    HttpError,
    error_payload,
    protocol_error_payload,
)
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.settings import Settings


@dataclass(frozen=True)
class Answer:
    """What a route that read rows answers: the JSON-able ``payload`` (200) and how many rows it read
    (the log line's ``Rows``)."""

    payload: Any
    rows: int | None = None


Route = Callable[[events.Request], Any]  # -> a payload, or an Answer
# The Lambda runtime sets this for every invocation ("Root=1-...;Parent=...;Sampled=1").
XRAY_TRACE_ENV = "_X_AMZN_TRACE_ID"
ROWS_READ = "rows"  # the attribute in which an exception raised after a batch was read carries its row count


def route_pattern(path: str) -> re.Pattern[str]:
    """API Gateway path template -> regex: ``{name}`` one segment, ``{name+}`` the rest."""
    parts = []
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{") and piece.endswith("+}"):
            parts.append(f"(?P<{piece[1:-2]}>.+)")
        elif piece.startswith("{"):
            parts.append(f"(?P<{piece[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return re.compile("^" + "".join(parts) + "$")


def _trace_root(header: str) -> str | None:
    """The trace id (``Root=``) of an X-Ray trace header, the id X-Ray's console searches by."""
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and value:
            return value[:64]
    return None


class counting_rows:
    """``with counting_rows(n):`` whatever is raised inside carries ``n`` (``HttpError.rows``; any other
    exception the same attribute): an error answered after a batch was read logs its rows, as a 200
    does. A class rather than a generator: it runs on every request (a third of the cost)."""

    __slots__ = ("rows",)

    def __init__(self, rows: int) -> None:
        self.rows = rows

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> Literal[False]:
        if isinstance(exc, Exception):
            setattr(exc, ROWS_READ, self.rows)
        return False  # re-raised


class Router:
    def __init__(
        self,
        routes: Mapping[tuple[str, str], Route],
        *,
        direct_route: tuple[str, str],
        logger: JsonLogger,
        settings: Settings,
        client_errors: Mapping[type[Exception], tuple[int, str]] | None = None,
        protocol_paths: tuple[str, ...] = (),
    ) -> None:
        self.routes = {(method.upper(), path): fn for (method, path), fn in routes.items()}
        if direct_route not in self.routes:
            raise ValueError(f"direct_route {direct_route} is not in the route table")
        self.direct_route = direct_route
        self.methods: dict[str, list[str]] = {}
        for method, path in self.routes:
            self.methods.setdefault(path, []).append(method)
        self.templates = [(route_pattern(path), path) for path in self.methods if "{" in path]
        self.log = logger
        self.headers = events.response_headers(settings.cors_origin)
        self.client_errors = tuple((kind, answer) for kind, answer in (client_errors or {}).items())
        self.protocol_paths = protocol_paths
        self.max_response_bytes = settings.max_response_bytes
        self.cold_start = True

    def _template(self, path: str, request: events.Request) -> str | None:
        """The route template ``path`` (or, behind a base path mapping, its end) matches, its parameters
        set on ``request``; None when no template does."""
        suffixes = [path] + [path[i:] for i in range(1, len(path)) if path[i] == "/"]
        for pattern, template in self.templates:
            # only the event's own template may match a path's end (a base path mapping's prefix)
            for candidate in suffixes if template == request.resource else suffixes[:1]:
                found = pattern.match(candidate)
                if found:
                    request.path_parameters = {k: unquote(v) for k, v in found.groupdict().items()}
                    return template
        return None

    def _match(self, request: events.Request) -> Route:
        path = request.path.rstrip("/") or "/"
        if path not in self.methods and request.resource in self.methods and path.endswith(request.resource):
            path = request.resource  # behind a custom domain's base path mapping: /base/predict
        if path not in self.methods and self.templates:
            path = self._template(path, request) or path
        if path not in self.methods:
            raise ClientError(404, E_NOT_FOUND, f"no route {request.path}; routes: {', '.join(sorted(self.methods))}")
        route = self.routes.get((request.method, path))
        if route is None:
            allowed = ", ".join(sorted(self.methods[path]))
            raise ClientError(
                405,
                E_METHOD_NOT_ALLOWED,
                f"{request.method or 'no method'} is not allowed on {path}; use {allowed}",
                headers={"Allow": allowed},
            )
        return route

    def _library_error(self, exc: Exception) -> ClientError | None:
        for kind, (status, code) in self.client_errors:
            if isinstance(exc, kind):
                return ClientError(status, code, str(exc))
        return None

    def _client_payload(self, exc: HttpError, request: events.Request | None, event: Any) -> dict[str, Any]:
        path = request.path if request is not None else events.event_path(event)
        if self.protocol_paths and path.startswith(self.protocol_paths):
            return protocol_error_payload(exc.message)
        return exc.payload()

    def _internal_error(self, request_id: str) -> dict[str, Any]:
        return error_payload(500, E_INTERNAL, f"internal error; quote request id {request_id}", request_id=request_id)

    def _too_large(self, size: int, rows: int | None, request_id: str) -> ClientError:
        """The 413 for an encoded answer of ``size`` payload bytes: the rows that fit, in proportion."""
        limit = self.max_response_bytes
        self.log.warning("answer over the response limit", request_id=request_id, bytes=size, limit=limit, rows=rows)
        fit = (rows or 0) * (limit - answer_size.ENVELOPE_BYTES) // size
        return answer_size.too_large(limit, rows, fit, size)

    def handle(self, event: Any, context: Any) -> Any:
        start = time.perf_counter()
        cold_start, self.cold_start = self.cold_start, False
        request_id = getattr(context, "aws_request_id", "") or ""
        kind = events.event_kind(event)
        request: events.Request | None = None
        extra_headers: Mapping[str, str] = {}
        error_code: str | None = None
        try:
            request = events.decode_event(event, self.direct_route)
            request.context = context
            request_id = request_id or request.request_id
            answer = self._match(request)(request)
            if not isinstance(answer, Answer):
                answer = Answer(answer)
            status, payload, rows = 200, answer.payload, answer.rows
        except HttpError as exc:
            status, extra_headers, error_code, rows = exc.status, exc.headers, exc.code, exc.rows
            payload = self._client_payload(exc, request, event)
        except Exception as exc:
            rows = getattr(exc, ROWS_READ, None)
            mapped = self._library_error(exc)
            if mapped is not None:
                status, payload, error_code = mapped.status, self._client_payload(mapped, request, event), mapped.code
            else:
                status, payload, error_code = 500, self._internal_error(request_id), E_INTERNAL
                self.log.error(
                    "unhandled exception",
                    request_id=request_id,
                    error=f"{type(exc).__name__}: {exc}",
                    traceback=traceback.format_exc(),
                )
        headers = {**self.headers, **extra_headers} if extra_headers else self.headers
        try:
            response = events.encode_response(status, payload, kind, headers)
            limit = self.max_response_bytes
            size = 0 if answer_size.clearly_under(response, limit) else answer_size.payload_bytes(response)
        except (TypeError, ValueError) as exc:  # a payload JSON cannot encode: a bug, not the client's
            status, payload, error_code = 500, self._internal_error(request_id), E_INTERNAL
            self.log.error("unencodable response", request_id=request_id, error=str(exc))
            response, size = events.encode_response(status, payload, kind, self.headers), 0
        if size > self.max_response_bytes:  # the data plane's bound let it through: refused, never a 502
            too_large = self._too_large(size, rows, request_id)
            status, error_code = too_large.status, too_large.code
            response = events.encode_response(
                status, self._client_payload(too_large, request, event), kind, self.headers
            )
        latency_ms = (time.perf_counter() - start) * 1000
        trace = os.environ.get(XRAY_TRACE_ENV, "")  # set by the Lambda runtime for each invocation
        error: dict[str, Any] = {"error_code": error_code} if error_code else {}
        self.log.metrics(
            "request",
            {
                "Latency": (round(latency_ms, 3), "Milliseconds"),
                "Rows": (rows or 0, "Count"),
                "ClientErrors": (int(400 <= status < 500), "Count"),
                "ServerErrors": (int(status >= 500), "Count"),
            },
            request_id=request_id,
            xray_trace_id=_trace_root(trace),
            cold_start=cold_start,
            event=kind,
            method=request.method if request else None,
            path=request.path if request else None,
            status=status,
            **error,
        )
        return response
