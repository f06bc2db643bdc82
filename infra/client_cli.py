"""`litelens invoke predict|explain`: call the API (or the functions) with JSON or CSV rows.

Input is a file (``.json`` or ``.csv``), inline JSON, or ``-`` for stdin. JSON may be a full
request (``{"instances": [...]}`` or ``{"inputs": {...}}``), a list of instances, or one instance
object. CSV has a header row of feature names and one instance per row. In a terminal the answer
is printed as tables (explanations: feature, value, SHAP, LIME weight, by |SHAP|); piped, or with
``--json``, it is the raw JSON. ``--plot out.png`` draws one instance's SHAP values as a bar chart.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from litelens.infra.client import (
    ApiError,
    LitelensClient,
    LitelensError,
    TransportError,
    build_explain_request,
    predict_request,
)

EXIT_USAGE = 2
EXIT_SERVICE = 1
DEFAULT_URL = "http://127.0.0.1:3000"
# what the command reads from a request file; explain_if is moved into parameters (explain) or dropped
KNOWN_REQUEST_KEYS = frozenset({"instances", "inputs", "parameters", "explain_if"})


class InputError(ValueError):
    """The rows given on the command line cannot be read."""


# -- reading rows --------------------------------------------------------------------------------


def _csv_request(text: str) -> dict[str, Any]:
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if any(cell.strip() for cell in row)]
    if not rows:
        raise InputError("CSV input is empty")
    header = [name.strip() for name in rows[0]]
    if len(set(header)) != len(header) or not all(header):
        raise InputError("CSV header must name every column once")
    instances = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"CSV line {line}: {len(row)} values for {len(header)} columns")
        instance = {}
        for name, cell in zip(header, row, strict=True):
            try:
                instance[name] = float(cell)
            except ValueError:
                raise InputError(f"CSV line {line}, column {name!r}: {cell.strip()!r} is not a number") from None
        instances.append(instance)
    if not instances:
        raise InputError("CSV input has a header but no rows")
    return {"instances": instances}


def _json_request(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"input is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, Mapping) and ("instances" in data or "inputs" in data):
        return dict(data)
    if isinstance(data, list):
        return {"instances": data}
    if isinstance(data, Mapping):
        return {"instances": [data]}
    raise InputError("JSON input must be a request object, a list of instances, or one instance object")


def read_request(source: str, fmt: str = "auto", stdin: Any = None) -> dict[str, Any]:
    """The request body from a path, inline JSON, or '-' (stdin), as JSON or CSV."""
    stripped = source.lstrip()
    if source == "-":
        text = (stdin or sys.stdin).read()
        kind = fmt if fmt != "auto" else ("json" if text.lstrip()[:1] in ("{", "[") else "csv")
    elif stripped[:1] in ("{", "["):
        text, kind = source, "json" if fmt == "auto" else fmt
    else:
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
        kind = fmt if fmt != "auto" else ("csv" if path.suffix.lower() == ".csv" else "json")
    return _csv_request(text) if kind == "csv" else _json_request(text)


# -- printing ------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        if math.isfinite(value) and value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) or row[i] == "" for row in rows) and bool(rows) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _prediction_summary(prediction: Any) -> str:
    if not isinstance(prediction, Mapping):
        return _fmt(prediction)
    parts = []
    if "label" in prediction:
        parts.append(f"label={prediction['label']}")
    if "probability" in prediction:
        parts.append(f"p={_fmt(prediction['probability'])}")
    if isinstance(prediction.get("probabilities"), Mapping):
        parts.append(" ".join(f"p({k})={_fmt(v)}" for k, v in prediction["probabilities"].items()))
    if "value" in prediction:
        parts.append(f"value={_fmt(prediction['value'])}")
    return " ".join(parts) or json.dumps(prediction)


def format_predictions(response: Mapping[str, Any]) -> str:
    predictions = response.get("predictions") or []
    rows = []
    for i, p in enumerate(predictions):
        p = p if isinstance(p, Mapping) else {"value": p}
        probs = p.get("probabilities")
        score = p.get("probability", p.get("value"))
        if score is None and isinstance(probs, Mapping) and p.get("label") in probs:
            score = probs[p["label"]]
        rows.append([i, p.get("label", ""), score])
    header = (
        "probability" if predictions and isinstance(predictions[0], Mapping) and "label" in predictions[0] else "value"
    )
    model = response.get("model") or {}
    title = f"model {model.get('name', '?')} version {model.get('version', '?')}: {len(predictions)} predictions"
    return title + "\n" + table(["#", "label", header], rows)


def shap_values(explanation: Mapping[str, Any]) -> dict[str, float]:
    """{feature: phi} of one explanation (the first class when several are returned)."""
    values = (explanation.get("shap") or {}).get("values") or {}
    if values and all(isinstance(v, Mapping) for v in values.values()):
        values = next(iter(values.values()))
    return {str(k): float(v) for k, v in values.items() if _is_number(v)}


def _lime_weights(explanation: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    """{feature: (weight, condition)} of LIME's local model."""
    weights = (explanation.get("lime") or {}).get("weights") or []
    return {
        str(w["feature"]): (float(w["weight"]), str(w.get("condition", "")))
        for w in weights
        if isinstance(w, Mapping) and "feature" in w
    }


