"""A local API Gateway (REST API, Lambda proxy integration): every decision it makes, no sockets.

``LocalGateway.handle(method, path, headers, body, query=..., source_ip=...)`` answers one request
as a ``ProxyResponse`` (status, headers, body bytes), deciding in API Gateway's order:

1. route matching over the template's routes (``{name}`` one segment, ``{name+}`` the rest);
2. a CORS preflight (``OPTIONS`` on a path with routes, CORS configured) is answered by the
   gateway's mock integration: no API key, no function;
3. the API key (``x-api-key``), when one is required: 403 ``{"message": "Forbidden"}``, also for
   two ``x-api-key`` headers whatever they hold;
4. no route: 404, or 405 with ``Allow`` when the path exists with other methods, in the
   functions' error envelope (``functions.common.errors``);
5. the REST API (payload 1.0) proxy event, the function invoked, its proxy response checked and
   decoded (502 ``{"message": "Internal server error"}`` when it failed or is malformed), and
   ``x-amzn-RequestId`` added.

Every answer the gateway makes itself carries ``X-Content-Type-Options: nosniff``; a function's
answer carries the headers the function set.

The HTTP server (``http_server``) only turns sockets into ``handle`` calls.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote

from litelens.functions.common.errors import E_METHOD_NOT_ALLOWED, E_NOT_FOUND, error_payload
from litelens.functions.common.routing import route_pattern
from litelens.infra.aws.template import Route
from litelens.infra.local.container import ACCOUNT_ID, PAYLOAD_LIMIT_BYTES, FunctionInvokeError, json_bytes
from litelens.infra.local.limits import api_key_accepted
from litelens.infra.local.twin_log import log

# The gateway's own answers (403, 404, 405, 502, the preflight) are JSON a browser must not sniff:
# a 404 quotes the path, which may hold markup. A function's answer goes out with its own headers.
NOSNIFF = ("X-Content-Type-Options", "nosniff")
JSON_HEADERS = (("Content-Type", "application/json"), NOSNIFF)


class Invocable(Protocol):
    """What the gateway integrates with: a function it can invoke (``container.LocalFunction``)."""

    def invoke(self, event: Any, request_id: str | None = None) -> Any: ...


@dataclass(frozen=True)
class ProxyResponse:
    """The gateway's answer to one request; ``function`` names the function that answered, for the log."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    function: str = "-"


def _json_answer(
    status: int, payload: Any, headers: Iterable[tuple[str, str]] = (), function: str = "-"
) -> ProxyResponse:
    return ProxyResponse(status, [*JSON_HEADERS, *headers], json_bytes(payload), function)


