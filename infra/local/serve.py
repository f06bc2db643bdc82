"""`litelens serve`: a docker-free local twin of the deployed API and of the Lambda Invoke API.

It reads ``template.yaml`` (the only list of routes and functions), imports each function's handler
in-process with the function's environment from the template, and serves:

- the REST API on 127.0.0.1:3000 (like ``sam local start-api``): each HTTP request becomes the
  proxy event API Gateway sends (payload 1.0), the handler's proxy response becomes the HTTP answer;
- the Lambda Invoke API on 127.0.0.1:3001 (like ``sam local start-lambda``):
  ``POST /2015-03-31/functions/{FunctionName}/invocations``, so boto3 Lambda clients work with
  ``endpoint_url``.

Like Lambda, each function is one warm container: its module is imported once (the model loads
at import) and invocations of one function run one at a time. A function whose import fails
answers like Lambda after an init error (API: 502; Invoke API: a function error).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as _dt
import importlib.util
import itertools
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from litelens.functions.common import constants
from litelens.infra.aws.template import (
    DEFAULT_TEMPLATE,
    PSEUDO_PARAMETERS,
    ROOT,
    FunctionSpec,
    Route,
    SamTemplate,
    TemplateError,
)

log = logging.getLogger("litelens.twin")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_API_PORT = 3000
DEFAULT_LAMBDA_PORT = 3001
DEMO_BUNDLE = ROOT / "bundles" / "demo"
# Lambda's synchronous invocation payload limit, request and response.
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
# After refusing a request, how long and how much of the client's remaining input to read and drop.
LINGER_SECONDS = 1.0
LINGER_MAX_BYTES = 1 << 20
# ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
_DIGITS = re.compile(r"[0-9]+")
# A Content-Length with more significant digits is over any limit (and int() refuses over 4300).
_MAX_LENGTH_DIGITS = 16
INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
ACCOUNT_ID = PSEUDO_PARAMETERS["AWS::AccountId"]
REGION = PSEUDO_PARAMETERS["AWS::Region"]
EXIT_USAGE = 2
_module_counter = itertools.count()


class FunctionInvokeError(RuntimeError):
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


@contextlib.contextmanager
def _patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


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
        """Import the handler module by file path under a unique name (every handler is app.py)."""
        path = self.spec.handler_file
        module_name = f"_litelens_twin_{self.name}_{next(_module_counter)}"
        try:
            if not path.is_file():
                raise FileNotFoundError(f"handler file {path} does not exist")
            module_spec = importlib.util.spec_from_file_location(module_name, path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot import {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[module_name] = module
            with _patched_environ(self.environment):
                sys.path.insert(0, str(path.parent))
                try:
                    module_spec.loader.exec_module(module)
                finally:
                    sys.path.remove(str(path.parent))
            handler = getattr(module, self.spec.handler_name, None)
            if not callable(handler):
                raise AttributeError(f"{path} defines no function {self.spec.handler_name!r}")
            self.handler = handler
        except Exception as exc:
            sys.modules.pop(module_name, None)
            self.init_error = FunctionInvokeError(
                "Runtime.ImportModuleError", f"{self.name} failed to initialise: {type(exc).__name__}: {exc}"
            )
            log.error("%s", self.init_error)
            log.debug("%s", traceback.format_exc())

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
                log.error("%s raised (request %s):\n%s", self.name, context.aws_request_id, "".join(stack))
                raise FunctionInvokeError(type(exc).__name__, str(exc), [line.rstrip() for line in stack]) from None
            elapsed = time.monotonic() - context.started
        if elapsed > self.spec.timeout:
            # Lambda would have stopped the handler at its timeout; the twin cannot, so it discards the answer.
            message = f"Task timed out after {self.spec.timeout:.2f} seconds (took {elapsed:.2f} s)"
            log.error("%s: %s (request %s)", self.name, message, context.aws_request_id)
            raise FunctionInvokeError("Sandbox.Timedout", message)
        return result


def _route_pattern(path: str) -> re.Pattern[str]:
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


class Twin:
    """The two local servers over the template's functions. ``start()`` returns once both listen."""

    def __init__(
        self,
        template: SamTemplate,
        *,
        env_overrides: Mapping[str, str] | None = None,
        host: str = DEFAULT_HOST,
        api_port: int = DEFAULT_API_PORT,
        lambda_port: int | None = DEFAULT_LAMBDA_PORT,
        api_key: str | None = None,
        functions: Sequence[str] | None = None,
    ) -> None:
        known = template.function_ids()
        unknown = sorted(set(functions or []) - set(known))
        if unknown:
            raise TemplateError(f"no function(s) {', '.join(unknown)} in the template (it has {', '.join(known)})")
        self.served = list(functions) if functions else known
        self.template = template
        self.env_overrides = dict(env_overrides or {})
        self.host = host
        self.api_port = api_port
        self.lambda_port = lambda_port
        self.api_key = api_key
        self.stage = template.stage_name()
        self.cors_preflight = template.cors_preflight_headers()
        self.routes: list[tuple[re.Pattern[str], Route]] = [
            (_route_pattern(r.path), r) for r in template.routes() if r.function in self.served
        ]
        self.functions: dict[str, LocalFunction] = {}
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self._shared_env: contextlib.ExitStack | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def load_functions(self) -> None:
        specs = [self.template.function(name) for name in self.served]
        envs = {spec.logical_id: {**spec.environment, **self.env_overrides} for spec in specs}
        # What every function agrees on stays in the process environment while serving, for
        # handlers that read a variable per request; the rest is set only around each import.
        shared = dict(set.intersection(*(set(env.items()) for env in envs.values()))) if envs else {}
        self._shared_env = contextlib.ExitStack()
        self._shared_env.enter_context(_patched_environ(shared))
        for spec in specs:
            function = LocalFunction(spec, envs[spec.logical_id])
            function.load()
            self.functions[spec.logical_id] = function

    def start(self) -> None:
        """Bind both ports (failing fast if taken), import the handlers, then serve."""
        try:
            api = _TwinServer((self.host, self.api_port), _ApiRequestHandler, self)
            self._servers.append(api)
            self.api_port = api.server_address[1]
            if self.lambda_port is not None:
                invoke = _TwinServer((self.host, self.lambda_port), _InvokeRequestHandler, self)
                self._servers.append(invoke)
                self.lambda_port = invoke.server_address[1]
        except OSError:
            self.stop()
            raise
        if not self.functions:
            self.load_functions()
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, args=(0.1,), name=f"twin-{server.server_address[1]}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop accepting, finish in-flight requests, close the sockets, restore the environment."""
        if self._threads:  # shutdown() waits for serve_forever(), so only once it runs
            for server in self._servers:
                server.shutdown()
        for server in self._servers:
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._servers.clear()
        self._threads.clear()
        if self._shared_env is not None:
            self._shared_env.close()
            self._shared_env = None

    def __enter__(self) -> Twin:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def lambda_url(self) -> str:
        return f"http://{self.host}:{self.lambda_port}"

    # -- API Gateway ------------------------------------------------------------------------------

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
                "domainName": lower.get("host", f"{self.host}:{self.api_port}"),
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


