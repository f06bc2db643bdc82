"""The TFLite interpreter class, from whichever LiteRT/TFLite package is installed.

Order: ``ai_edge_litert`` (the maintained runtime, numpy 2, Python 3.11-3.13), then
``tflite_runtime`` (its predecessor, last released 2.14, Python <= 3.11, numpy 1 only), then
``tensorflow.lite`` (a build machine with full TensorFlow). The predict function ships only the first.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from litelens.build.bundle.errors import LitelensError

INTERPRETER_MODULES: tuple[str, ...] = (
    "ai_edge_litert.interpreter",
    "tflite_runtime.interpreter",
    "tensorflow.lite",
)


class InterpreterUnavailable(LitelensError, ImportError):
    """No TFLite interpreter package could be imported."""


def interpreter_class(modules: tuple[str, ...] = INTERPRETER_MODULES) -> tuple[type[Any], str]:
    """Return ``(Interpreter, module_name)`` from the first module in ``modules`` that imports."""
    failures = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # also covers numpy-ABI failures surfacing as ImportError
            failures.append(f"{name}: {exc}")
            continue
        interpreter = getattr(module, "Interpreter", None)
        if interpreter is None:
            failures.append(f"{name}: has no Interpreter")
            continue
        return interpreter, name
    raise InterpreterUnavailable("no TFLite interpreter available; tried " + "; ".join(failures))


@contextlib.contextmanager
def native_output_captured() -> Iterator[list[str]]:
    """For the block, what native code writes to fd 1 and 2 goes to a temporary file; its lines are
    handed back afterwards (in the yielded list).

    LiteRT announces its XNNPACK delegate from C++ on stderr ("INFO: Created TensorFlow Lite XNNPACK
    delegate for CPU.") when the interpreter first allocates; a Lambda function's output must be JSON
    lines only, so the function logs the text as a JSON record instead."""
    lines: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with tempfile.TemporaryFile(mode="w+b") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                sink.seek(0)
                lines += [line for line in sink.read().decode(errors="replace").splitlines() if line.strip()]
    finally:
        for fd in saved:
            os.close(fd)
