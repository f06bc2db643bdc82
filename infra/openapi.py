"""`litelens openapi`: write the API's OpenAPI 3.1 document for a bundle, as GET /openapi.json serves it.

The document comes from the functions' own code (``functions.common.openapi`` over the card, the
settings the environment gives, the explain function's parameter schema): the same call the explain
function makes at cold start, so the file and the served document are one. A bundle or environment
it cannot read exits 2 (``ExitCode.USAGE``), as ``litelens inspect`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from litelens.build.command import CommandError, ExitCode
from litelens.functions.common import constants
from litelens.functions.common.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = ROOT / "bundles" / "demo"


def build_document(bundle: str | os.PathLike[str], environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The document the explain function serves for ``bundle`` under ``environ`` (default: this process's)."""
    from litelens.build.bundle import Bundle
    from litelens.functions.common.openapi import document
    from litelens.functions.explain.openapi_explain import explain_schemas
    from litelens.functions.explain.request import Caps

    settings = Settings.from_env(environ, service="explain")
    card = Bundle.load(bundle).card
    return document(card, settings, explain=explain_schemas(card, Caps.from_settings(settings)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", help=f"bundle folder (default: ${constants.MODEL_URI}, else {DEMO_BUNDLE})")
    parser.add_argument("-o", "--output", help="write the document here (default: standard output)")


def run(args: argparse.Namespace) -> int:
    bundle = args.bundle or os.environ.get(constants.MODEL_URI) or str(DEMO_BUNDLE)
    try:
        text = json.dumps(build_document(bundle), indent=2) + "\n"
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from exc
    if args.output:
        Path(args.output).write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.OK
