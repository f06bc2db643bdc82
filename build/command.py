"""How a ``litelens`` command ends: its exit code (``ExitCode``), one meaning each, and ``CommandError``.

Every subcommand exits with one of:

- ``0`` ``OK``: done (``inspect``: every file matches its sha256).
- ``1`` ``FAILED``: the command ran and found a problem: a bundle that does not match its card
  (``inspect``), a published version that holds other content (``publish``), a service that answered
  5xx or could not be reached (``invoke``, ``publish``), a step that failed (``build``'s TFLite
  export, ``deploy``'s ``sam build``/``sam deploy``).
- ``2`` ``USAGE``: the command was used wrongly or given bad input: arguments (argparse exits 2 for its
  own errors, such as an unknown option), files, bundles, URIs, templates, or a request the service
  refused as the caller's mistake (a 4xx: a missing feature, a bucket that does not exist, access
  denied).

A subcommand's ``run(args)`` raises ``CommandError(*lines, exit_code=...)`` (default ``USAGE``);
``litelens.infra.cli.main`` prints each line on stderr after ``litelens NAME: `` and returns the code.
A command that has printed all it has to say returns an ``ExitCode`` instead.

This module is in build/ rather than beside the entry point (``infra/cli.py``) because build's own
commands (``build``, ``inspect``) raise it and build may import only itself and the bundle; infra
imports it from here. Not in ``build/bundle/``: the bundle is what the Lambda functions ship, and
exit codes mean nothing there.
"""

from __future__ import annotations

from enum import IntEnum

from litelens.build.bundle.errors import LitelensError


class ExitCode(IntEnum):
    """What a ``litelens`` command's exit status means (see the module docstring)."""

    OK = 0
    FAILED = 1
    USAGE = 2


class CommandError(LitelensError):
    """A command that stops with ``exit_code``; ``lines`` are its messages, one stderr line each."""

    def __init__(self, *lines: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)
        self.exit_code = exit_code
