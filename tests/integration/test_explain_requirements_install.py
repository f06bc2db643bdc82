"""The explain image without Docker: install functions/explain/requirements.txt into a fresh folder,
replay the Dockerfile's COPY lines, and answer an explain event from there in a clean python3.12.

Proves the pinned list is complete for what the handler imports (``-I`` and only that folder on
sys.path), that it holds no matplotlib / scikit-image / TensorFlow, and that the Dockerfile copies
every litelens module the handler needs. Downloads from PyPI on a cold cache (uv's cache otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "functions" / "explain" / "Dockerfile"
REQUIREMENTS = ROOT / "functions" / "explain" / "requirements.txt"
TASK_ROOT = "${LAMBDA_TASK_ROOT}"
FORBIDDEN = ("matplotlib", "skimage", "tensorflow", "keras", "PIL", "imageio", "networkx", "torch")


def python312() -> str | None:
    candidates = [shutil.which("python3.12"), *sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))]
    for candidate in candidates:
        if candidate and subprocess.run([str(candidate), "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
                                        capture_output=True).returncode == 0:  # fmt: skip
            return str(candidate)
    return None


def dockerfile_copies() -> list[tuple[str, str]]:
    """(source relative to the repo, destination relative to the task root) of each litelens COPY line."""
    copies = []
    for line in DOCKERFILE.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "COPY" and parts[2].startswith(TASK_ROOT):
            copies.append((parts[1], parts[2][len(TASK_ROOT) :].lstrip("/")))
    return copies


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    uv = Path(sys.executable).with_name("uv")
    root = tmp_path_factory.mktemp("explain-image")
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--no-deps", "--target", str(root), "--python-platform",
         "x86_64-manylinux_2_28", "--python-version", "3.12", "-r", str(REQUIREMENTS)],
        check=True, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}, timeout=600,
    )  # fmt: skip
    shutil.rmtree(root / "bin", ignore_errors=True)
    return root


def test_requirements_hold_no_plotting_stack_or_tensorflow(image_root):
    installed = {p.name for p in image_root.iterdir()}
    assert {"shap", "lime", "sklearn", "scipy", "pandas", "numpy", "ai_edge_litert"} <= installed
    assert not installed & set(FORBIDDEN), sorted(installed & set(FORBIDDEN))
    size_mb = sum(f.stat().st_size for f in image_root.rglob("*") if f.is_file()) / 1e6
    print(f"explain runtime installed: {size_mb:.0f} MB")


def test_handler_answers_from_the_installed_folder_alone(image_root, binary_bundle, load_event):
    python = python312()
    if python is None:
        pytest.skip("no python3.12 on this machine (the Lambda runtime's version)")
    # GIVEN the Dockerfile's copies of app.py, the litelens modules and the bundle
    copies = dockerfile_copies()
    assert any(dest == "app.py" for _, dest in copies)
    for source, dest in copies:
        src = Path(binary_bundle) if source.startswith("${LITELENS_BUNDLE}") else ROOT / source
        target = image_root / dest
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    event = load_event("explain_rest_v1")
    script = f"""
import json, sys
sys.path[:0] = [{str(image_root)!r}]
import app
response = app.lambda_handler(json.loads(sys.stdin.read()), None)
loaded = [m for m in {FORBIDDEN!r} if m in sys.modules]
outside = sorted({{getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}} - {{""}})
outside = [f for f in outside if not f.startswith({str(image_root)!r}) and not f.startswith(sys.base_prefix)]
print(json.dumps({{"response": response, "loaded": loaded, "outside": outside}}))
"""
    # WHEN a clean python3.12 (-I: no site-packages, no env paths) runs the handler from there
    env = {"PATH": os.environ.get("PATH", ""), "LITELENS_LOG_LEVEL": "ERROR", "HOME": os.environ.get("HOME", "/")}
    result = subprocess.run(
        [python, "-I", "-c", script], input=json.dumps(event), capture_output=True, text=True, env=env,
        cwd=image_root, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    # THEN it answers the explain request, importing nothing from outside the folder
    assert out["loaded"] == [] and out["outside"] == []
    response = out["response"]
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    assert len(body["explanations"]) == 2 and {"shap", "lime", "agreement"} <= set(body["explanations"][0])
