"""A small Python client for litelens: ``predict`` and ``explain`` over HTTP or Lambda invoke.

Over HTTP (the deployed API Gateway URL, or ``litelens serve``) it sends the ``x-api-key`` header
and retries throttling (429), 5xx answers and connection failures with exponential backoff and
full jitter, honouring ``Retry-After``. Over Lambda it invokes the functions directly with boto3
(the request JSON is the event), e.g. against the twin's Invoke API with ``endpoint_url``.

    client = LitelensClient("https://abc.execute-api.eu-west-1.amazonaws.com/v1", api_key="...")
    client.predict([{"age": 41, "income": 52000, "debt_ratio": 0.3, "tenure": 4}])
    client.explain(rows, explainers=["shap"], seed=0)

    client = LitelensClient.for_lambda("PredictFunction", "ExplainFunction", endpoint_url="http://127.0.0.1:3001")

    answer = client.explain(rows, num_features=8)
    plot_explanation(answer, 0, instances=rows).savefig("why.png")  # SHAP waterfall + LIME (matplotlib)
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from litelens.build.bundle.errors import LitelensError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class ServiceError(LitelensError):
    """A call to the service failed: it answered with an error (``ApiError``) or not at all (``TransportError``)."""


class ApiError(ServiceError):
    """The service answered with an error (after any retries).

    ``status`` is the HTTP status (for a Lambda function error, 502); ``code`` and ``message`` come
    from the functions' ``{"error": {"code", "message"}}`` body when there is one.
    """

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body

    @property
    def is_client_error(self) -> bool:
        return 400 <= self.status < 500


class TransportError(ServiceError):
    """The service could not be reached (after any retries)."""


class PlotError(LitelensError, ValueError):
    """An answer that cannot be drawn as asked (no such instance or class, nothing to plot, a bad option)."""


def _error_from_body(status: int, body: Any) -> ApiError:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return ApiError(status, str(error.get("code", "error")), str(error.get("message", "")), body)
        if "message" in body:  # API Gateway's own answers: {"message": "Forbidden"}
            return ApiError(status, "gateway", str(body["message"]), body)
        if "errorMessage" in body:  # a Lambda function error
            return ApiError(status, str(body.get("errorType", "function_error")), str(body["errorMessage"]), body)
    return ApiError(status, "error", str(body)[:200], body)


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw.decode("utf-8", "replace")


def predict_request(
    instances: Sequence[Any] | None = None, inputs: Mapping[str, Sequence[Any]] | None = None
) -> dict[str, Any]:
    """The ``POST /predict`` body: rows (``instances``) or columns (``inputs``), exactly one of them.

    A value of the wrong shape (instances that are not a list, inputs that are not an object) goes
    as it is, for the server to name the mistake: converting it could silently change the rows."""
    if instances is not None and inputs is not None:
        raise ValueError("give instances or inputs, not both")
    if instances is None and inputs is None:
        raise ValueError("give instances or inputs")
    if instances is None:
        return {"inputs": dict(inputs) if isinstance(inputs, Mapping) else inputs}
    return {"instances": list(instances) if isinstance(instances, list | tuple) else instances}


def build_explain_request(
    instances: Sequence[Any] | None = None,
    *,
    inputs: Mapping[str, Sequence[Any]] | None = None,
    explainers: Sequence[str] | None = None,
    nsamples: int | str | None = None,
    num_samples: int | None = None,
    num_features: int | None = None,
    seed: int | None = None,
    class_name: str | None = None,
    output_space: str | None = None,
    explain_if: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``POST /explain`` body: the predict request plus ``"parameters"`` (every given option,
    ``explain_if`` included: the server reads nothing else at the top level)."""
    parameters: dict[str, Any] = {}
    for key, value in (
        ("explainers", list(explainers) if explainers else None),
        ("nsamples", nsamples),
        ("num_samples", num_samples),
        ("num_features", num_features),
        ("seed", seed),
        ("class", class_name),
        ("output_space", output_space),
        ("explain_if", dict(explain_if) if explain_if else None),
    ):
        if value is not None:
            parameters[key] = value
    request = predict_request(instances, inputs)
    if parameters:
        request["parameters"] = parameters
    return request


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date; None when absent or unusable
    (negative, NaN, infinite, garbage), so the caller falls back to its own backoff."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # asctime's form names no zone: an HTTP-date is always GMT
            when = when.replace(tzinfo=datetime.UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds


def plot_explanation(
    response: Mapping[str, Any],
    index: int = 0,
    *,
    instances: Sequence[Any] | None = None,
    columns: Sequence[str] | None = None,
    top_k: int | None = None,
    class_name: str | None = None,
) -> Any:
    """The matplotlib ``Figure`` of row ``index`` of an ``explain`` answer: a SHAP waterfall from the
    base value to f(x) (the ``top_k`` largest columns, the others folded into one bar; standard errors
    as error bars when the answer has them) beside LIME's weights, one row of panels per explained
    class, the accuracy fields and warnings under them. ``instances`` (the rows sent; ``columns`` names
    the values of rows sent as lists) puts each column's value in its label; ``class_name`` keeps one
    class of a ``"class": "all"`` answer; ``PlotError`` when the row cannot be drawn as asked. matplotlib is
    imported only here."""
    from litelens.infra.client.panels import picture
    from litelens.infra.client.plot import figure_of

    return figure_of(picture(response, index, instances=instances, columns=columns, top_k=top_k, class_name=class_name))


class LitelensClient:
    """``predict``/``explain``/``metadata`` against one deployment, over HTTP or Lambda invoke."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 0.2,
        backoff_max: float = 8.0,
        predict_function: str | None = None,
        explain_function: str | None = None,
        lambda_client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if (url is None) == (predict_function is None and explain_function is None):
            raise ValueError("give either an API url or Lambda function names")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.url = url.rstrip("/") if url else None
        self.api_key = api_key
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.predict_function = predict_function
        self.explain_function = explain_function
        self._lambda = lambda_client
        self._sleep = sleep
        self._jitter = jitter

    @classmethod
    def for_lambda(
        cls,
        predict_function: str | None = "PredictFunction",
        explain_function: str | None = "ExplainFunction",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        timeout: float = 60.0,
        max_attempts: int = 5,
        api_key: str | None = None,
    ) -> LitelensClient:
        """A client invoking the functions (names or ARNs) with boto3; retries are botocore's. On a
        local endpoint, ``api_key`` is the twin's ``--api-key`` (sent as the signing key id)."""
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(region_name=region)
        local = endpoint_url is not None and urllib.parse.urlsplit(endpoint_url).hostname in LOOPBACK_HOSTS
        extra: dict[str, Any] = {}
        if local and session.region_name is None:
            extra["region_name"] = "us-east-1"
        if local and api_key:  # the twin reads the signing key id, not the signature
            extra.update(aws_access_key_id=api_key, aws_secret_access_key="litelens-local")
        elif local and session.get_credentials() is None:
            extra.update(aws_access_key_id="litelens-local", aws_secret_access_key="litelens-local")
        config = Config(
            read_timeout=timeout,
            connect_timeout=min(timeout, 10),
            retries={"mode": "standard", "max_attempts": max_attempts},
        )
        lambda_client = session.client("lambda", endpoint_url=endpoint_url, config=config, **extra)
        return cls(predict_function=predict_function, explain_function=explain_function, lambda_client=lambda_client)

    # -- the API ----------------------------------------------------------------------------------

    def predict(
        self, instances: Sequence[Any] | None = None, *, inputs: Mapping[str, Sequence[Any]] | None = None
    ) -> Any:
        """Predictions for ``instances`` (rows as lists in feature order, or objects by feature name),
        or for the columnar ``inputs`` ({feature: [values...]})."""
        return self._call("predict", "POST", "/predict", predict_request(instances, inputs))

    def explain(
        self,
        instances: Sequence[Any] | None = None,
        *,
        inputs: Mapping[str, Sequence[Any]] | None = None,
        **parameters: Any,
    ) -> Any:
        """Predictions with SHAP and LIME attributions for ``instances`` or columnar ``inputs``;
        ``parameters`` as ``build_explain_request`` (explainers, nsamples, num_samples,
        num_features, seed, class_name, output_space, explain_if)."""
        return self._call("explain", "POST", "/explain", build_explain_request(instances, inputs=inputs, **parameters))

    def send(self, route: str, request: Mapping[str, Any]) -> Any:
        """POST a complete request body to ``predict`` or ``explain``."""
        if route not in ("predict", "explain"):
            raise ValueError(f"unknown route {route!r} (predict or explain)")
        return self._call(route, "POST", f"/{route}", dict(request))

    def metadata(self) -> Any:
        """The served bundle's card (task, features, classes, version, metrics)."""
        return self._call("predict", "GET", "/metadata", None)

    # -- transports -------------------------------------------------------------------------------

    def _call(self, function: str, method: str, path: str, request: Any) -> Any:
        if self.url is not None:
            return self._http(method, path, request)
        name = self.predict_function if function == "predict" else self.explain_function
        if not name:
            raise ValueError(f"no {function} function configured")
        event = request if method == "POST" else {"httpMethod": method, "path": path}
        return self._invoke(name, event)

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        """The server's Retry-After when usable (at most ``backoff_max``), else exponential backoff
        with full jitter."""
        seconds = retry_after_seconds(retry_after)
        if seconds is not None:
            return min(seconds, self.backoff_max)
        return self._jitter() * min(self.backoff_max, self.backoff_base * 2**attempt)

    def _http(self, method: str, path: str, request: Any) -> Any:
        data = None if request is None else json.dumps(request).encode()
        headers = {"Accept": "application/json", "User-Agent": "litelens-client"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["x-api-key"] = self.api_key
        url = f"{self.url}{path}"
        for attempt in range(self.max_attempts):
            last = attempt == self.max_attempts - 1
            http_request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(http_request, timeout=self.timeout) as response:
                    return _parse_body(response.read())
            except urllib.error.HTTPError as exc:
                body = _parse_body(exc.read())
                if exc.code not in RETRY_STATUSES or last:
                    raise _error_from_body(exc.code, body) from None
                self._sleep(self._backoff(attempt, exc.headers.get("Retry-After")))
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                if last:
                    reason = getattr(exc, "reason", exc)
                    raise TransportError(f"{method} {url}: {reason} (after {self.max_attempts} attempts)") from None
                self._sleep(self._backoff(attempt, None))
        raise AssertionError("unreachable")  # pragma: no cover

    def _invoke(self, function_name: str, event: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._lambda.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            raise ApiError(status, str(error.get("Code")), str(error.get("Message")), exc.response) from None
        except BotoCoreError as exc:
            raise TransportError(f"invoke {function_name}: {exc}") from None
        body = _parse_body(response["Payload"].read())
        if response.get("FunctionError"):
            raise _error_from_body(502, body)
        # A handler may answer a direct invocation with an API Gateway-style proxy response.
        if isinstance(body, Mapping) and isinstance(body.get("statusCode"), int) and "body" in body:
            status, inner = int(body["statusCode"]), body["body"]
            inner = _parse_body(inner.encode()) if isinstance(inner, str) else inner
            if status >= 400:
                raise _error_from_body(status, inner)
            return inner
        if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
            raise _error_from_body(int(body.get("status", body["error"].get("status", 400))), body)
        return body
