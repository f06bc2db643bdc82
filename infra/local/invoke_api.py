"""The Lambda service's Invoke API on the twin (like ``sam local start-lambda``): what boto3's lambda
client speaks, ``POST /2015-03-31/functions/{FunctionName}/invocations``.

The function name may be a name, a partial or full ARN, with or without a qualifier. Invocation
types: ``RequestResponse`` (the handler's JSON result; a failure is a 200 with
``X-Amz-Function-Error``), ``Event`` (202, queued for a bounded pool of workers; a full queue is
429 ``TooManyRequestsException``) and ``DryRun`` (204). Errors of the service itself come in its
rest-json error shape (``x-amzn-ErrorType``).

With ``--api-key``, every call must carry the key like the REST API: as its one ``x-api-key``
header, or as the access key id boto3 signs with (``aws_access_key_id=<key>``; the twin reads the
key id, it does not verify the signature). Anything else is 403 ``UnrecognizedClientException``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from litelens.infra.local.container import PAYLOAD_LIMIT_BYTES, FunctionInvokeError, LocalFunction, json_bytes
from litelens.infra.local.http_server import FramedRequestHandler
from litelens.infra.local.limits import EventPool, api_key_accepted, header_values, sigv4_access_key
from litelens.infra.local.twin_log import log

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


@dataclass
class InvokeBackend:
    """What the Invoke API answers from: the functions by logical id, the key, the Event pool."""

    functions: Mapping[str, LocalFunction]
    events: EventPool
    api_key: str | None = None

    def authorized(self, pairs: list[tuple[str, str]]) -> bool:
        if self.api_key is None:
            return True
        if header_values(pairs, "x-api-key"):
            return api_key_accepted(pairs, self.api_key)
        key_id = sigv4_access_key(pairs)
        return key_id is not None and hmac.compare_digest(key_id.encode(), self.api_key.encode())


class InvokeRequestHandler(FramedRequestHandler):
    """The Lambda service's Invoke API (rest-json): what boto3's lambda client speaks."""

    def _lambda_error(self, status: int, error_type: str, message: str) -> None:
        body = json_bytes({"Type": "User", "message": message, "__type": error_type})
        self._send(status, body, [("x-amzn-ErrorType", error_type), ("x-amzn-RequestId", str(uuid.uuid4()))])

    def _reject_too_large(self, length: int | None) -> None:
        message = f"Request must be smaller than {PAYLOAD_LIMIT_BYTES} bytes for the InvokeFunction operation"
        self._lambda_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", message)

    def _reject(self, status: int, message: str) -> None:
        if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            error_type = "RequestTooLargeException"
        else:
            error_type = "InvalidRequestContentException" if status < 500 else "ServiceException"
        self._lambda_error(status, error_type, message)

    def _answer_internal_error(self) -> None:
        self._lambda_error(HTTPStatus.INTERNAL_SERVER_ERROR, "ServiceException", "the local twin failed; see its log")

    def _reject_timeout(self, message: str) -> None:
        self._lambda_error(HTTPStatus.REQUEST_TIMEOUT, "RequestTimeoutException", message)

    @classmethod
    def _busy(cls, refusal: str) -> tuple[int, list[tuple[str, str]], bytes]:
        message = f"Rate Exceeded. ({refusal})"
        body = json_bytes({"Type": "User", "message": message, "__type": "TooManyRequestsException"})
        return HTTPStatus.TOO_MANY_REQUESTS, [("x-amzn-ErrorType", "TooManyRequestsException")], body

    def _handle(self) -> None:
        backend: InvokeBackend = self.server.backend
        functions = backend.functions
        started = time.perf_counter()
        self._status = 0
        name = "-"
        try:
            found = INVOKE_PATH.match(urlsplit(self.path).path)
            if self.command != "POST" or not found:
                self.close_connection = True  # its body, if any, is not read: the connection cannot be reused
                self._lambda_error(HTTPStatus.NOT_FOUND, "UnknownOperationException", f"{self.command} {self.path}")
                return
            if not backend.authorized(list(self.headers.items())):
                self.close_connection = True  # its body is not read either
                message = "The security token included in the request is invalid (the twin's --api-key)."
                self._lambda_error(HTTPStatus.FORBIDDEN, "UnrecognizedClientException", message)
                return
            body = self._read_body()
            if body is None:
                return
            name = _function_name(unquote(found.group("name")))
            function = functions.get(name)
            if function is None:
                known = ", ".join(functions)
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
                if not backend.events.submit(lambda: _invoke_quietly(function, event, request_id)):
                    message = "Rate Exceeded. (the twin's queue of Event invocations is full)"
                    self._lambda_error(HTTPStatus.TOO_MANY_REQUESTS, "TooManyRequestsException", message)
                    return
                self._send(HTTPStatus.ACCEPTED, b"", headers)
                return
            if invocation_type != "RequestResponse":
                message = f"unsupported X-Amz-Invocation-Type {invocation_type!r}"
                self._lambda_error(HTTPStatus.BAD_REQUEST, "InvalidParameterValueException", message)
                return
            try:
                payload = json_bytes(function.invoke(event, request_id))
                if len(payload) > PAYLOAD_LIMIT_BYTES:
                    raise FunctionInvokeError("Function.ResponseSizeTooLarge", f"response of {len(payload)} bytes")
            except FunctionInvokeError as exc:
                payload = json_bytes(exc.payload(request_id))
                headers.append(("X-Amz-Function-Error", "Unhandled"))
            except (TypeError, ValueError) as exc:  # the handler returned something json cannot encode
                payload = json_bytes(FunctionInvokeError("Runtime.MarshalError", str(exc)).payload(request_id))
                headers.append(("X-Amz-Function-Error", "Unhandled"))
            self._send(HTTPStatus.OK, payload, headers)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info('%s "%s %s" %s %.1fms %s', self.client_address[0], self.command, self.path, self._status,
                     elapsed_ms, name)  # fmt: skip

    do_GET = do_POST = do_PUT = do_DELETE = FramedRequestHandler._handle_safely


def _invoke_quietly(function: LocalFunction, event: Any, request_id: str) -> None:
    with contextlib.suppress(FunctionInvokeError):
        function.invoke(event, request_id)


def _function_name(name: str) -> str:
    """A function name, partial or full ARN, with or without a qualifier -> the bare name."""
    if name.startswith("arn:"):
        parts = name.split(":")
        return parts[6] if len(parts) > 6 else name
    return name.split(":", 1)[0]