class _TwinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], twin: Twin) -> None:
        self.twin = twin
        super().__init__(address, handler)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _error_body(code: str, message: str) -> bytes:
    """The functions' error envelope, for answers the twin gives itself (unknown route, too large)."""
    return _json_bytes({"error": {"code": code, "message": message}})


class _BaseRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write, with Nagle off: small keep-alive answers otherwise wait
    # ~40 ms for delayed ACKs.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _TwinServer
    server_version = "litelens-twin"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        names = {name.lower() for name, _ in headers or []}
        for name, value in headers or []:
            self.send_header(name, value)
        if "content-type" not in names:
            self.send_header("Content-Type", "application/json")
        if self.close_connection and "connection" not in names:
            self.send_header("Connection", "close")  # tell the client not to reuse the connection
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self._status = status

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked), or None after answering: 413 over Lambda's
        payload limit, 400 for a length or chunk framing that cannot be read. Either closes the
        connection: what is left of the body on it cannot be trusted."""
        codings = self.headers.get_all("Transfer-Encoding")
        if codings:
            if ",".join(codings).strip().lower() != "chunked":  # RFC 9112 6.3: 400 unless chunked is last
                return self._refuse(f"Transfer-Encoding {', '.join(codings)!r} is not supported (only chunked)")
            return self._read_chunked()
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            return self._refuse(f"conflicting Content-Length headers {sorted(values)}")
        raw = values.pop() if values else "0"
        if not _DIGITS.fullmatch(raw):
            return self._refuse(f"Content-Length {raw!r} is not a byte count")
        digits = raw.lstrip("0") or "0"
        if len(digits) > _MAX_LENGTH_DIGITS:
            return self._too_large(None)
        length = int(digits)
        if length > PAYLOAD_LIMIT_BYTES:
            return self._too_large(length)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        """A ``Transfer-Encoding: chunked`` body: hex sizes (extensions ignored), data, CRLF, then a
        zero-size chunk and optional trailers. The payload limit applies as the chunks arrive."""
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _HEX.fullmatch(size_text):
                return self._refuse(f"malformed chunk size line {line[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                break
            total += size
            if total > PAYLOAD_LIMIT_BYTES:
                return self._too_large(total)
            data = self.rfile.read(size)
            if len(data) != size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                return self._refuse("chunk data does not match its size")
            chunks.append(data)
        for _ in range(100):  # trailers (ignored), up to the blank line that ends the message
            line = self.rfile.readline(8192)
            if not line.endswith(b"\n"):  # a cut line would leave its rest on the connection
                return self._refuse("trailer line too long, or the body ends before its last blank line")
            if line in (b"\r\n", b"\n"):
                return b"".join(chunks)
        return self._refuse("too many trailer lines")

    def _refuse(self, message: str) -> None:
        """Answer 400 in the server's own error shape and close the connection."""
        self.close_connection = True
        self._reject_bad_request(message)
        self._linger()
        return None

    def _too_large(self, length: int | None) -> None:
        """Answer 413 (``length`` None: too large to say) and close the connection."""
        self.close_connection = True
        self._reject_too_large(length)
        self._linger()
        return None

    def _linger(self) -> None:
        """Close our side gracefully and read (and drop) what the client is still sending, briefly.

        Closing a socket with unread input makes the kernel send a reset, which can destroy the
        answer just written before the client reads it; a lingering close lets the 400/413 arrive."""
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(LINGER_SECONDS)
            deadline = time.monotonic() + LINGER_SECONDS
            drained = 0
            while drained < LINGER_MAX_BYTES and time.monotonic() < deadline:
                data = self.connection.recv(65536)
                if not data:
                    break
                drained += len(data)

    def _reject_too_large(self, length: int | None) -> None:
        raise NotImplementedError

    def _reject_bad_request(self, message: str) -> None:
        raise NotImplementedError

    def _answer_internal_error(self) -> None:
        raise NotImplementedError

    def _handle(self) -> None:
        raise NotImplementedError

    def _handle_safely(self) -> None:
        """``_handle``, with any failure of the twin itself answered (500) and logged, never a dropped
        connection."""
        try:
            self._handle()
        except Exception:
            log.exception("%s %s: the twin failed", self.command, self.path)
            self.close_connection = True
            if not getattr(self, "_status", 0):
                with contextlib.suppress(OSError):
                    self._answer_internal_error()


