"""`litelens bench predict|explain|build`: each target's own module measures it beside its baselines."""

from __future__ import annotations

import argparse
import importlib

TARGETS = {
    "predict": "litelens.infra.bench.predict",
    "explain": "litelens.infra.bench.explain",
    "build": "litelens.infra.bench.build",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, module_name in TARGETS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0]))


def run(args: argparse.Namespace) -> int:
    return int(importlib.import_module(TARGETS[args.target]).run(args) or 0)
