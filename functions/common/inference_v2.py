"""The Open Inference Protocol (KServe V2, Triton and MLServer REST) over litelens: JSON tensors in and out.

No event and no model knowledge: a V2 request body becomes the body ``instances.parse_instances``
reads, and the predict answer's fields become output tensors.

``request_body(body, schema, max_rows) -> (instances body, requested output names)``
    ``inputs: [{name, shape, datatype, data}]`` in one of two layouts. One input per column, named by
    the column (MLServer's pandas codec): ``BYTES`` for strings (categorical and date columns),
    ``FP16/FP32/FP64``, ``INT*``/``UINT*`` or ``BOOL`` for the others, shape ``[n]`` or ``[n, 1]``; or one
    numeric input of shape ``[n, n_columns]`` whose rows are in ``schema.names`` order (any name).
    ``null`` in ``data`` is a missing value. ``data`` may be flat (row-major, as the protocol sends
    it) or nested to the shape. Binary input tensors are refused (400: send ``binary_data=False``);
    outputs are always JSON (the protocol lets a server ignore ``binary_data`` on outputs).
``output_tensors(card, response, requested)``
    Binary: ``probability`` (FP64 [n], P(classes[1])) and ``label`` (BYTES [n]); multiclass:
    ``probabilities`` (FP64 [n, k], the card's class order) and ``label``; regression: ``value`` (FP64
    [n]); ``warnings`` (BYTES [n], each row's warnings as JSON text) when any row has one.
``server_metadata()``
    ``GET /v2``: the server's name, version and protocol extensions (none).
``model_metadata(card)``, ``check_model(card, name)``
    ``GET /v2/models/{name}``: the inputs as the per-column layout names them, the outputs; a name
    other than the bundle's is a 404.

Mistakes are ``ClientError``s like the instance parser's (whose messages name the instance and column);
the router answers every 4xx below ``PROTOCOL_PATHS`` in the protocol's shape, ``{"error": "message"}``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from litelens.build.bundle import BundleCard, Task
from litelens.build.bundle.schema import NUMERIC, Schema
from litelens.functions.common.errors import (
    E_INVALID_INSTANCES,
    E_NOT_FOUND,
    E_UNKNOWN_FIELD,
    ClientError,
    json_type,
    short_value,
)

PROTOCOL = "v2"
# KServe's client repeats the path's model_name (and version) in the body; the path decides.
REQUEST_KEYS = ("id", "inputs", "outputs", "parameters", "model_name", "model_version")
TENSOR_KEYS = ("name", "shape", "datatype", "data", "parameters")
OUTPUT_KEYS = ("name", "parameters")
FLOAT_TYPES = ("FP16", "FP32", "FP64")
INT_TYPES = ("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")
NUMBER_TYPES = FLOAT_TYPES + INT_TYPES
DATATYPES = ("BOOL", *NUMBER_TYPES, "BYTES")
OUTPUTS_BY_TASK = {
    Task.BINARY: ("probability", "label", "warnings"),
    Task.MULTICLASS: ("probabilities", "label", "warnings"),
    Task.REGRESSION: ("value", "warnings"),
}
MAX_SHAPE_RANK = 2
EXPLAINER_PREFIX = "/explainer"  # the explain function's V2 server: the same infer route below this prefix
PROTOCOL_PATHS = ("/v2/", "/v1/models/", f"{EXPLAINER_PREFIX}/v2/")  # routes that answer {"error": "..."}


def protocol_error(status: int, code: str, message: str) -> ClientError:
    return ClientError(status, code, message)


def _bad(message: str) -> ClientError:
    return protocol_error(400, E_INVALID_INSTANCES, message)


def check_model(card: BundleCard, name: str | None) -> None:
    """404 unless ``name`` is the served bundle's name."""
    if name != card.name:
        raise protocol_error(404, E_NOT_FOUND, f"model {short_value(name)} not found; this server has {card.name!r}")


def _shape(tensor: Mapping[str, Any], where: str) -> list[int]:
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= MAX_SHAPE_RANK
        or not all(type(d) is int and d >= 0 for d in shape)
    ):
        raise _bad(f"{where}.shape must be a list of 1 or 2 non-negative integers, got {short_value(shape)}")
    return shape