class _ApiRequestHandler(_BaseRequestHandler):
    def _reject_too_large(self, length: int | None) -> None:
        size = "request body" if length is None else f"request body of {length} bytes"
        message = f"{size} is over the {PAYLOAD_LIMIT_BYTES} byte limit"
        self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _error_body("payload_too_large", message))

    def _reject_bad_request(self, message: str) -> None:
        self._send(HTTPStatus.BAD_REQUEST, _error_body("bad_request", message))

    def _answer_internal_error(self) -> None:
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, _json_bytes({"message": "Internal server error"}))

    def _handle(self) -> None:
        twin = self.server.twin
        started = time.perf_counter()
        self._status = 0
        request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        path = url.path or "/"
        function_name = "-"
        try:
            body = self._read_body()
            if body is None:
                return
            route, path_parameters, allowed = twin.match(self.command, path)
            if self.command == "OPTIONS" and route is None and allowed and twin.cors_preflight is not None:
                # A CORS preflight: API Gateway's mock integration answers it, without key or function.
                self._send(HTTPStatus.OK, b"{}", [("Content-Type", "application/json"), *twin.cors_preflight.items()])
                return
            if twin.api_key is not None and self.headers.get("x-api-key") != twin.api_key:
                self._send(HTTPStatus.FORBIDDEN, _json_bytes({"message": "Forbidden"}))
                return
            if route is None:
                if allowed:
                    message = f"{self.command} is not allowed on {path} (allowed: {', '.join(allowed)})"
                    self._send(
                        HTTPStatus.METHOD_NOT_ALLOWED,
                        _error_body("method_not_allowed", message),
                        [("Allow", ", ".join(allowed))],
                    )
                else:
                    routes = ", ".join(f"{r.method} {r.path}" for _, r in twin.routes)
                    self._send(HTTPStatus.NOT_FOUND, _error_body("not_found", f"no route {path} (routes: {routes})"))
                return
            function_name = route.function
            event = twin.proxy_event(
                route,
                method=self.command,
                path=path,
                query=url.query,
                headers=list(self.headers.items()),
                body=body,
                path_parameters=path_parameters,
                source_ip=self.client_address[0],
                request_id=request_id,
            )
            try:
                result = twin.functions[route.function].invoke(event, request_id)
                status, headers, payload = _proxy_response(result)
            except FunctionInvokeError as exc:
                # What API Gateway answers when the Lambda integration fails.
                log.error("%s %s -> 502: %s: %s", self.command, path, exc.error_type, exc)
                self._send(HTTPStatus.BAD_GATEWAY, _json_bytes({"message": "Internal server error"}))
                return
            self._send(status, payload, [*headers, ("x-amzn-RequestId", request_id)])
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info('%s "%s %s" %s %.1fms %s', self.client_address[0], self.command, self.path, self._status,
                     elapsed_ms, function_name)  # fmt: skip

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _BaseRequestHandler._handle_safely


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


