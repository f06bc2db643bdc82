"""The request/response protocol of the functions: events in, numpy batches across, JSON out.

Nothing here knows the model runtime; nothing in the model runtime knows events. Handlers glue
the two (see ``routing.Router``). The API, shared by the predict and explain functions:

Events -> ``decode_event(event, direct_route) -> Request``
    Accepts API Gateway REST API proxy events (payload 1.0, ``kind == REST_V1``), HTTP API events
    (payload 2.0, ``HTTP_V2``), base64 bodies (``isBase64Encoded``) and direct invocations
    (``DIRECT``: boto3 ``lambda.invoke`` with the request JSON itself as the event, routed to
    ``direct_route``; or ``{"httpMethod"|"method": ..., "path": ..., "body": ...}`` without a
    ``requestContext`` to reach another route, e.g. ``{"httpMethod": "GET", "path": "/metadata"}``).
    ``Request.json_object(max_body_bytes)`` checks the content type (415), size (413) and syntax
    (400) and returns the body object; NaN/Infinity literals parse to floats and are rejected,
    with their position, by the instance parser.

Body -> ``parse_instances(body, features, max_rows, **request.value_hints()) -> np.ndarray`` float32 (n, F)
    Reads ``{"instances": [...]}`` (each a list in ``features`` order, or an object with exactly
    the feature names as keys) or ``{"inputs": {feature: [values...]}}``. Only those two keys are
    read: other top-level keys belong to the caller (explain reads ``"parameters"``); a caller
    that wants strictness calls ``reject_unknown_fields(body, allowed)``.
    Pass ``**request.value_hints()`` (what the body text rules out: a speed-up for large bodies,
    never a change in what is accepted).

Errors -> ``ClientError(status, code, message)``
    Every client mistake raises it; ``routing`` maps it to ``{"error": {"code", "message",
    "status"}}`` with that status. Codes are the ``E_*`` constants below; messages name the
    instance index and feature.

Out -> ``format_predictions(card, outputs)``, ``model_info(card)``, ``card_metadata(card)``,
    ``encode_response(status, payload, kind, extra_headers)``
    Binary: ``{"probability": P(classes[1]), "label"}``; multiclass: ``{"probabilities":
    {class: p}, "label"}``; regression: ``{"value"}``. API Gateway kinds get a proxy response
    (statusCode, JSON body, ``Content-Type: application/json``, CORS origin from the environment);
    a direct invocation gets the payload object itself (errors as ``{"error": {..., "status"}}``).
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from litelens.functions.common import constants

try:  # 5-10x faster JSON both ways (a project dependency); the stdlib is the fallback and the error reporter
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

REST_V1 = "rest_v1"
HTTP_V2 = "http_v2"
DIRECT = "direct"

# Error codes: the stable part of every 4xx answer (clients branch on them; messages may change).
E_MALFORMED_JSON = "malformed_json"
E_MALFORMED_BODY = "malformed_body"
E_BODY_NOT_OBJECT = "body_not_object"
E_UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
E_BODY_TOO_LARGE = "body_too_large"
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
E_UNKNOWN_FIELD = "unknown_field"
E_NON_FINITE_OUTPUT = "non_finite_output"
E_NOT_FOUND = "not_found"
E_METHOD_NOT_ALLOWED = "method_not_allowed"
E_INTERNAL = "internal_error"

JSON_CONTENT_TYPE = "application/json"
_NUMBER_TYPES = frozenset((int, float))  # exact types: bool is a subclass of int and is rejected


class ClientError(Exception):
    """A mistake in the request: answered with ``status`` and ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        # A message may quote the request (a path, a key); lone surrogates in it could not be encoded.
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def payload(self) -> dict[str, Any]:
        return error_payload(self.status, self.code, self.message)


