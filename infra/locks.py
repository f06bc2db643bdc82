"""Pinned requirements for what ships, derived from ``uv.lock`` (``make lock`` runs this).

``uv.lock`` pins every dependency set for development. Each Lambda artifact needs a pin list for
its own target (python3.12, x86_64 Linux) and its own set only: this writes them, each pin with the
sha256 of every file the lock records for it, so the packaging installs with ``--require-hashes``
(a file that is not the one locked is refused), and the test suite checks they still match the lock.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker

ROOT = Path(__file__).resolve().parent.parent
# The Lambda python3.12 runtime (Amazon Linux 2023, x86_64), for evaluating the lock's markers.
LAMBDA_ENVIRONMENT = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "platform_machine": "x86_64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}
PREDICT_REQUIREMENTS = ROOT / "functions" / "predict" / "requirements.txt"
EXPLAIN_REQUIREMENTS = ROOT / "functions" / "explain" / "requirements.txt"
# lime lists its plotting stack as install requirements; lime.lime_tabular never imports it. The explain
# image leaves these out, and every package only they pull in (pillow, imageio, networkx, ...).
EXPLAIN_EXCLUDED = ("matplotlib", "scikit-image")
HEADER = "# Generated from uv.lock by `make lock` (litelens.infra.locks); do not edit by hand.\n"


def exported_pins(*extras: str) -> list[str]:
    """``name==version`` for the project's runtime deps plus ``extras``, for the Lambda target."""
    cmd = [sys.executable, "-m", "uv", "export", "--frozen", "--no-emit-project", "--no-hashes"]
    cmd += ["--no-header", "--no-annotate", "--no-dev"]
    for extra in extras:
        cmd += ["--extra", extra]
    lines = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout.splitlines()
    pins = []
    for line in lines:
        requirement, _, marker = line.partition(";")
        if not requirement.strip() or requirement.startswith("#"):
            continue
        if marker.strip() and not Marker(marker.strip()).evaluate(LAMBDA_ENVIRONMENT):
            continue
        pins.append(requirement.strip())
    return sorted(pins, key=str.lower)


def locked_hashes() -> dict[tuple[str, str], list[str]]:
    """``(name, version) -> sorted sha256 digests`` of every wheel and sdist ``uv.lock`` records."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    out: dict[tuple[str, str], list[str]] = {}
    for package in lock["package"]:
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        digests = sorted({f["hash"] for f in files if str(f.get("hash", "")).startswith("sha256:")})
        out[(_name(package["name"]), str(package.get("version", "")))] = digests
    return out


def hashed(pins: list[str]) -> str:
    """The pins as requirement lines, each followed by its ``--hash`` options."""
    hashes = locked_hashes()
    lines = []
    for pin in pins:
        name, _, version = pin.partition("==")
        digests = hashes.get((_name(name), version.strip()))
        if not digests:
            raise ValueError(f"uv.lock records no sha256 for {pin}")
        lines.append(" \\\n".join([pin, *(f"    --hash={digest}" for digest in digests)]) + "\n")
    return "".join(lines)


def predict_requirements() -> str:
    return HEADER + hashed(exported_pins())


def _name(pin: str) -> str:
    return pin.split("==", 1)[0].strip().lower().replace("_", "-")


def reachable_without(excluded: tuple[str, ...], *extras: str) -> set[str]:
    """Package names uv.lock's graph reaches from the project (runtime deps + ``extras``), not passing ``excluded``."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    graph: dict[str, set[str]] = {}
    project: dict = {}
    for package in lock["package"]:
        deps = graph.setdefault(package["name"], set())
        deps.update(dep["name"] for dep in package.get("dependencies", []))
        if package.get("source", {}).get("editable") == "." or package.get("source", {}).get("virtual") == ".":
            project = package
    roots = {dep["name"] for dep in project.get("dependencies", [])}
    for extra in extras:
        roots |= {dep["name"] for dep in project.get("optional-dependencies", {}).get(extra, [])}
    seen: set[str] = set()
    todo = [name for name in roots if name not in excluded]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(dep for dep in graph.get(name, ()) if dep not in excluded and dep not in seen)
    return seen


def explain_pins() -> list[str]:
    """The explain image's pins: predict runtime + shap + lime + scikit-learn, without lime's plotting stack."""
    keep = reachable_without(EXPLAIN_EXCLUDED, "explain")
    return [pin for pin in exported_pins("explain") if _name(pin) in keep]


def explain_requirements() -> str:
    note = (
        f"# Complete: install with `pip install --no-deps -r` (lime's {' and '.join(EXPLAIN_EXCLUDED)} are left out).\n"
    )
    return HEADER + note + hashed(explain_pins())


def main() -> int:
    for path, text in ((PREDICT_REQUIREMENTS, predict_requirements()), (EXPLAIN_REQUIREMENTS, explain_requirements())):
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