class _InvokeRequestHandler(_BaseRequestHandler):
    """The Lambda service's Invoke API (rest-json): what boto3's lambda client speaks."""

    def _lambda_error(self, status: int, error_type: str, message: str) -> None:
        body = _json_bytes({"Type": "User", "message": message, "__type": error_type})
        self._send(status, body, [("x-amzn-ErrorType", error_type), ("x-amzn-RequestId", str(uuid.uuid4()))])

    def _reject_too_large(self, length: int | None) -> None:
        message = f"Request must be smaller than {PAYLOAD_LIMIT_BYTES} bytes for the InvokeFunction operation"
        self._lambda_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", message)

    def _reject_bad_request(self, message: str) -> None:
        self._lambda_error(HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", message)

    def _answer_internal_error(self) -> None:
        self._lambda_error(HTTPStatus.INTERNAL_SERVER_ERROR, "ServiceException", "the local twin failed; see its log")

    def _handle(self) -> None:
        twin = self.server.twin
        started = time.perf_counter()
        self._status = 0
        name = "-"
        try:
            found = INVOKE_PATH.match(urlsplit(self.path).path)
            if self.command != "POST" or not found:
                self.close_connection = True  # its body, if any, is not read: the connection cannot be reused
                self._lambda_error(HTTPStatus.NOT_FOUND, "UnknownOperationException", f"{self.command} {self.path}")
                return
            body = self._read_body()
            if body is None:
                return
            name = _function_name(unquote(found.group("name")))
            function = twin.functions.get(name)
            if function is None:
                known = ", ".join(twin.functions)
                message = f"Function not found: {name} (this twin serves: {known})"
                self._lambda_error(HTTPStatus.NOT_FOUND, "ResourceNotFoundException", message)
                return
            try:
                event = json.loads(body) if body.strip() else {}
            except ValueError as exc:  # not UTF-8, not JSON, or an integer of more than 4300 digits
                message = f"Could not parse request body into json: {str(exc).split(';')[0]}"
                self._lambda_error(HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", message)
                return
            invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            request_id = str(uuid.uuid4())
            headers = [("x-amzn-RequestId", request_id), ("X-Amz-Executed-Version", "$LATEST")]
            if invocation_type == "DryRun":
                self._send(HTTPStatus.NO_CONTENT, b"", headers)
                return
            if invocation_type == "Event":
                threading.Thread(target=_invoke_quietly, args=(function, event, request_id), daemon=True).start()
                self._send(HTTPStatus.ACCEPTED, b"", headers)
                return
            if invocation_type != "RequestResponse":
                message = f"unsupported X-Amz-Invocation-Type {invocation_type!r}"
                self._lambda_error(HTTPStatus.BAD_REQUEST, "InvalidParameterValueException", message)
                return
            try:
                payload = _json_bytes(function.invoke(event, request_id))
                if len(payload) > PAYLOAD_LIMIT_BYTES:
                    raise FunctionInvokeError("Function.ResponseSizeTooLarge", f"response of {len(payload)} bytes")
            except FunctionInvokeError as exc:
                payload = _json_bytes(exc.payload(request_id))
                headers.append(("X-Amz-Function-Error", "Unhandled"))
            except (TypeError, ValueError) as exc:  # the handler returned something json cannot encode
                payload = _json_bytes(FunctionInvokeError("Runtime.MarshalError", str(exc)).payload(request_id))
                headers.append(("X-Amz-Function-Error", "Unhandled"))
            self._send(HTTPStatus.OK, payload, headers)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info('%s "%s %s" %s %.1fms %s', self.client_address[0], self.command, self.path, self._status,
                     elapsed_ms, name)  # fmt: skip

    do_GET = do_POST = do_PUT = do_DELETE = _BaseRequestHandler._handle_safely


def _invoke_quietly(function: LocalFunction, event: Any, request_id: str) -> None:
    with contextlib.suppress(FunctionInvokeError):
        function.invoke(event, request_id)


def _function_name(name: str) -> str:
    """A function name, partial or full ARN, with or without a qualifier -> the bare name."""
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6] if len(parts) > 6 else name
    return name.split(":", 1)[0]


# -- command line ---------------------------------------------------------------------------------


def _key_values(items: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {item!r} is not NAME=VALUE")
        out[key] = value
    return out


def choose_model_uri(bundle: str | None, environ: Mapping[str, str], template_value: str) -> str:
    """--bundle, else MODEL_URI from the environment, else the template's value, else the demo bundle."""
    if bundle:
        return str(Path(bundle).resolve()) if "://" not in bundle else bundle
    if environ.get(constants.MODEL_URI):
        return environ[constants.MODEL_URI]
    if template_value:
        return template_value
    return str(DEMO_BUNDLE)


def _example_instance(model_uri: str) -> tuple[list[str], Any] | None:
    """(feature names, a typical instance: the SHAP background's weighted mean) for a local bundle."""
    from litelens.build.bundle import Bundle

    try:
        bundle = Bundle.load(model_uri, verify=False)
        background, weights = bundle.shap_background()
        typical = (background * weights[:, None]).sum(axis=0) / weights.sum()
    except Exception:  # only a hint in the banner: never a reason not to serve
        return None
    features = bundle.card.features
    values = [round(float(v), 4) for v in typical]
    instance: Any = dict(zip(features, values, strict=True)) if len(features) <= 8 else values
    return features, instance


def startup_banner(twin: Twin, model_uri: str) -> str:
    lines = [f"litelens serve: {len(twin.functions)} functions from the template, model {model_uri}"]
    for _, route in twin.routes:
        function = twin.functions[route.function]
        state = "" if function.handler else "   (failed to initialise: answers 502)"
        lines.append(f"  {route.method:<6} {twin.api_url}{route.path:<12} -> {route.function}{state}")
    if twin.lambda_port is not None:
        names = ", ".join(twin.functions)
        lines.append(f"  Lambda Invoke API {twin.lambda_url}  (boto3 endpoint_url; functions: {names})")
    example = _example_instance(model_uri)
    key = f" -H 'x-api-key: {twin.api_key}'" if twin.api_key else ""
    lines.append("Try:")
    for _, route in twin.routes:
        if route.method == "GET":
            lines.append(f"  curl -s{key} {twin.api_url}{route.path}")
        elif route.method == "POST" and example is not None:
            body = json.dumps({"instances": [example[1]]}, separators=(",", ":"))
            lines.append(
                f"  curl -s{key} -X POST {twin.api_url}{route.path} -H 'content-type: application/json' -d '{body}'"
            )
    lines.append("Ctrl-C stops the servers.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", "-t", default=str(DEFAULT_TEMPLATE), help="SAM template (default: %(default)s)")
    parser.add_argument("--bundle", help=f"bundle folder or s3:// URI (default: $MODEL_URI, else {DEMO_BUNDLE})")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="API port (default: %(default)s)")
    parser.add_argument(
        "--lambda-port", type=int, default=DEFAULT_LAMBDA_PORT, help="Lambda Invoke API port (default: %(default)s)"
    )
    parser.add_argument(
        "--parameter", action="append", metavar="NAME=VALUE", help="override a template parameter (repeatable)"
    )
    parser.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="set a function environment variable (repeatable)"
    )
    parser.add_argument("--api-key", help="require this x-api-key header on API requests, as the deployed API does")
    parser.add_argument(
        "--function",
        action="append",
        metavar="LOGICAL_ID",
        help="serve only this function and its routes (repeatable; default: every function)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")

    def fail(message: str) -> int:
        print(f"litelens serve: {message}", file=sys.stderr)
        return EXIT_USAGE

    try:
        template = SamTemplate.load(args.template, parameter_overrides=_key_values(args.parameter, "--parameter"))
        env = _key_values(args.env, "--env")
        template_uri = next((f.environment.get(constants.MODEL_URI, "") for f in template.functions()), "")
        model_uri = choose_model_uri(args.bundle, {**os.environ, **env}, template_uri)
        if "://" not in model_uri and not (Path(model_uri) / "bundle.json").is_file():
            return fail(f"no bundle at {model_uri}: run `make run` (builds the demo bundle) or pass --bundle PATH")
        env[constants.MODEL_URI] = model_uri
        twin = Twin(
            template, env_overrides=env, host=args.host, api_port=args.port, lambda_port=args.lambda_port,
            api_key=args.api_key, functions=args.function,
        )  # fmt: skip
    except ValueError as exc:  # TemplateError included
        return fail(str(exc))
    try:
        twin.start()
    except OSError as exc:
        return fail(f"cannot listen on {args.host}: {exc.strerror or exc}")
    print(startup_banner(twin, model_uri), flush=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        stopping.wait()
    finally:
        print("litelens serve: shutting down", file=sys.stderr, flush=True)
        twin.stop()
    return 0
