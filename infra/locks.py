"""Pinned requirements for what ships, derived from ``uv.lock`` (``make lock`` runs this).

``uv.lock`` pins every dependency set for development. Each Lambda artifact needs a plain pin list
for its own target (python3.12, x86_64 Linux) and its own set only: this writes them, and the test
suite checks they still match the lock.
"""

from __future__ import annotations

import subprocess
import sys
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


def predict_requirements() -> str:
    return HEADER + "".join(f"{pin}\n" for pin in exported_pins())


def main() -> int:
    PREDICT_REQUIREMENTS.write_text(predict_requirements())
    print(f"wrote {PREDICT_REQUIREMENTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
