"""`litelens serve`: a docker-free local twin of the deployed API and of the Lambda Invoke API.

It reads ``template.yaml`` (the only list of routes and functions), imports each function's handler
in-process with the function's environment from the template, and serves:

- the REST API on 127.0.0.1:3000 (like ``sam local start-api``): each HTTP request becomes the
  proxy event API Gateway sends (payload 1.0), the handler's proxy response becomes the HTTP answer;
- the explain page at ``GET /`` (``explain_page``: a form from the bundle's schema, the answer drawn; local only);
- the Lambda Invoke API on 127.0.0.1:3001 (like ``sam local start-lambda``):
  ``POST /2015-03-31/functions/{FunctionName}/invocations``, so boto3 Lambda clients work with
  ``endpoint_url``. ``--api-key`` guards both servers alike; ``--lambda-port off`` turns it off.

What one client may hold (timeouts, connections, queued Event invocations) is bounded by
``limits.ServerLimits``.

Like Lambda, each function is one warm container: its module is imported once (the model loads
at import) and invocations of one function run one at a time. A function whose import fails
answers like Lambda after an init error (API: 502; Invoke API: a function error).

This module is the lifecycle (``Twin``: bind, import, serve, stop) and the command; the parts are
``container`` (a function), ``gateway`` (API Gateway's decisions), ``http_server`` (the sockets) and
``invoke_api`` (the Lambda service).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from litelens.build.command import CommandError, ExitCode
from litelens.functions.common import constants
from litelens.infra.aws.template import DEFAULT_TEMPLATE, ROOT, Route, SamTemplate, TemplateError
from litelens.infra.cli import name_values
from litelens.infra.local.container import LocalFunction
from litelens.infra.local.explain_page import ExplainPage
from litelens.infra.local.gateway import LocalGateway
from litelens.infra.local.http_server import ApiRequestHandler, LocalServer
from litelens.infra.local.invoke_api import InvokeBackend, InvokeRequestHandler
from litelens.infra.local.limits import LIMIT_FLAGS, EventPool, ServerLimits
from litelens.infra.local.loader import patched_environ

DEFAULT_HOST = "127.0.0.1"
DEFAULT_API_PORT = 3000
DEFAULT_LAMBDA_PORT = 3001
DEMO_BUNDLE = ROOT / "bundles" / "demo"


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
        page: bool = True,
        limits: ServerLimits | None = None,
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
        self.functions: dict[str, LocalFunction] = {}
        self.gateway = LocalGateway(
            [r for r in template.routes() if r.function in self.served],
            self.functions,
            stage=template.stage_name(),
            cors_preflight=template.cors_preflight_headers(),
            api_key=api_key,
            domain_name=f"{host}:{api_port}",
            page=ExplainPage(api_key_required=api_key is not None) if page else None,
        )
        self.limits = limits or ServerLimits()
        self._events: EventPool | None = None
        self._servers: list[LocalServer] = []
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
        self._shared_env.enter_context(patched_environ(shared))
        for spec in specs:
            function = LocalFunction(spec, envs[spec.logical_id])
            function.load()
            self.functions[spec.logical_id] = function

    def start(self) -> None:
        """Bind both ports (failing fast if taken), import the handlers, then serve."""
        try:
            api = LocalServer((self.host, self.api_port), ApiRequestHandler, self.gateway, self.limits)
            self._servers.append(api)
            self.api_port = api.server_address[1]
            self.gateway.domain_name = f"{self.host}:{self.api_port}"
            if self.lambda_port is not None:
                self._events = EventPool(self.limits.event_workers, self.limits.event_queue)
                backend = InvokeBackend(self.functions, self._events, self.gateway.api_key)
                invoke = LocalServer((self.host, self.lambda_port), InvokeRequestHandler, backend, self.limits)
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
        if self._events is not None:
            self._events.close()
            self._events = None
        if self._shared_env is not None:
            self._shared_env.close()
            self._shared_env = None

    def __enter__(self) -> Twin:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def api_key(self) -> str | None:
        return self.gateway.api_key

    @property
    def routes(self) -> list[tuple[re.Pattern[str], Route]]:
        """(path pattern, route) of every route served, in the template's order."""
        return self.gateway.routes

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def lambda_url(self) -> str:
        return f"http://{self.host}:{self.lambda_port}"


# -- command line ---------------------------------------------------------------------------------


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
    """(column names, a real training row: the SHAP background's heaviest representative, as raw
    values) for a local bundle. Keyed by column name when the row is short enough to read."""
    from litelens.build.bundle import Bundle

    try:
        bundle = Bundle.load(model_uri, verify=False)
        background, weights = bundle.shap_background()
        schema = bundle.card.schema
        row = background[int(weights.argmax())]
        values = [_raw_value(schema.display(j, float(z))) for j, z in enumerate(row)]
    except Exception:  # only a hint in the banner: never a reason not to serve
        return None
    names = schema.names
    instance: Any = dict(zip(names, values, strict=True)) if len(names) <= 8 else values
    return names, instance