def _flat(data: Any, size: int, where: str) -> list[Any]:
    """``data`` (flat, or nested lists) as a flat list of ``size`` values, never reading more than that."""
    if not isinstance(data, list):
        raise _bad(f"{where}.data must be a list, got {json_type(data)}")
    if not any(isinstance(v, list) for v in data):
        flat = data
    else:
        flat = []
        for row in data:
            if isinstance(row, list):
                if any(isinstance(v, list) for v in row):
                    raise _bad(f"{where}.data is nested deeper than its shape")
                flat.extend(row)
            else:
                flat.append(row)
            if len(flat) > size:
                break
    if len(flat) != size:
        raise _bad(
            f"{where}.data has {'more than ' if len(flat) > size else ''}{len(flat)} values; its shape holds {size}"
        )
    return flat


def _check_values(values: Sequence[Any], datatype: str, where: str) -> None:
    """400 for the first value that is not of ``datatype`` (null, a missing value, fits any)."""
    if datatype == "BYTES":
        ok: Callable[[Any], bool] = lambda v: isinstance(v, str)  # noqa: E731
        expected = "strings"
    elif datatype == "BOOL":
        ok, expected = (lambda v: isinstance(v, bool)), "booleans"
    elif datatype in INT_TYPES:
        ok, expected = (lambda v: type(v) is int), "integers"
    else:
        ok = lambda v: type(v) in (int, float) and math.isfinite(v)  # noqa: E731
        expected = "finite numbers"
    for i, value in enumerate(values):
        if value is not None and not ok(value):
            raise _bad(
                f"{where}.data[{i}] must be {expected} ({datatype}), got {json_type(value)}: {short_value(value)}"
            )


def _tensor(tensor: Any, i: int) -> tuple[str, str, list[int]]:
    where = f"inputs[{i}]"
    if not isinstance(tensor, dict):
        raise _bad(f"{where} must be an object {{name, shape, datatype, data}}, got {json_type(tensor)}")
    unknown = sorted(k for k in tensor if k not in TENSOR_KEYS)
    if unknown:
        raise protocol_error(400, E_UNKNOWN_FIELD, f"{where} has unknown key(s) {', '.join(map(repr, unknown))}")
    parameters = tensor.get("parameters", {})
    if not isinstance(parameters, dict):
        raise _bad(f"{where}.parameters must be an object, got {json_type(parameters)}")
    if parameters.get("binary_data_size") is not None:
        raise _bad(f"{where} uses the binary tensor extension; send JSON data (binary_data=False)")
    name, datatype = tensor.get("name"), tensor.get("datatype")
    if not isinstance(name, str) or not name:
        raise _bad(f"{where}.name must be a non-empty string")
    if datatype not in DATATYPES:
        raise _bad(f"{where}.datatype must be one of {', '.join(DATATYPES)}, got {short_value(datatype)}")
    return name, datatype, _shape(tensor, where)


def _rows(n: int, max_rows: int, where: str) -> None:
    if n > max_rows:
        raise _bad(f"{where} has {n} rows; the limit is {max_rows} per request (split the batch)")


def _matrix(
    tensor: Mapping[str, Any], datatype: str, shape: list[int], schema: Schema, max_rows: int
) -> dict[str, Any]:
    n, width = shape
    if datatype not in (*NUMBER_TYPES, "BOOL"):
        raise _bad(f"a matrix input must be numeric ({', '.join(NUMBER_TYPES)}), got {datatype}")
    if width != len(schema.names):
        raise _bad(
            f"inputs[0].shape {shape} has {width} columns; the model takes {len(schema.names)} "
            f"({', '.join(schema.names)}), or send one input per column"
        )
    _rows(n, max_rows, "inputs[0]")
    flat = _flat(tensor.get("data"), n * width, "inputs[0]")
    _check_values(flat, datatype, "inputs[0]")
    return {"instances": [flat[r * width : (r + 1) * width] for r in range(n)]}


