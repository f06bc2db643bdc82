"""The TFLite interpreter class, from whichever LiteRT/TFLite package is installed.

Order: ``ai_edge_litert`` (the maintained runtime, numpy 2, Python 3.11-3.13), then
``tflite_runtime`` (its predecessor, last released 2.14, Python <= 3.11, numpy 1 only), then
``tensorflow.lite`` (a build machine with full TensorFlow). The predict function ships only the first.
"""

from __future__ import annotations

import importlib
from typing import Any

INTERPRETER_MODULES: tuple[str, ...] = (
    "ai_edge_litert.interpreter",
    "tflite_runtime.interpreter",
    "tensorflow.lite",
)


class InterpreterUnavailable(ImportError):
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
