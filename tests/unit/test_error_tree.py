"""One error tree: every exception class litelens defines derives from ``LitelensError``
(build/bundle/errors.py), and each kept the builtin base its callers catch.

The classes are found by importing every module of every package, so an error added anywhere is
checked without being listed here.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

from litelens.build.bundle.errors import LitelensError

PACKAGES = ("litelens.build", "litelens.explain", "litelens.functions", "litelens.infra")
# Exceptions that are not errors, and why.
NOT_ERRORS = {
    "litelens.explain.errors.Stopped": "a stop its caller asked for, carrying the rows done (not a failure)",
}
# The builtin base each error keeps, so that `except ValueError` (or RuntimeError, ...) still catches it.
KEPT_BASES = {
    "BundleError": ValueError,
    "SchemaError": ValueError,
    "ValueKindError": ValueError,
    "S3UriError": ValueError,
    "SignatureError": ValueError,
    "BuildInputError": ValueError,
    "ExportError": RuntimeError,
    "InterpreterUnavailable": ImportError,
    "SigningError": RuntimeError,
    "PublishError": RuntimeError,
    "TemplateError": ValueError,
    "InputError": ValueError,
    "PlotError": ValueError,
    "FunctionInvokeError": RuntimeError,
    "RequestTimeout": TimeoutError,
}


def _is_handler(name: str) -> bool:
    return name.rsplit(".", 1)[-1] == "app"


def _module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        names += [info.name for info in pkgutil.walk_packages(path, f"{package}.")]
    return names


@functools.cache
def litelens_exceptions() -> dict[str, type[BaseException]]:
    """``module.Class`` -> class, for every public exception class defined in a litelens module."""
    found = {}
    for name in _module_names():
        if _is_handler(name):
            continue  # a function's app.py loads its bundle at import (see the test below)
        module = importlib.import_module(name)
        for obj in vars(module).values():
            defined_here = isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == name
            if defined_here and not obj.__name__.startswith("_"):  # a private one never leaves its module
                found[f"{name}.{obj.__name__}"] = obj
    return found


def test_every_litelens_error_derives_from_litelens_error():
    errors = litelens_exceptions()
    assert len(errors) >= len(KEPT_BASES)
    outside = sorted(n for n, cls in errors.items() if not issubclass(cls, LitelensError) and n not in NOT_ERRORS)
    assert outside == [], f"derive these from litelens.build.bundle.errors.LitelensError: {outside}"


def test_the_function_handlers_define_no_errors():
    # They are not imported above (each loads a bundle at import): their source says the same.
    for name in filter(_is_handler, _module_names()):
        spec = importlib.util.find_spec(name)
        tree = ast.parse(Path(spec.origin).read_text())
        classes = [node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
        assert not [c for c in classes if c.endswith(("Error", "Exception"))], f"{name} defines {classes}"


@pytest.mark.parametrize(("name", "base"), KEPT_BASES.items())
def test_each_error_keeps_the_builtin_base_its_callers_catch(name, base):
    by_name = {cls.__name__: cls for cls in litelens_exceptions().values()}
    assert issubclass(by_name[name], LitelensError) and issubclass(by_name[name], base)