def _instance_values(instance: Any, features: Sequence[str]) -> dict[str, Any]:
    if isinstance(instance, Mapping):
        return dict(instance)
    if isinstance(instance, Sequence) and not isinstance(instance, str) and len(instance) == len(features):
        return dict(zip(features, instance, strict=True))
    return {}


def _quality_line(explanation: Mapping[str, Any]) -> str:
    """Every scalar quality field the explain function reports, whatever it names them."""
    parts = []
    for method in ("shap", "lime"):
        for key, value in (explanation.get(method) or {}).items():
            if key not in ("values", "weights") and _is_number(value):
                parts.append(f"{method}.{key}={_fmt(value)}")
    for key, value in explanation.items():
        if key in ("shap", "lime"):
            continue
        if _is_number(value):
            parts.append(f"{key}={_fmt(value)}")
        elif isinstance(value, Mapping):
            parts += [f"{key}.{k}={_fmt(v)}" for k, v in value.items() if _is_number(v)]
    return "  ".join(parts)


def format_explanations(response: Mapping[str, Any], instances: Sequence[Any]) -> str:
    predictions = response.get("predictions") or []
    out = []
    for i, explanation in enumerate(response.get("explanations") or []):
        prediction = predictions[i] if i < len(predictions) else None
        out.append(f"instance {i}: {_prediction_summary(prediction)}")
        if explanation is None:
            out.append("  (not explained: filtered out by explain_if)\n")
            continue
        phi = shap_values(explanation)
        lime = _lime_weights(explanation)
        features = list(phi) + [f for f in lime if f not in phi]
        values = _instance_values(instances[i] if i < len(instances) else None, features)
        order = sorted(features, key=lambda f: -abs(phi.get(f, 0.0)))
        rows = [[f, values.get(f, ""), phi.get(f, ""), *lime.get(f, ("", ""))] for f in order]
        quality = _quality_line(explanation)
        if explanation.get("class") is not None:
            out.append(f"  explaining class {explanation['class']}")
        if quality:
            out.append(f"  {quality}")
        out.append(table(["feature", "value", "SHAP", "LIME weight", "LIME condition"], rows) + "\n")
    return "\n".join(out).rstrip() + "\n"


