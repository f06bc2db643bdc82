"""Dependencies point one way: functions -> explain -> (shap, lime, numpy); both -> build.bundle (the
bundle format: its card and column schema, numpy only).

Each check imports every module of a package in a fresh interpreter and lists the litelens modules
that came along, so an import added anywhere (at module level) that breaks the direction fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for module in pkgutil.iter_modules(package.__path__):
    importlib.import_module(f"{sys.argv[1]}.{module.name}")
print(json.dumps(sorted(name for name in sys.modules if name.startswith("litelens."))))
"""


def loaded_with(package: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, package], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        # the attribution library knows nothing of HTTP, the functions, the training or the infra:
        # only the bundle format (the column schema it explains in)
        ("litelens.explain", ("litelens.explain", "litelens.build.bundle")),
        # what both functions share: only the bundle format from build/, nothing of explain/ or infra/
        ("litelens.functions.common", ("litelens.functions", "litelens.build.bundle")),
    ],
)
def test_a_package_imports_only_what_it_may(package, allowed):
    loaded = loaded_with(package)
    assert any(name.startswith(package) for name in loaded)
    parents = {name.rsplit(".", 1)[0] for name in allowed}  # a package's parent is imported with it
    inside = tuple(f"{a}." for a in allowed)
    outside = sorted(n for n in loaded if not (n in allowed or n in parents or n.startswith(inside)))
    assert outside == [], f"{package} pulls in {outside}"
