"""Dispatch: one route table per function, client errors -> 4xx, surprises -> 500, one log line each.

``Router(routes, direct_route, logger).handle(event, context)`` is everything a ``lambda_handler``
does. ``routes`` maps ``(METHOD, "/path")`` to ``fn(request: protocol.Request) -> payload`` (a
JSON-able object answered with 200); a route raises ``protocol.ClientError`` for a client mistake.
Unknown path -> 404 ``not_found``; known path, other method -> 405 ``method_not_allowed`` (with
``Allow``); any other exception -> 500 ``internal_error`` carrying the request id, the traceback
logged with it, nothing internal in the answer.

Each invocation writes one JSON line that is also a CloudWatch EMF record: request id, cold start,
route, status, rows (``request.rows``, set by the route), latency in ms; metrics ``Latency``,
``Rows``, ``ClientErrors``, ``ServerErrors`` under the ``service`` dimension.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from litelens.functions.common import protocol
from litelens.functions.common.observability import JsonLogger

Route = Callable[[protocol.Request], Any]


class Router:
    def __init__(
        self,
        routes: Mapping[tuple[str, str], Route],
        *,
        direct_route: tuple[str, str],
        logger: JsonLogger | None = None,
    ) -> None:
        self.routes = {(method.upper(), path): fn for (method, path), fn in routes.items()}
        if direct_route not in self.routes:
            raise ValueError(f"direct_route {direct_route} is not in the route table")
        self.direct_route = direct_route
        self.methods: dict[str, list[str]] = {}
        for method, path in self.routes:
            self.methods.setdefault(path, []).append(method)
        self.log = logger or JsonLogger()
        self.cold_start = True

    def _match(self, request: protocol.Request) -> Route:
        path = request.path.rstrip("/") or "/"
        if path not in self.methods and request.stage and path.startswith(f"/{request.stage}/"):
            path = path[len(request.stage) + 1 :]  # HTTP API rawPath includes a named stage
        if path not in self.methods:
            raise protocol.ClientError(
                404, protocol.E_NOT_FOUND, f"no route {request.path}; routes: {', '.join(sorted(self.methods))}"
            )
        route = self.routes.get((request.method, path))
        if route is None:
            allowed = ", ".join(sorted(self.methods[path]))
            raise protocol.ClientError(
                405,
                protocol.E_METHOD_NOT_ALLOWED,
                f"{request.method or 'no method'} is not allowed on {path}; use {allowed}",
                headers={"Allow": allowed},
            )
        return route

    def handle(self, event: Any, context: Any) -> Any:
        start = time.perf_counter()
        cold_start, self.cold_start = self.cold_start, False
        request_id = getattr(context, "aws_request_id", "") or ""
        kind = protocol.event_kind(event)
        request: protocol.Request | None = None
        extra_headers: Mapping[str, str] | None = None
        try:
            request = protocol.decode_event(event, self.direct_route)
            request_id = request_id or request.request_id
            status, payload = 200, self._match(request)(request)
        except protocol.ClientError as exc:
            status, payload, extra_headers = exc.status, exc.payload(), exc.headers
        except Exception as exc:
            status = 500
            payload = protocol.error_payload(
                500, protocol.E_INTERNAL, f"internal error; quote request id {request_id}", request_id=request_id
            )
            self.log.error(
                "unhandled exception",
                request_id=request_id,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
            )
        try:
            response = protocol.encode_response(status, payload, kind, extra_headers)
        except (TypeError, ValueError) as exc:  # a payload JSON cannot encode: a bug, not the client's
            status = 500
            payload = protocol.error_payload(
                500, protocol.E_INTERNAL, f"internal error; quote request id {request_id}", request_id=request_id
            )
            self.log.error("unencodable response", request_id=request_id, error=str(exc))
            response = protocol.encode_response(status, payload, kind)
        latency_ms = (time.perf_counter() - start) * 1000
        rows = request.rows if request is not None else None
        self.log.metrics(
            "request",
            {
                "Latency": (round(latency_ms, 3), "Milliseconds"),
                "Rows": (rows or 0, "Count"),
                "ClientErrors": (int(400 <= status < 500), "Count"),
                "ServerErrors": (int(status >= 500), "Count"),
            },
            request_id=request_id,
            cold_start=cold_start,
            event=kind,
            method=request.method if request else None,
            path=request.path if request else None,
            status=status,
            **({"error_code": payload["error"]["code"]} if status >= 400 else {}),
        )
        return response
