"""The explain image without Docker: install functions/explain/requirements.txt into a fresh folder,
replay the Dockerfile's COPY lines, and answer an explain event from there in a clean python3.12.

Proves the pinned list is complete for what the handler imports (``-I`` and only that folder on
sys.path), that it holds no matplotlib / scikit-image / TensorFlow, and that the Dockerfile copies
every litelens module the handler needs. Downloads from PyPI on a cold cache (uv's cache otherwise).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from litelens.infra.bench.explain import dockerfile_copies, stage_image
from litelens.infra.bench.harness import python312
from tests.support.responses import decoded

FORBIDDEN = ("matplotlib", "skimage", "tensorflow", "keras", "PIL", "imageio", "networkx", "torch")


@pytest.fixture(scope="module")
def image_root(tmp_path_factory, binary_bundle):
    """The image's task root: the pinned requirements plus the Dockerfile's COPY lines (bench.explain.stage_image)."""
    root = tmp_path_factory.mktemp("explain-image")
    size_mb = stage_image(root, binary_bundle)
    print(f"explain image task root: {size_mb:.0f} MB")
    return root


def test_requirements_hold_no_plotting_stack_or_tensorflow(image_root):
    installed = {p.name for p in image_root.iterdir()}
    assert {"shap", "lime", "sklearn", "scipy", "pandas", "numpy", "ai_edge_litert", "litelens", "bundle"} <= installed
    assert not installed & set(FORBIDDEN), sorted(installed & set(FORBIDDEN))


def test_handler_answers_from_the_installed_folder_alone(image_root, load_event):
    python = python312()
    if python is None:
        pytest.skip("no python3.12 on this machine (the Lambda runtime's version)")
    # GIVEN the Dockerfile's copies of app.py, the litelens modules and the bundle (staged by the fixture)
    assert any(dest == "app.py" for _, dest in dockerfile_copies())
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
    body = decoded(response).body
    assert len(body["explanations"]) == 2 and {"shap", "lime", "agreement"} <= set(body["explanations"][0])
