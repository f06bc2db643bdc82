"""The bundle's model run: the TFLite interpreter package, the one runner, and native output held back.

Both sides run a bundle's ``model.tflite`` the same way: the build to gate an export against Keras
(``build.export.tflite_predict``), the functions to serve it (``functions.common.model.Model``).
The API:

``interpreter_class(modules=INTERPRETER_MODULES) -> (Interpreter, module_name)``
    The first interpreter package that imports: ``ai_edge_litert`` (the maintained runtime, numpy 2,
    Python 3.11-3.13), then ``tflite_runtime`` (its predecessor, last released 2.14, Python <= 3.11,
    numpy 1 only), then ``tensorflow.lite`` (a build machine with full TensorFlow). The predict
    function ships only the first. None: ``InterpreterUnavailable``.

``TFLiteRunner(model_bytes, num_threads=None, source="the model")``
    One model with one input and one output in an interpreter (anything else: ``BundleError``);
    ``run(X, max_chunk)`` -> float32 (n, n_outputs). Thread-safe (one lock); rows run in chunks of
    at most ``max_chunk`` so batches of thousands of rows keep the tensor arena bounded, and the
    interpreter is resized only when the chunk size changes.

``native_output_captured()``
    A context manager: what native code writes to fd 1 and 2 in the block is kept, its non-blank
    lines yielded (a list, filled when the block ends).

numpy and the standard library only (the interpreter package is imported when first asked for).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litelens.build.bundle import BundleError
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


class TFLiteRunner:
    """A TFLite model (one input, one output) in an interpreter; ``run`` is the one way to run it."""

    def __init__(self, model_bytes: bytes, *, num_threads: int | None = None, source: str = "the model") -> None:
        """Build the interpreter from ``model_bytes`` and allocate it for one row; ``source`` names the
        model in errors (its path). The runtime's C++ notices are not captured here: callers that must
        keep them off the console wrap this in ``native_output_captured``."""
        Interpreter, self.runtime = interpreter_class()
        try:
            self._interpreter = Interpreter(model_content=model_bytes, num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise BundleError(f"{source} is not a loadable TFLite model ({exc})") from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise BundleError(f"the model has {len(inputs)} inputs and {len(outputs)} outputs; expected 1 and 1")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        self.n_inputs, self.n_outputs = int(inputs[0]["shape"][-1]), int(outputs[0]["shape"][-1])
        self._lock = threading.Lock()
        self._rows = -1
        self._resize(1)

    def _resize(self, rows: int) -> None:
        self._interpreter.resize_tensor_input(self._input, [rows, self.n_inputs], strict=False)
        self._interpreter.allocate_tensors()
        self._rows = rows

    def _run(self, chunk: NDArray[np.float32]) -> NDArray[np.float32]:
        if chunk.shape[0] != self._rows:
            self._resize(chunk.shape[0])
        self._interpreter.set_tensor(self._input, chunk)
        self._interpreter.invoke()
        # a copy; the interpreter class is loaded by name (interpreter_class), so its methods are untyped
        outputs: NDArray[np.float32] = self._interpreter.get_tensor(self._output)
        return outputs

    def run(self, X: ArrayLike, max_chunk: int) -> NDArray[np.float32]:
        """Model outputs, float32 (n, n_outputs), for the rows of X (n, n_inputs, any float dtype), run
        in chunks of at most ``max_chunk`` rows."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"expected an array of shape (n, {self.n_inputs}), got {X.shape}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        n = X.shape[0]
        if n == 0:
            return np.empty((0, self.n_outputs), dtype=np.float32)
        with self._lock:
            if n <= max_chunk:
                return self._run(X)
            return np.concatenate([self._run(X[i : i + max_chunk]) for i in range(0, n, max_chunk)])


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers: native code writing through a buffered FILE* would otherwise leak out later."""
    with contextlib.suppress(OSError, AttributeError):  # no libc symbol table: nothing to flush
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def native_output_captured() -> Iterator[list[str]]:
    """For the block, what native code writes to fd 1 and 2 goes to a temporary file; its non-blank
    lines are handed back afterwards (in the yielded list).

    TensorFlow, its converter and LiteRT log from C++ (absl banners, oneDNN notices, delegate INFO
    lines) regardless of Python's logging: LiteRT announces its XNNPACK delegate on stderr ("INFO:
    Created TensorFlow Lite XNNPACK delegate for CPU.") when the interpreter first allocates. A Lambda
    function's output must be JSON lines only (the function logs the text as a JSON record instead),
    and the build's own output should stay readable. Python's and C's stdio buffers are flushed on
    both sides of the redirection, so nothing written before lands in the file or after it leaks out."""
    lines: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    _flush_c_stdio()
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
                _flush_c_stdio()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                sink.seek(0)
                lines += [line for line in sink.read().decode(errors="replace").splitlines() if line.strip()]
    finally:
        for fd in saved:
            os.close(fd)
