"""The `litelens` command: one entry point, one module per subcommand.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
it is imported only when chosen, so ``litelens --help`` stays instant and ``litelens invoke`` never
pays for TensorFlow. A subcommand stops with ``CommandError``: ``main`` prints its lines on stderr
after ``litelens NAME: `` and returns its exit code. Exit codes have one meaning each, for every
subcommand (``litelens.build.command.ExitCode``): 0 done, 1 the command ran and found a problem
(a mismatch, a failed service or step), 2 usage or bad input (argparse's own errors exit 2 too).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence

from litelens.build.command import CommandError, ExitCode

# name -> (module, one-line help). The only list of subcommands.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "build": ("litelens.build.cli", "train on a CSV (or a demo dataset), export TFLite, write a model bundle"),
    "inspect": ("litelens.build.card_report", "print a bundle's card and verify every file's sha256"),
    "serve": ("litelens.infra.local.serve", "serve template.yaml's API and Lambda Invoke API locally, no Docker"),
    "invoke": ("litelens.infra.client.invoke", "call predict or explain (HTTP or Lambda) with JSON or CSV rows"),
    "bench": ("litelens.infra.bench.cli", "benchmark predict or explain side by side with baselines"),
    "publish": ("litelens.infra.aws.publish", "upload a bundle to s3://bucket/prefix under its version"),
    "deploy": ("litelens.infra.aws.deploy", "sam build + sam deploy with the right parameters"),
    "openapi": ("litelens.infra.openapi", "write the API's OpenAPI 3.1 document for a bundle (GET /openapi.json)"),
}


def name_values(items: Iterable[str] | None, option: str) -> dict[str, str]:
    """A repeatable ``NAME=VALUE`` option's values as a dict (a later NAME wins); ValueError names the
    option and the item that is not NAME=VALUE."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} {item!r} is not NAME=VALUE")
        out[key] = value
    return out


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="litelens",
        description="Serve a tabular model from AWS Lambda with SHAP and LIME explanations.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'litelens COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        parser = _top_parser()
        if not argv or argv[0] in ("-h", "--help"):
            parser.print_help()
            return ExitCode.OK if argv else ExitCode.USAGE
        parser.error(f"unknown command {argv[0]!r} (choose from {', '.join(SUBCOMMANDS)})")
    name, rest = argv[0], argv[1:]
    module_name, help_text = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"litelens {name}", description=help_text)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except CommandError as exc:
        for line in exc.lines:
            print(f"litelens {name}: {line}", file=sys.stderr)
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