def _columns(inputs: Sequence[Any], schema: Schema, max_rows: int) -> dict[str, Any]:
    columns: dict[str, list[Any]] = {}
    kinds = {column.name: column.kind for column in schema.columns}
    for i, tensor in enumerate(inputs):
        name, datatype, shape = _tensor(tensor, i)
        where = f"inputs[{i}] ({name!r})"
        if len(shape) == 2 and shape[1] != 1:
            raise _bad(f"{where}.shape {shape}: a column input has shape [n] or [n, 1]")
        _rows(shape[0], max_rows, where)
        if name in columns:
            raise _bad(f"{where} names a column twice")
        values = _flat(tensor.get("data"), shape[0], where)
        _check_values(values, datatype, where)
        if kinds.get(name) == NUMERIC and datatype == "BYTES":
            raise _bad(f"{where} is a numeric column; send it as {', '.join(NUMBER_TYPES)}, not BYTES")
        columns[name] = values
    return {"inputs": columns}


def request_body(body: Mapping[str, Any], schema: Schema, max_rows: int) -> tuple[dict[str, Any], list[str] | None]:
    """The V2 request as the body ``instances.parse_instances`` reads, and the requested output names
    (None: all). A ClientError names the input and the mistake; the parser names the rest."""
    unknown = sorted(k for k in body if k not in REQUEST_KEYS)
    if unknown:
        raise protocol_error(
            400, E_UNKNOWN_FIELD, f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(REQUEST_KEYS)}"
        )
    if not isinstance(body.get("parameters", {}), dict):
        raise _bad(f'"parameters" must be an object, got {json_type(body.get("parameters"))}')
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _bad(f'"inputs" must be a non-empty list of tensors, got {short_value(inputs)}')
    if len(inputs) > len(schema.names):
        raise _bad(f'"inputs" has {len(inputs)} tensors; the model has {len(schema.names)} columns')
    if len(inputs) == 1:
        name, datatype, shape = _tensor(inputs[0], 0)
        if len(shape) == 2 and (name not in schema.names or shape[1] != 1):
            return _matrix(inputs[0], datatype, shape, schema, max_rows), _requested(body.get("outputs"))
    return _columns(inputs, schema, max_rows), _requested(body.get("outputs"))


def _requested(outputs: Any) -> list[str] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise _bad('"outputs" must be a list of {"name": ...} objects')
    # An output's "binary_data" flag is a wish the protocol lets a server answer in JSON: every output is JSON.
    return [o["name"] for o in outputs]


def refuse_explain(body: Mapping[str, Any]) -> None:
    """400 for ``parameters.explain`` on the predict function's infer: API Gateway sends a path to one
    function, and the attributions are the explain function's (its V2 server under ``/explainer``)."""
    parameters = body.get("parameters")
    if isinstance(parameters, dict) and parameters.get("explain"):
        raise _bad(f"explanations: send this request to {EXPLAINER_PREFIX}/v2/models/{{name}}/infer (the explainer)")


V1_VERBS = ("predict", "explain")
EXPLANATIONS = "explanations"  # the explainer's output: each row's attributions as JSON text
PROTOCOL_PARAMETERS = ("explain", "binary_data_output")  # request parameters clients add; not explain options


def v1_verb(model: str) -> tuple[str, str]:
    """KServe V1's ``{name}:{verb}`` path segment -> (name, verb); 404 for a verb it does not have."""
    name, sep, verb = model.rpartition(":")
    if not sep or verb not in V1_VERBS:
        raise protocol_error(
            404, E_NOT_FOUND, f"no route /v1/models/{short_value(model)}; use /v1/models/{{name}}:predict or :explain"
        )
    return name, verb


def explain_parameters(body: Mapping[str, Any]) -> dict[str, Any]:
    """The V2 request's ``parameters`` as the explain request's (the protocol's own flags dropped)."""
    parameters = body.get("parameters") or {}
    return {k: v for k, v in parameters.items() if k not in PROTOCOL_PARAMETERS}


