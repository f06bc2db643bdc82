"""Import a function's app.py by file path with a given environment, the way Lambda and the twin do."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from litelens.functions.common import constants
from litelens.infra.local.loader import load_app

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
PREDICT_APP = FUNCTIONS_DIR / "predict" / "app.py"
EXPLAIN_APP = FUNCTIONS_DIR / "explain" / "app.py"


def import_function_app(
    app_path: str | os.PathLike[str], bundle: str | os.PathLike[str] | None, **env: str
) -> ModuleType:
    """A fresh module of ``app_path`` (its own cold start) serving ``bundle`` (None: MODEL_URI empty,
    the packaged bundle); ``env`` applies during the import only."""
    path = Path(app_path)
    environment = {constants.MODEL_URI: "" if bundle is None else str(bundle), **env}
    return load_app(path, environment, module_prefix=f"_litelens_test_{path.parent.name}_app")


def import_predict_app(bundle: str | os.PathLike[str] | None, **env: str) -> ModuleType:
    """A fresh predict module serving ``bundle`` (PREDICT_APP is looked up per call, so tests may repoint it)."""
    return import_function_app(PREDICT_APP, bundle, **env)


def import_explain_app(bundle: str | os.PathLike[str] | None, **env: str) -> ModuleType:
    """A fresh explain module (its own cold start) serving ``bundle``; env vars apply during import only."""
    return import_function_app(EXPLAIN_APP, bundle, **env)