def plot_shap(
    response: Mapping[str, Any], index: int, path: str | Path, instances: Sequence[Any] | None = None
) -> Path:
    """A horizontal bar chart of instance ``index``'s SHAP values, largest |phi| on top, each bar
    labelled with the feature's value when ``instances`` (the request's rows) are given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    explanations = response.get("explanations") or []
    if not 0 <= index < len(explanations) or explanations[index] is None:
        raise InputError(f"no explanation for instance {index} to plot ({len(explanations)} returned)")
    phi = shap_values(explanations[index])
    if not phi:
        raise InputError(f"instance {index} has no SHAP values to plot (was shap among the explainers?)")
    items = sorted(phi.items(), key=lambda kv: abs(kv[1]))[-20:]
    given = _instance_values(instances[index], list(phi)) if instances and index < len(instances) else {}
    names = [f"{k} = {_fmt(given[k])}" if k in given else k for k, _ in items]
    values = [v for _, v in items]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(items) + 1.6))
    ax.barh(names, values, color=["#d62728" if v > 0 else "#1f77b4" for v in values])
    ax.axvline(0, color="black", linewidth=0.8)
    base = (explanations[index].get("shap") or {}).get("base_value")
    predictions = response.get("predictions") or []
    summary = _prediction_summary(predictions[index]) if index < len(predictions) else ""
    explained = explanations[index].get("class")
    title = f"SHAP values, instance {index}: {summary}" + (f" (base {_fmt(base)})" if _is_number(base) else "")
    ax.set_title(title + (f"\nexplaining class {explained}" if explained is not None else ""))
    ax.set_xlabel("contribution to the model output")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


# -- command -------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["predict", "explain", "metadata"], help="what to call")
    parser.add_argument("input", nargs="?", help="rows: a .json/.csv file, inline JSON, or - for stdin")
    parser.add_argument("--format", choices=["auto", "json", "csv"], default="auto", help="input format")
    target = parser.add_argument_group("target (HTTP by default)")
    target.add_argument("--url", default=DEFAULT_URL, help="API base URL (default: the local twin, %(default)s)")
    target.add_argument("--api-key", help="x-api-key header value")
    target.add_argument("--function", help="invoke this Lambda function (name or ARN) instead of calling the URL")
    target.add_argument("--endpoint-url", help="Lambda endpoint, e.g. the twin's http://127.0.0.1:3001")
    target.add_argument("--region", help="AWS region for --function")
    target.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt (default: %(default)s)")
    target.add_argument("--retries", type=int, default=4, help="retries on 429/5xx/connection errors")
    explain = parser.add_argument_group("explain")
    explain.add_argument("--explainers", help="comma-separated: shap,lime (default: both)")
    explain.add_argument("--nsamples", help="KernelSHAP samples (a number or 'auto')")
    explain.add_argument("--num-samples", type=int, help="LIME samples")
    explain.add_argument("--num-features", type=int, help="top-k features")
    explain.add_argument("--seed", type=int, help="seed for reproducible attributions")
    explain.add_argument("--class", dest="class_name", help="class to explain (multiclass), or 'all'")
    explain.add_argument(
        "--output-space", choices=["probability", "log_odds"], help="SHAP's output space (log_odds: binary models)"
    )
    explain.add_argument(
        "--explain-if", metavar="JSON", help="explain only matching rows, e.g. '{\"min_probability\": 0.8}'"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output",
        choices=["auto", "table", "json"],
        default="auto",
        help="tables in a terminal, JSON when piped (default: %(default)s)",
    )
    out.add_argument("--plot", metavar="PNG", help="draw a SHAP bar chart of one instance (explain)")
    out.add_argument("--instance", type=int, default=0, help="instance to plot (default: %(default)s)")


def _client(args: argparse.Namespace) -> LitelensClient:
    if args.function:
        names = {"predict_function": None, "explain_function": None}
        names["explain_function" if args.action == "explain" else "predict_function"] = args.function
        return LitelensClient.for_lambda(
            **names, endpoint_url=args.endpoint_url, region=args.region, timeout=args.timeout,
            max_attempts=args.retries + 1,
        )  # fmt: skip
    return LitelensClient(args.url, api_key=args.api_key, timeout=args.timeout, max_attempts=args.retries + 1)


def _nsamples(value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise InputError(f"--nsamples must be a number or 'auto', not {value!r}") from None


def explain_body(request: Mapping[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The explain request: the input's rows and parameters, overridden by the command's options."""
    explainers = [e.strip() for e in args.explainers.split(",")] if args.explainers else None
    explain_if = _json_option("--explain-if", args.explain_if) if args.explain_if else None
    body = build_explain_request(
        request.get("instances"), inputs=request.get("inputs"), explainers=explainers,
        nsamples=_nsamples(args.nsamples), num_samples=args.num_samples, num_features=args.num_features,
        seed=args.seed, class_name=args.class_name, output_space=args.output_space, explain_if=explain_if,
    )  # fmt: skip
    given = request.get("parameters")
    if given is not None and not isinstance(given, Mapping):  # the command's options cannot be merged in
        raise InputError('"parameters" in the input must be a JSON object, e.g. {"seed": 0}')
    given = dict(given or {})
    if "explain_if" in request:  # a request file written for the top level: it belongs in parameters
        given.setdefault("explain_if", request["explain_if"])
    parameters = {**given, **(body.get("parameters") or {})}
    if parameters:
        body["parameters"] = parameters
    return body


