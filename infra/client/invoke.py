"""`litelens invoke predict|explain|metadata`: call the API (or the functions) with JSON or CSV rows.

The rows are read by ``rows``; in a terminal the answer is printed as tables (explanations:
feature, value, SHAP, LIME weight, by |SHAP|) by ``display``; piped, or with ``--json``, it is the
raw JSON. ``--plot why.png`` (or ``.svg``) draws one instance's SHAP waterfall and LIME weights (``plot``).

Exit codes: 2 for what the user gave (options, rows, a plot that cannot be drawn) and for a request the
service refused as theirs (4xx); 1 when the service failed (5xx) or could not be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litelens.build.command import CommandError, ExitCode
from litelens.explain.shap_method import SHAP_OUTPUT_SPACES
from litelens.functions.common.instances import REQUEST_FIELDS
from litelens.infra.client.api import (
    ApiError,
    LitelensClient,
    PlotError,
    ServiceError,
    TransportError,
    build_explain_request,
    plot_explanation,
    predict_request,
)
from litelens.infra.client.display import format_explanations, format_predictions
from litelens.infra.client.panels import PLOT_FORMATS
from litelens.infra.client.rows import InputError, display_rows, read_request

DEFAULT_URL = "http://127.0.0.1:3000"
# what the command reads from a request file; explain_if is moved into parameters (explain) or dropped
KNOWN_REQUEST_KEYS = frozenset({*REQUEST_FIELDS, "explain_if"})


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
        "--output-space",
        choices=[space.value for space in SHAP_OUTPUT_SPACES],
        help="SHAP's output space (log_odds: binary models)",
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
    out.add_argument(
        "--plot",
        metavar="FILE",
        help="draw one instance's SHAP waterfall and LIME weights to a .png or .svg (explain)",
    )
    out.add_argument("--instance", type=int, default=0, help="instance to plot (default: %(default)s)")


def _client(args: argparse.Namespace) -> LitelensClient:
    if args.function:
        names = {"predict_function": None, "explain_function": None}
        names["explain_function" if args.action == "explain" else "predict_function"] = args.function
        return LitelensClient.for_lambda(
            **names, endpoint_url=args.endpoint_url, region=args.region, timeout=args.timeout,
            max_attempts=args.retries + 1, api_key=args.api_key,
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


def _column_order(client: LitelensClient, instances: list[Any]) -> list[str] | None:
    """The bundle's column order, to name the values of rows sent as lists (asked of ``GET /metadata``
    only then); None when every row names its columns, or the metadata cannot be had."""
    if all(isinstance(row, Mapping) for row in instances):
        return None
    try:
        features = client.metadata().get("features")
    except (ServiceError, AttributeError, ValueError):
        return None
    return [str(f) for f in features] if isinstance(features, list) else None


def run(args: argparse.Namespace) -> int:
    if args.plot and args.action != "explain":
        raise CommandError("--plot needs `explain` (SHAP values)")
    if args.plot and Path(args.plot).suffix.lower() not in PLOT_FORMATS:
        raise CommandError(f"--plot writes {' or '.join(PLOT_FORMATS)}, not {args.plot!r}")
    try:
        if args.retries < 0:
            raise InputError("--retries must be 0 or more")
        client = _client(args)
        if args.action == "metadata":
            response = client.metadata()
            print(json.dumps(response, indent=2))
            return ExitCode.OK
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
        raise CommandError(str(exc)) from exc
    except ApiError as exc:
        code = ExitCode.USAGE if exc.is_client_error else ExitCode.FAILED
        raise CommandError(f"{exc.status} {exc.code}: {exc.message}", exit_code=code) from exc
    except TransportError as exc:
        raise CommandError(str(exc), exit_code=ExitCode.FAILED) from exc
    except (ServiceError, ValueError) as exc:
        raise CommandError(str(exc)) from exc

    as_json = args.output == "json" or (args.output == "auto" and not sys.stdout.isatty())
    shown = args.action == "explain" and (args.plot or not as_json)
    columns = _column_order(client, instances) if shown else None  # names the values of list rows
    if as_json:
        print(json.dumps(response, indent=2))
    elif args.action == "predict":
        print(format_predictions(response))
    else:
        print(format_explanations(response, instances, columns))
    if args.plot:
        from litelens.infra.client.plot import save_figure  # matplotlib: only to draw

        try:
            figure = plot_explanation(
                response, args.instance, instances=instances, columns=columns, top_k=args.num_features
            )
            path = save_figure(figure, args.plot)
        except PlotError as exc:
            raise CommandError(str(exc)) from exc
        except OSError as exc:
            raise CommandError(f"cannot write {args.plot}: {exc.strerror or exc}") from exc
        print(f"wrote {path}", file=sys.stderr)
    return ExitCode.OK