def _proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy integration response -> (status, headers, body); malformed raises."""
    if not isinstance(result, Mapping) or not isinstance(result.get("statusCode"), int):
        raise FunctionInvokeError(
            "MalformedProxyResponse", f"handler returned {type(result).__name__} without statusCode"
        )
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values]
    body = result.get("body") or ""
    if not isinstance(body, str):
        raise FunctionInvokeError("MalformedProxyResponse", "proxy response body must be a string")
    if result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except ValueError:
            raise FunctionInvokeError("MalformedProxyResponse", "isBase64Encoded body is not base64") from None
    else:
        data = body.encode()
    if len(data) > PAYLOAD_LIMIT_BYTES:
        raise FunctionInvokeError("Function.ResponseSizeTooLarge", f"response of {len(data)} bytes is over the limit")
    return int(result["statusCode"]), headers, data


class LocalGateway:
    """API Gateway in front of ``functions`` (logical id -> function), over the template's ``routes``.

    ``functions`` is read at each request, so it may be filled after the gateway is built (the twin
    binds its ports before importing the handlers)."""

    def __init__(
        self,
        routes: Iterable[Route],
        functions: Mapping[str, Invocable],
        *,
        stage: str,
        cors_preflight: Mapping[str, str] | None = None,
        api_key: str | None = None,
        domain_name: str = "127.0.0.1:3000",
        page: Callable[[str, str], ProxyResponse | None] | None = None,
    ) -> None:
        self.routes: list[tuple[re.Pattern[str], Route]] = [(route_pattern(r.path), r) for r in routes]
        self.functions = functions
        self.stage = stage
        self.cors_preflight = dict(cors_preflight) if cors_preflight is not None else None
        self.api_key = api_key
        self.domain_name = domain_name  # requestContext.domainName when the request has no Host
        self.page = page  # the twin's own explain page (``explain_page.ExplainPage``): not an API route, no key

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], list[str]]:
        """(route, path parameters, methods allowed on the path)."""
        allowed: list[str] = []
        for pattern, route in self.routes:
            found = pattern.match(path)
            if found:
                allowed.append(route.method)
                if route.method in (method, "ANY"):
                    return route, {k: unquote(v) for k, v in found.groupdict().items()}, allowed
        return None, {}, allowed

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        body: bytes,
        *,
        query: str = "",
        source_ip: str = "127.0.0.1",
    ) -> ProxyResponse:
        """API Gateway's answer to one request (see the module docstring for the order of decisions)."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        page = self.page(method, path) if self.page is not None else None
        if page is not None:  # GET / and /page/*: the local tool, before the template's routes
            return page
        route, path_parameters, allowed = self.match(method, path)
        if method == "OPTIONS" and route is None and allowed and self.cors_preflight is not None:
            # A CORS preflight: API Gateway's mock integration answers it, without key or function.
            return ProxyResponse(HTTPStatus.OK, [*JSON_HEADERS, *self.cors_preflight.items()], b"{}")
        if self.api_key is not None and not api_key_accepted(pairs, self.api_key):
            return _json_answer(HTTPStatus.FORBIDDEN, {"message": "Forbidden"})
        if route is None:
            if allowed:
                message = f"{method} is not allowed on {path} (allowed: {', '.join(allowed)})"
                payload = error_payload(HTTPStatus.METHOD_NOT_ALLOWED, E_METHOD_NOT_ALLOWED, message)
                return _json_answer(HTTPStatus.METHOD_NOT_ALLOWED, payload, [("Allow", ", ".join(allowed))])
            routes = ", ".join(f"{r.method} {r.path}" for _, r in self.routes)
            payload = error_payload(HTTPStatus.NOT_FOUND, E_NOT_FOUND, f"no route {path} (routes: {routes})")
            return _json_answer(HTTPStatus.NOT_FOUND, payload)
        request_id = str(uuid.uuid4())
        event = self.proxy_event(
            route,
            method=method,
            path=path,
            query=query,
            headers=pairs,
            body=body,
            path_parameters=path_parameters,
            source_ip=source_ip,
            request_id=request_id,
        )
        try:
            result = self.functions[route.function].invoke(event, request_id)
            status, response_headers, response_body = _proxy_response(result)
        except FunctionInvokeError as exc:
            # What API Gateway answers when the Lambda integration fails.
            log.error("%s %s -> 502: %s: %s", method, path, exc.error_type, exc)
            return _json_answer(HTTPStatus.BAD_GATEWAY, {"message": "Internal server error"}, function=route.function)
        return ProxyResponse(
            status, [*response_headers, ("x-amzn-RequestId", request_id)], response_body, route.function
        )

    def proxy_event(
        self,
        route: Route,
        *,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        path_parameters: Mapping[str, str],
        source_ip: str,
        request_id: str,
    ) -> dict[str, Any]:
        """The REST API (payload 1.0) proxy event API Gateway would send for this request."""
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        parsed_query = parse_qs(query, keep_blank_values=True)
        text: str | None
        is_base64 = False
        if not body:
            text = None
        else:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text, is_base64 = base64.b64encode(body).decode("ascii"), True
        now = time.time()
        lower = {k.lower(): v for k, v in single.items()}
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": {k: v[-1] for k, v in parsed_query.items()} or None,
            "multiValueQueryStringParameters": parsed_query or None,
            "pathParameters": dict(path_parameters) or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": "litelenstwin",
                "resourceId": route.event,
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "extendedRequestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "requestTimeEpoch": int(now * 1000),
                "domainName": lower.get("host", self.domain_name),
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lower.get("user-agent"),
                    "apiKey": lower.get("x-api-key"),
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "accessKey": None,
                },
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }
