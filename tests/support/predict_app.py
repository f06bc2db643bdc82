"""Import functions/predict/app.py by file path with a given environment, the way Lambda and the twin do."""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from litelens.functions.common import constants

PREDICT_APP = Path(__file__).resolve().parents[2] / "functions" / "predict" / "app.py"
_counter = itertools.count()


def import_predict_app(bundle: str | os.PathLike[str] | None, **env: str) -> ModuleType:
    """A fresh predict module (its own cold start) serving ``bundle``; env vars apply during import only."""
    name = f"_litelens_test_predict_app_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, PREDICT_APP)
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
