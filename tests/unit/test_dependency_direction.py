"""Dependencies point one way, layer by layer:

    build.bundle  <-  {build, explain}  <-  functions  <-  infra

``build.bundle`` (the bundle format, its column schema, S3 layout, signing and the TFLite runner)
imports no other litelens package; ``build`` and ``explain`` import only ``build.bundle`` (and
themselves); ``functions`` imports ``build.bundle`` and ``explain``, never the rest of ``build``, and
``functions.common`` (what both functions share, the whole predict zip) not even ``explain``; ``infra``
may import anything.

The check reads the source of every module of every package (the functions' ``app.py`` files too)
and finds imports at any depth: inside functions and branches, relative ones, and module names
written as strings (``importlib.import_module("litelens...")``, a table of command modules), so a
lazy import cannot hide a back edge. A second check imports ``build.bundle`` and ``functions.common``
in a fresh interpreter: none of the heavy libraries the functions do not ship comes along.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FOLDERS = ("build", "explain", "functions", "infra")  # litelens.<folder>

# The litelens modules each layer may import, most specific layer first (a module belongs to the first match).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("litelens.build.bundle", ("litelens.build.bundle",)),
    ("litelens.build", ("litelens.build",)),
    ("litelens.explain", ("litelens.explain", "litelens.build.bundle")),
    ("litelens.functions.common", ("litelens.functions.common", "litelens.build.bundle")),
    ("litelens.functions", ("litelens.functions", "litelens.explain", "litelens.build.bundle")),
    ("litelens.infra", ("litelens",)),
)

# A string that is exactly a litelens module's name is an import waiting to happen.
MODULE_NAME = re.compile(r"litelens(\.\w+)+")


def module_name(path: Path) -> str:
    """``functions/predict/app.py`` -> ``litelens.functions.predict.app`` (a package is its ``__init__``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["litelens", *parts])


def imported_names(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """``(line, litelens module or name)`` for every import in ``source``, at any depth."""
    package = module if is_package else module.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the module's package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from litelens.build import export` imports the module litelens.build.export
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_NAME.fullmatch(node.value):
            found.append((node.lineno, node.value))
    return [(line, name) for line, name in found if name == "litelens" or name.startswith("litelens.")]


def layer_of(module: str) -> tuple[str, tuple[str, ...]]:
    for layer, allowed in LAYERS:
        if module == layer or module.startswith(layer + "."):
            return layer, allowed
    raise AssertionError(f"{module} is in no layer")


def allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def package_modules() -> list[Path]:
    files = sorted(p for folder in PACKAGE_FOLDERS for p in (ROOT / folder).rglob("*.py"))
    return [p for p in files if ".venv" not in p.parts and "__pycache__" not in p.parts]


def test_every_package_is_scanned():
    scanned = {layer_of(module_name(p))[0] for p in package_modules()}
    assert scanned == {layer for layer, _ in LAYERS}
    names = {module_name(p) for p in package_modules()}
    assert {"litelens.functions.predict.app", "litelens.functions.explain.app", "litelens.build.bundle"} <= names


def test_every_import_points_down_the_layers():
    back_edges = []
    for path in package_modules():
        module = module_name(path)
        layer, prefixes = layer_of(module)
        for line, name in imported_names(path.read_text(), module, path.name == "__init__.py"):
            if not allowed(name, prefixes):
                back_edges.append(f"{path.relative_to(ROOT)}:{line} ({layer}) imports {name}")
    assert back_edges == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # GIVEN an import hidden inside a function (the lazy import the check exists for)
        ("def f():\n    from litelens.functions.common import model\n", "litelens.functions.common.model"),
        ("def f():\n    import litelens.infra.cli as cli\n", "litelens.infra.cli"),
        # a module named by a string, for importlib or a table of commands
        ("import importlib\nimportlib.import_module('litelens.explain.service')\n", "litelens.explain.service"),
        ("COMMANDS = {'go': 'litelens.functions.explain.app'}\n", "litelens.functions.explain.app"),
        # a relative import, resolved against the module's package (litelens.build)
        ("from ..explain import service\n", "litelens.explain.service"),
    ],
)
def test_the_scan_finds_imports_at_any_depth(source, expected):
    # WHEN the scan reads it as a module of build THEN the import is found, and build may not make it
    found = [name for _, name in imported_names(source, "litelens.build.export")]
    assert found == [expected]
    assert not allowed(expected, layer_of("litelens.build.export")[1])


def test_the_layers_are_the_documented_ones():
    # build.bundle is the bottom: build and explain may use it, functions may not use the rest of build
    assert not allowed("litelens.explain.service", layer_of("litelens.build.bundle.schema")[1])
    assert not allowed("litelens.explain.service", layer_of("litelens.build.pipeline")[1])
    assert not allowed("litelens.build.pipeline", layer_of("litelens.explain.service")[1])
    assert not allowed("litelens.build.export", layer_of("litelens.functions.explain.app")[1])
    assert not allowed("litelens.explain.service", layer_of("litelens.functions.common.model")[1])
    assert not allowed("litelens.infra.cli", layer_of("litelens.functions.predict.app")[1])
    assert allowed("litelens.explain.service", layer_of("litelens.functions.explain.app")[1])
    assert allowed("litelens.build.pipeline", layer_of("litelens.infra.bench.build")[1])


# Libraries neither function's bundle code may need: training, AWS SDK, the explainers and theirs.
HEAVY = ("tensorflow", "keras", "boto3", "botocore", "sklearn", "shap", "lime", "scipy", "pandas", "pyarrow")

SCRIPT = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{sys.argv[1]}.{module.name}")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.mark.parametrize("package", ["litelens.build.bundle", "litelens.functions.common"])
def test_the_bundle_and_the_shared_function_code_load_no_heavy_library(package):
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, package], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert "numpy" in loaded
    assert sorted(loaded & set(HEAVY)) == []