def _raw_value(value: Any) -> Any:
    """A displayed column value as the banner's JSON shows it (numbers rounded, levels and dates as text)."""
    return round(float(value), 4) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def startup_banner(twin: Twin, model_uri: str) -> str:
    lines = [f"litelens serve: {len(twin.functions)} functions from the template, model {model_uri}"]
    for _, route in twin.routes:
        function = twin.functions[route.function]
        state = "" if function.handler else "   (failed to initialise: answers 502)"
        lines.append(f"  {route.method:<6} {twin.api_url}{route.path:<12} -> {route.function}{state}")
    if twin.lambda_port is not None:
        names = ", ".join(twin.functions)
        lines.append(f"  Lambda Invoke API {twin.lambda_url}  (boto3 endpoint_url; functions: {names})")
        if twin.api_key:
            lines.append("    it needs the key too: boto3 aws_access_key_id=<the key>, or an x-api-key header")
    if twin.api_key is None and twin.host not in ("127.0.0.1", "localhost", "::1"):
        lines.append(f"  WARNING: no --api-key and listening on {twin.host}: anyone who can reach it may call")
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
    if twin.gateway.page is not None:
        lines.append(f"Explain page (a local tool, in a browser): {twin.api_url}/")
    lines.append("Ctrl-C stops the servers.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", "-t", default=str(DEFAULT_TEMPLATE), help="SAM template (default: %(default)s)")
    parser.add_argument("--bundle", help=f"bundle folder or s3:// URI (default: $MODEL_URI, else {DEMO_BUNDLE})")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="API port (default: %(default)s)")
    parser.add_argument(
        "--lambda-port",
        type=_port_or_off,
        default=DEFAULT_LAMBDA_PORT,
        help="Lambda Invoke API port, or off (default: %(default)s)",
    )
    parser.add_argument(
        "--parameter", action="append", metavar="NAME=VALUE", help="override a template parameter (repeatable)"
    )
    parser.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="set a function environment variable (repeatable)"
    )
    parser.add_argument(
        "--api-key",
        help="require this key on every call, as the deployed API does: the x-api-key header (REST API and "
        "Invoke API) or the access key id boto3 signs with (Invoke API)",
    )
    defaults = ServerLimits()
    limits = parser.add_argument_group("limits (what one client may hold)")
    for name, flag, help_text in LIMIT_FLAGS:
        default = getattr(defaults, name)
        kind = type(default)
        metavar = "S" if kind is float else "N"
        limits.add_argument(
            flag, dest=name, type=kind, default=default, metavar=metavar, help=f"{help_text} (default: {default})"
        )
    parser.add_argument(
        "--function",
        action="append",
        metavar="LOGICAL_ID",
        help="serve only this function and its routes (repeatable; default: every function)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")


def _port_or_off(text: str) -> int | None:
    if text.strip().lower() == "off":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number or off") from None


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    try:
        template = SamTemplate.load(args.template, parameter_overrides=name_values(args.parameter, "--parameter"))
        env = name_values(args.env, "--env")
        template_uri = next((f.environment.get(constants.MODEL_URI, "") for f in template.functions()), "")
        model_uri = choose_model_uri(args.bundle, {**os.environ, **env}, template_uri)
        if "://" not in model_uri and not (Path(model_uri) / "bundle.json").is_file():
            hint = "run `make run` (builds the demo bundle) or pass --bundle PATH"
            raise CommandError(f"no bundle at {model_uri}: {hint}")
        env[constants.MODEL_URI] = model_uri
        limits = ServerLimits(**{name: getattr(args, name) for name, _, _ in LIMIT_FLAGS})
        twin = Twin(
            template, env_overrides=env, host=args.host, api_port=args.port, lambda_port=args.lambda_port,
            api_key=args.api_key, functions=args.function, limits=limits,
        )  # fmt: skip
    except ValueError as exc:  # TemplateError included
        raise CommandError(str(exc)) from exc
    try:
        twin.start()
    except OSError as exc:
        raise CommandError(f"cannot listen on {args.host}: {exc.strerror or exc}") from exc
    # Before the banner: a client that reads it may send SIGTERM at once (a loaded machine showed it).
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    print(startup_banner(twin, model_uri), flush=True)
    try:
        stopping.wait()
    finally:
        print("litelens serve: shutting down", file=sys.stderr, flush=True)
        twin.stop()
    return ExitCode.OK