def error_payload(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


def bad_request(code: str, message: str) -> ClientError:
    return ClientError(400, code, message)


# --- events -> Request ---------------------------------------------------------------------------


@dataclass
class Request:
    """One decoded invocation. ``body`` is the raw text (None when there is none)."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    kind: str
    request_id: str = ""
    stage: str = ""
    direct_body: Any = None  # a direct invocation's event, already a JSON value
    rows: int | None = None  # set by the route, for the request log line
    # Set False by json_object when the body text rules them out (see value_hints)
    booleans_possible: bool = True
    strings_possible: bool = True
    _parsed: Any = field(default=None, repr=False)

    def json_object(self, max_body_bytes: int | None = None) -> dict[str, Any]:
        """The body as a JSON object: 415 wrong content type, 413 too large, 400 not JSON/not an object."""
        if self._parsed is not None:
            return self._parsed
        if self.kind == DIRECT and self.direct_body is not None:
            value = self.direct_body
        else:
            content_type = self.headers.get("content-type", "")
            media_type = content_type.split(";", 1)[0].strip().lower()
            if media_type and media_type != JSON_CONTENT_TYPE and not media_type.endswith("+json"):
                raise ClientError(
                    415,
                    E_UNSUPPORTED_MEDIA_TYPE,
                    f"Content-Type {content_type!r} is not supported; send Content-Type: {JSON_CONTENT_TYPE}",
                )
            text = self.body or ""
            limit = max_body_bytes
            if limit is None:
                limit = constants.env_int(constants.MAX_BODY_BYTES, constants.MAX_BODY_BYTES_DEFAULT)
            try:
                size = len(text) if text.isascii() else len(text.encode("utf-8"))
            except UnicodeEncodeError:
                raise bad_request(E_MALFORMED_BODY, "request body is not valid UTF-8 text (a lone surrogate)") from None
            if size > limit:
                raise ClientError(413, E_BODY_TOO_LARGE, f"request body is {size} bytes; the limit is {limit} bytes")
            if not text.strip():
                raise bad_request(E_MALFORMED_JSON, "request body is empty; send a JSON object")
            try:
                value = loads(text)
            except json.JSONDecodeError as exc:
                raise bad_request(
                    E_MALFORMED_JSON,
                    f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                ) from None
            except RecursionError:
                raise bad_request(E_MALFORMED_JSON, "request body is not valid JSON: nested too deeply") from None
            except ValueError as exc:  # e.g. an integer of more than 4300 digits
                raise bad_request(E_MALFORMED_JSON, f"request body cannot be read: {str(exc).split(';')[0]}") from None
            if isinstance(value, dict):
                self.booleans_possible = _may_hold_boolean(text)
                self.strings_possible = not _quote_count_at_most(text, 2 * len(value))
        if not isinstance(value, dict):
            raise bad_request(E_BODY_NOT_OBJECT, f"request body must be a JSON object, got {_json_type(value)}")
        self._parsed = value
        return value

    def value_hints(self) -> dict[str, bool]:
        """What the body text rules out, as ``parse_instances`` keyword arguments."""
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
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except _orjson.JSONDecodeError:
            pass
    return json.loads(text)


def dumps(payload: Any) -> str:
    """Compact strict JSON (no NaN/Infinity: the formatters turn non-finite numbers into null)."""
    if _orjson is not None:
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


def event_kind(event: Any) -> str:
    """``REST_V1``, ``HTTP_V2`` or ``DIRECT``, from the event's shape."""
    if isinstance(event, Mapping):
        context = event.get("requestContext")
        if isinstance(context, Mapping):
            if event.get("version") == "2.0" and isinstance(context.get("http"), Mapping):
                return HTTP_V2
            if "httpMethod" in event:
                return REST_V1
    return DIRECT


def decode_event(event: Any, direct_route: tuple[str, str]) -> Request:
    """The invocation as a Request; raises ClientError for an undecodable body."""
    kind = event_kind(event)
    if kind == REST_V1:
        context = event["requestContext"]
        return Request(
            method=_text(event.get("httpMethod")).upper(),
            path=_text(event.get("path"), event.get("resource"), default="/"),
            headers=_lower_headers(event.get("headers")),
            body=_decode_body(event),
            kind=kind,
            request_id=_text(context.get("requestId")),
            stage=_text(context.get("stage")),
        )
    if kind == HTTP_V2:
        context = event["requestContext"]
        return Request(
            method=_text(context["http"].get("method")).upper(),
            path=_text(event.get("rawPath"), context["http"].get("path"), default="/"),
            headers=_lower_headers(event.get("headers")),
            body=_decode_body(event),
            kind=kind,
            request_id=_text(context.get("requestId")),
            stage=_text(context.get("stage")),
        )
    method, path = direct_route
    if (
        isinstance(event, Mapping)
        and isinstance(event.get("path"), str)
        and ("httpMethod" in event or "method" in event)
    ):
        # A direct invocation naming its route (the client uses it for GET /metadata).
        headers = _lower_headers(event.get("headers"))
        text = _decode_body(event)
        return Request(
            method=_text(event.get("httpMethod"), event.get("method")).upper(),
            path=event["path"],
            headers=headers,
            body=text,
            kind=kind,
        )
    return Request(method=method, path=path, headers={}, body=None, kind=kind, direct_body=event)


# --- body -> batch -------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _check_value(value: Any, where: str) -> None:
    """Raise the precise error for one feature value (only called on the slow, error-finding path)."""
    if type(value) not in _NUMBER_TYPES:
        raise bad_request(E_INVALID_VALUE, f"{where} must be a number, got {_json_type(value)}: {short_value(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_request(E_NON_FINITE_VALUE, f"{where} must be finite, got {value}")
    if abs(value) > float(np.finfo(np.float32).max):
        raise bad_request(E_NON_FINITE_VALUE, f"{where} = {short_value(value)} is outside the float32 range")


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
        return f"{_json_type(value)} too large to show"
    return text if len(text) <= 40 else text[:37] + "..."


def _where(index: int, feature: str, column: bool = False) -> str:
    return f"inputs[{feature!r}][{index}]" if column else f"instance {index}, feature {feature!r}"


def _fast_matrix(
    rows: Sequence[Sequence[Any]], n_features: int, booleans_possible: bool = True, strings_possible: bool = True
) -> np.ndarray | None:
    """The float32 matrix when every row is a list of n_features finite numbers, else None (slow path).

    numpy would silently turn booleans into 0/1 and numeric strings into numbers, so by default the
    value types are checked first: one scan over every value. What the body text rules out makes
    cheaper conversions just as strict (a 1000x100 request: scan + convert 4.3 ms, inference 2.6 ms,
    fromiter 1.8 ms):
    - no booleans: numpy's type inference is check enough: a string, null or list anywhere gives a
      non-numeric dtype or shape;
    - no booleans and no strings: ``np.fromiter`` over the values; what is left to go wrong (null
      becomes NaN, caught below; a list, object or int beyond float64 raises) falls to the slow path.
    """
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {n_features}:
        return None
    try:
        with np.errstate(over="ignore"):  # beyond float32's range -> inf, caught below
            if not (booleans_possible or strings_possible):
                values = itertools.chain.from_iterable(rows)
                X = np.fromiter(values, dtype=np.float32, count=len(rows) * n_features).reshape(-1, n_features)
            elif not booleans_possible:
                inferred = np.array(rows)
                if inferred.dtype.kind not in "fiu" or inferred.shape != (len(rows), n_features):
                    return None
                X = inferred.astype(np.float32)
            else:
                if not set(map(type, itertools.chain.from_iterable(rows))) <= _NUMBER_TYPES:
                    return None
                X = np.array(rows, dtype=np.float32)
    except (OverflowError, ValueError, TypeError):  # ints beyond float64, nested lists or objects
        return None
    if not np.isfinite(X).all():
        return None
    return X


def _rows_from_objects(instances: Sequence[Any], features: Sequence[str], feature_set: frozenset[str]) -> list[Any]:
    rows = []
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            rows.append(instance)  # the list/other checks below report it
            continue
        if instance.keys() != feature_set:
            missing = [f for f in features if f not in instance]
            if missing:
                raise bad_request(
                    E_MISSING_FEATURE, f"instance {i} is missing feature(s) {', '.join(map(repr, missing))}"
                )
            unknown = sorted(k for k in instance if k not in feature_set)
            raise bad_request(
                E_UNKNOWN_FEATURE,
                f"instance {i} has unknown feature(s) {', '.join(map(repr, unknown))}; "
                f"the model's features are {', '.join(features)}",
            )
        rows.append([instance[f] for f in features])
    return rows


def _explain_row_error(rows: Sequence[Any], features: Sequence[str]) -> ClientError:
    """The first problem in ``rows`` (known to exist), naming the instance index and feature."""
    n = len(features)
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            return bad_request(
                E_INVALID_INSTANCE,
                f"instance {i} must be a list of {n} numbers or an object keyed by feature name, got {_json_type(row)}",
            )
        if len(row) != n:
            return bad_request(
                E_WRONG_FEATURE_COUNT,
                f"instance {i} has {len(row)} values; the model takes {n} features ({', '.join(features)})",
            )
        for feature, value in zip(features, row, strict=True):
            try:
                _check_value(value, _where(i, feature))
            except ClientError as exc:
                return exc
    return bad_request(E_INVALID_INSTANCES, "instances could not be read as numbers")  # pragma: no cover


def _rows_matrix(
    rows: Sequence[Any], features: Sequence[str], booleans_possible: bool, strings_possible: bool
) -> np.ndarray:
    X = _fast_matrix(rows, len(features), booleans_possible, strings_possible)
    if X is None:
        raise _explain_row_error(rows, features)
    return X


def _check_count(n: int, max_rows: int, what: str) -> None:
    if n == 0:
        raise bad_request(E_EMPTY_INSTANCES, f"{what} is empty; send at least one instance")
    if n > max_rows:
        raise bad_request(
            E_TOO_MANY_INSTANCES, f"{what} has {n} rows; the limit is {max_rows} per request (split the batch)"
        )


def _columns_matrix(inputs: Any, features: Sequence[str], max_rows: int, booleans_possible: bool) -> np.ndarray:
    if not isinstance(inputs, dict):
        raise bad_request(
            E_INVALID_INSTANCES, f'"inputs" must be an object {{feature: [values...]}}, got {_json_type(inputs)}'
        )
    missing = [f for f in features if f not in inputs]
    if missing:
        raise bad_request(E_MISSING_FEATURE, f'"inputs" is missing feature(s) {", ".join(map(repr, missing))}')
    unknown = sorted(k for k in inputs if k not in set(features))
    if unknown:
        raise bad_request(
            E_UNKNOWN_FEATURE,
            f'"inputs" has unknown feature(s) {", ".join(map(repr, unknown))}; '
            f"the model's features are {', '.join(features)}",
        )
    for feature in features:
        if not isinstance(inputs[feature], list):
            raise bad_request(
                E_INVALID_INSTANCES, f"inputs[{feature!r}] must be a list of numbers, got {_json_type(inputs[feature])}"
            )
    lengths = {f: len(inputs[f]) for f in features}
    n = lengths[features[0]]
    for feature, length in lengths.items():
        if length != n:
            raise bad_request(
                E_COLUMN_LENGTH_MISMATCH,
                f"inputs[{feature!r}] has {length} values but inputs[{features[0]!r}] has {n}; columns must match",
            )
    _check_count(n, max_rows, '"inputs"')
    X = _fast_matrix([inputs[f] for f in features], n, booleans_possible)
    if X is None:
        for feature in features:
            for i, value in enumerate(inputs[feature]):
                _check_value(value, _where(i, feature, column=True))
        raise bad_request(E_INVALID_INSTANCES, '"inputs" could not be read as numbers')  # pragma: no cover
    return np.ascontiguousarray(X.T)


def parse_instances(
    body: Mapping[str, Any],
    features: Sequence[str],
    max_rows: int | None = None,
    *,
    booleans_possible: bool = True,
    strings_possible: bool = True,
) -> np.ndarray:
    """The request's rows as a float32 (n, len(features)) array; ClientError naming index and feature.

    ``**request.value_hints()`` lets a body whose text rules out booleans (and strings) take a
    cheaper, equally strict conversion; the defaults (True) are always correct.
    """
    if max_rows is None:
        max_rows = constants.env_int(constants.MAX_INSTANCES, constants.MAX_INSTANCES_DEFAULT)
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances and has_inputs:
        raise bad_request(E_AMBIGUOUS_INPUT, 'send either "instances" or "inputs", not both')
    if has_inputs:
        return _columns_matrix(body["inputs"], features, max_rows, booleans_possible)
    if not has_instances:
        raise bad_request(
            E_MISSING_INSTANCES,
            'request body needs "instances": a list of rows (lists in feature order or objects by feature name), '
            'or "inputs": {feature: [values...]}',
        )
    instances = body["instances"]
    if not isinstance(instances, list):
        raise bad_request(E_INVALID_INSTANCES, f'"instances" must be a list, got {_json_type(instances)}')
    _check_count(len(instances), max_rows, '"instances"')
    if dict in set(map(type, instances)):
        instances = _rows_from_objects(instances, features, frozenset(features))
    return _rows_matrix(instances, features, booleans_possible, strings_possible)


def reject_unknown_fields(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """400 ``unknown_field`` when ``body`` has a top-level key outside ``allowed``."""
    allowed = set(allowed)
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        raise bad_request(
            E_UNKNOWN_FIELD,
            f"unknown field(s) {', '.join(map(repr, unknown))} in the request body; "
            f"allowed: {', '.join(sorted(allowed))}",
        )


# --- batch -> response ---------------------------------------------------------------------------


def require_finite_outputs(outputs: np.ndarray) -> None:
    """400 ``non_finite_output`` naming the rows whose model output is NaN or infinite.

    Finite float32 inputs far outside the training range can overflow the network; such a row has
    no prediction (a multiclass argmax over NaN would still name a class), so the request is refused
    rather than answered with a made-up label."""
    finite = np.isfinite(outputs).reshape(len(outputs), -1).all(axis=1)
    if finite.all():
        return
    bad = np.flatnonzero(~finite).tolist()
    listed = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    raise bad_request(
        E_NON_FINITE_OUTPUT,
        f"the model's output for instance {listed} is not finite (NaN or infinity): "
        "its feature values are far outside what the model was trained on",
    )


def _finite_or_none(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def format_predictions(card: Any, outputs: np.ndarray) -> list[dict[str, Any]]:
    """One prediction object per row of the model's ``outputs`` (n, n_outputs), by the card's task."""
    if card.task == "binary":
        negative, positive = card.classes
        probabilities = _finite_or_none(outputs[:, 0].astype(np.float64).tolist())
        return [
            {"probability": p, "label": None if p is None else (positive if p >= 0.5 else negative)}
            for p in probabilities
        ]
    if card.task == "multiclass":
        classes = card.classes
        labels = np.argmax(outputs, axis=1).tolist()
        return [
            {"probabilities": dict(zip(classes, _finite_or_none(row), strict=True)), "label": classes[k]}
            for row, k in zip(outputs.astype(np.float64).tolist(), labels, strict=True)
        ]
    return [{"value": v} for v in _finite_or_none(outputs[:, 0].astype(np.float64).tolist())]


def model_info(card: Any) -> dict[str, str]:
    return {"name": card.name, "version": card.version}


def prediction_response(card: Any, outputs: np.ndarray) -> dict[str, Any]:
    """``{"predictions": [...], "model": {"name", "version"}}``."""
    return {"predictions": format_predictions(card, outputs), "model": model_info(card)}


def card_metadata(card: Any) -> dict[str, Any]:
    """What ``GET /metadata`` answers: the card without file hashes and build internals."""
    return {
        "name": card.name,
        "version": card.version,
        "created_at": card.created_at,
        "task": card.task,
        "features": list(card.features),
        "classes": list(card.classes) if card.classes else None,
        "target": card.target,
        "input": {"dtype": card.input_dtype, "shape": list(card.input_shape)},
        "metrics": card.metrics,
        "quantization": card.quantization,
        "format": card.format,
    }


def cors_headers() -> dict[str, str]:
    origin = constants.env_str(constants.CORS_ORIGIN, constants.CORS_ORIGIN_DEFAULT)
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": "Content-Type,X-Api-Key,Authorization,X-Amz-Date,X-Amz-Security-Token",
        "Access-Control-Allow-Methods": "GET,POST,OPTIONS",
    }


def encode_response(
    status: int, payload: Any, kind: str, extra_headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The handler's return value: a proxy response for API Gateway, the payload for a direct invoke."""
    if kind == DIRECT:
        return payload
    headers = {"Content-Type": JSON_CONTENT_TYPE, **cors_headers(), **(extra_headers or {})}
    return {
        "statusCode": status,
        "headers": headers,
        "body": dumps(payload),
        "isBase64Encoded": False,
    }