def _json_option(option: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{option} is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise InputError(f"{option} must be a JSON object, e.g. '{{\"min_probability\": 0.8}}'")
    return value


def display_rows(request: Mapping[str, Any]) -> list[Any]:
    """The request's rows as instances (columnar ``inputs`` turned into one object per row), for the
    feature values shown next to the attributions."""
    if isinstance(request.get("instances"), list):
        return request["instances"]
    inputs = request.get("inputs")
    if not isinstance(inputs, Mapping) or not inputs:
        return []
    columns = {k: v for k, v in inputs.items() if isinstance(v, list)}
    n = min((len(v) for v in columns.values()), default=0)
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]


def run(args: argparse.Namespace) -> int:
    def fail(message: str, code: int = EXIT_USAGE) -> int:
        print(f"litelens invoke: {message}", file=sys.stderr)
        return code

    if args.plot and args.action != "explain":
        return fail("--plot needs `explain` (SHAP values)")
    try:
        if args.retries < 0:
            raise InputError("--retries must be 0 or more")
        client = _client(args)
        if args.action == "metadata":
            response = client.metadata()
            print(json.dumps(response, indent=2))
            return 0
        if not args.input:
            raise InputError(f"{args.action} needs rows: a .json/.csv file, inline JSON, or - for stdin")
        request = read_request(args.input, args.format)
        rows = {"instances": request.get("instances"), "inputs": request.get("inputs")}
        body = predict_request(**rows) if args.action == "predict" else explain_body(request, args)
        # keys the command does not know (a typo such as "paramters") go along for the server to name
        body.update({k: v for k, v in request.items() if k not in KNOWN_REQUEST_KEYS})
        response = client.send(args.action, body)
        instances = display_rows(request)
    except InputError as exc:
        return fail(str(exc))
    except ApiError as exc:
        return fail(f"{exc.status} {exc.code}: {exc.message}", EXIT_USAGE if exc.is_client_error else EXIT_SERVICE)
    except TransportError as exc:
        return fail(str(exc), EXIT_SERVICE)
    except (LitelensError, ValueError) as exc:
        return fail(str(exc))

    if args.output == "json" or (args.output == "auto" and not sys.stdout.isatty()):
        print(json.dumps(response, indent=2))
    elif args.action == "predict":
        print(format_predictions(response))
    else:
        print(format_explanations(response, instances))
    if args.plot:
        try:
            path = plot_shap(response, args.instance, args.plot, instances)
        except InputError as exc:
            return fail(str(exc))
        except OSError as exc:
            return fail(f"cannot write {args.plot}: {exc.strerror or exc}")
        print(f"wrote {path}", file=sys.stderr)
    return 0