def check_outputs(card: BundleCard, requested: Sequence[str] | None, explainer: bool = False) -> None:
    """400 ``invalid_instances`` naming an output the model does not have, or one requested twice: each
    output is answered once (a name repeated 40,000 times would otherwise repeat its tensor as often)."""
    available = OUTPUTS_BY_TASK[card.task] + ((EXPLANATIONS,) if explainer else ())
    unknown = list(dict.fromkeys(name for name in requested or () if name not in available))
    if unknown:
        listed = ", ".join(map(repr, unknown[:5])) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise _bad(f"unknown output(s) {listed}; this {card.task} model has {', '.join(available)}")
    repeated = [(name, times) for name, times in Counter(requested or ()).items() if times > 1]
    if repeated:
        name, times = repeated[0]
        raise _bad(
            f'"outputs" names {name!r} {times} times; request each output once '
            f"(at most {len(available)}: {', '.join(available)})"
        )


def _tensor_out(name: str, datatype: str, shape: list[int], data: list[Any]) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def output_tensors(
    card: BundleCard,
    predictions: Sequence[Mapping[str, Any]],
    requested: Sequence[str] | None,
    explanations: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """The predict answer's ``predictions`` (and the explain answer's ``explanations``, one JSON text
    per row, ``null`` for a row not explained) as output tensors: all, or the ``requested`` ones in
    their order."""
    n = len(predictions)
    tensors: dict[str, dict[str, Any]] = {}
    if card.task == Task.BINARY:
        tensors["probability"] = _tensor_out("probability", "FP64", [n], [p["probability"] for p in predictions])
    elif card.task == Task.MULTICLASS:
        classes = card.classes or []
        data = [p["probabilities"][c] for p in predictions for c in classes]
        tensors["probabilities"] = _tensor_out("probabilities", "FP64", [n, len(classes)], data)
    else:
        tensors["value"] = _tensor_out("value", "FP64", [n], [p["value"] for p in predictions])
    if card.task != Task.REGRESSION:
        tensors["label"] = _tensor_out("label", "BYTES", [n], [p["label"] for p in predictions])
    if requested is not None or any("warnings" in p for p in predictions):
        rows = [json.dumps(p.get("warnings", [])) for p in predictions]
        tensors["warnings"] = _tensor_out("warnings", "BYTES", [n], rows)
    if explanations is not None:
        texts = [json.dumps(e) for e in explanations]
        tensors[EXPLANATIONS] = _tensor_out(EXPLANATIONS, "BYTES", [n], texts)
    names = requested if requested is not None else list(tensors)
    return [tensors[name] for name in names]


def infer_response(card: BundleCard, outputs: list[dict[str, Any]], request_id: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"model_name": card.name, "model_version": card.version, "outputs": outputs}
    if isinstance(request_id, str):
        answer["id"] = request_id
    return answer


SERVER_NAME = "litelens"
SERVER_VERSION = "0.1.0"  # pyproject.toml's version (a test holds them equal): the zip has no package metadata
SERVER_EXTENSIONS: tuple[str, ...] = ()  # no protocol extension (no binary tensors, no model repository API)


def server_metadata() -> dict[str, Any]:
    """``GET /v2``: the Open Inference Protocol's server metadata."""
    return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": list(SERVER_EXTENSIONS)}


def _input_datatype(schema: Schema, j: int) -> str:
    return "FP64" if schema.columns[j].kind == NUMERIC else "BYTES"


def model_metadata(card: BundleCard) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the per-column inputs and the outputs of the model."""
    schema = card.schema
    outputs = []
    for name in OUTPUTS_BY_TASK[card.task]:
        if name == "probabilities":
            outputs.append({"name": name, "datatype": "FP64", "shape": [-1, len(card.classes or ())]})
        else:
            outputs.append(
                {"name": name, "datatype": "BYTES" if name in ("label", "warnings") else "FP64", "shape": [-1]}
            )
    return {
        "name": card.name,
        "versions": [card.version],
        "platform": "litelens-tflite",
        "inputs": [
            {"name": name, "datatype": _input_datatype(schema, j), "shape": [-1]} for j, name in enumerate(schema.names)
        ],
        "outputs": outputs,
        "parameters": {"task": card.task},
    }
