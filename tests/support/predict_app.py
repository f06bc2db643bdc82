"""Import a function's app.py by file path with a given environment, the way Lambda and the twin do."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from litelens.functions.common import constants

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
PREDICT_APP = FUNCTIONS_DIR / "predict" / "app.py"
EXPLAIN_APP = FUNCTIONS_DIR / "explain" / "app.py"
_counter = itertools.count()


def import_function_app(
    app_path: str | os.PathLike[str], bundle: str | os.PathLike[str] | None, **env: str
) -> ModuleType:
    """A fresh module of ``app_path`` (its own cold start) serving ``bundle`` (None: MODEL_URI empty,
    the packaged bundle); ``env`` applies during the import only."""
    path = Path(app_path)
    name = f"_litelens_test_{path.parent.name}_app_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(constants.MODEL_URI, "" if bundle is None else str(bundle))
        for key, value in env.items():
            patch.setenv(key, value)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules.pop(name, None)
    return module


def import_predict_app(bundle: str | os.PathLike[str] | None, **env: str) -> ModuleType:
    """A fresh predict module serving ``bundle`` (PREDICT_APP is looked up per call, so tests may repoint it)."""
    return import_function_app(PREDICT_APP, bundle, **env)
