"""Import a function's ``app.py`` by file path, the way Lambda imports a handler at cold start.

Every function's handler file is called ``app.py``, so each import gets a module name of its own
(``<prefix>_<n>``): two functions, or two cold starts of one function, never share a module. The
function's environment is in ``os.environ`` only while the module runs its top level (where a
function reads its settings and loads its model), and the app's folder is on ``sys.path`` only then,
as Lambda's task root is. Used by the local twin, the benchmarks and the tests.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

_module_counter = itertools.count()


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in ``os.environ`` for the block; every name's previous state restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def load_app(
    app_path: str | os.PathLike[str], env: Mapping[str, str], *, module_prefix: str = "_litelens_app"
) -> ModuleType:
    """A fresh module of ``app_path`` (its own cold start), imported with ``env`` applied.

    The module stays in ``sys.modules`` under its unique name, as an imported module does; an import
    that fails leaves nothing behind and raises what the module raised (a missing file:
    FileNotFoundError)."""
    path = Path(app_path)
    if not path.is_file():
        raise FileNotFoundError(f"handler file {path} does not exist")
    module_name = f"{module_prefix}_{next(_module_counter)}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    folder = str(path.parent)
    try:
        with patched_environ(env):
            sys.path.insert(0, folder)
            try:
                module_spec.loader.exec_module(module)
            finally:
                sys.path.remove(folder)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module
