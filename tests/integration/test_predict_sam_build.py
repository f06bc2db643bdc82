"""`sam build PredictFunction` makes a self-sufficient artifact: a clean python3.12 that sees only the
artifact folder answers an event from `sam local generate-event`, within the size and memory targets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from litelens.infra.bench.harness import python312
from tests.support.predict_app import import_predict_app
from tests.support.responses import decoded

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAM = str(Path(sys.executable).parent / "sam")
MB = 1024 * 1024
HEAVY = ("tensorflow", "keras", "shap", "lime", "sklearn", "scikit_learn", "pandas", "scipy", "boto3", "botocore")


def sam_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SAM_CLI_TELEMETRY": "0", **extra}


@pytest.fixture(scope="module")
def artifact(binary_bundle, tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("sam")
    cmd = [SAM, "build", "PredictFunction", "--template-file", str(REPO / "template.yaml")]
    cmd += ["--build-dir", str(work / "build"), "--cache-dir", str(work / "cache")]
    result = subprocess.run(
        cmd, cwd=work, env=sam_env(LITELENS_BUNDLE=str(binary_bundle)), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return work / "build" / "PredictFunction"


def generated_event(body: dict) -> dict:
    cmd = [SAM, "local", "generate-event", "apigateway", "aws-proxy", "--method", "POST", "--path", "predict"]
    cmd += ["--resource", "/predict", "--body", json.dumps(body)]
    result = subprocess.run(cmd, env=sam_env(), capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import app

class Context:
    aws_request_id = "sam-build-test"

event = json.load(sys.stdin)
response = app.lambda_handler(event, Context())
files = sorted({getattr(m, "__file__", None) or "" for m in list(sys.modules.values())})
print(json.dumps({
    "response": response,
    "files": files,
    "runtime": app.MODEL.runtime,
    # VmHWM, not ru_maxrss: the latter keeps the forking (pytest) process's peak across exec
    "maxrss_kb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]),
    "stdlib": sys.base_prefix,
}))
"""


def test_built_artifact_answers_in_a_clean_python312(artifact, binary_bundle):
    python = python312()
    if python is None:
        pytest.skip("python3.12 (the Lambda runtime's version) is not installed")
    # GIVEN a 100-row request as API Gateway sends it (sam local generate-event encodes the body in base64)
    rows = np.random.default_rng(0).uniform([18, 1e4, 0, 0], [90, 2e5, 1.5, 40], size=(100, 4)).round(3).tolist()
    event = generated_event({"instances": rows})
    assert event["isBase64Encoded"] is True
    # WHEN a python3.12 that sees only the artifact (-I: no env, no user site; -S: no site-packages) runs it
    result = subprocess.run(
        [python, "-I", "-S", "-c", CHILD, str(artifact)],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(artifact.parent), "LITELENS_LOG_LEVEL": "WARNING"},
        cwd=artifact.parent,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    # THEN it answers with the same predictions as the source tree, every import came from the artifact or the
    # standard library, and the whole process stayed within the 128 MB function's budget
    response = report["response"]
    assert response["statusCode"] == 200, response
    predictions = decoded(response).body["predictions"]
    expected = import_predict_app(binary_bundle).lambda_handler({"instances": rows}, None)["predictions"]
    assert [p["probability"] for p in predictions] == pytest.approx([p["probability"] for p in expected], abs=1e-6)
    assert [p["label"] for p in predictions] == [p["label"] for p in expected]
    assert report["runtime"] == "ai_edge_litert.interpreter"
    outside = [f for f in report["files"] if f and not f.startswith((str(artifact), report["stdlib"]))]
    assert outside == []
    assert any(f.startswith(str(artifact / "numpy")) for f in report["files"])
    assert report["maxrss_kb"] * 1024 <= 100 * MB, f"peak RSS {report['maxrss_kb'] / 1024:.0f} MB"


def test_artifact_contents_and_size_limits(artifact, binary_bundle, tmp_path):
    # only the handler, the runtime packages, the imported litelens modules and the bundle
    assert (artifact / "app.py").read_bytes() == (REPO / "functions" / "predict" / "app.py").read_bytes()
    assert (artifact / "bundle" / "bundle.json").read_bytes() == (binary_bundle / "bundle.json").read_bytes()
    litelens_files = sorted(str(p.relative_to(artifact)) for p in (artifact / "litelens").rglob("*.py"))
    # whole packages: every module of functions/common and of the bundle format, nothing else of build/
    common = sorted(p.name for p in (REPO / "functions" / "common").glob("*.py"))
    assert sorted(f.rsplit("/", 1)[1] for f in litelens_files if f.startswith("litelens/functions/common/")) == common
    bundle_format = {"litelens/build/__init__.py", "litelens/build/bundle/__init__.py", "litelens/build/bundle/s3.py"}
    assert bundle_format <= set(litelens_files)
    assert not any(
        f.startswith("litelens/build/") and not f.startswith("litelens/build/bundle/") and f not in bundle_format
        for f in litelens_files
    )
    assert not any(
        f.startswith(("litelens/infra", "litelens/explain", "litelens/functions/explain")) for f in litelens_files
    )
    top = {p.name.split("-")[0].lower() for p in artifact.iterdir()}
    assert not top & set(HEAVY), top & set(HEAVY)
    assert not [p for p in artifact.rglob("tests") if p.is_dir()]
    assert list(artifact.rglob("app.cpython-312.pyc")), "the artifact ships precompiled modules"
    unzipped = sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file())
    zipped = Path(shutil.make_archive(str(tmp_path / "predict"), "zip", artifact)).stat().st_size
    assert unzipped <= 130 * MB, f"{unzipped / MB:.1f} MB unzipped"
    assert zipped <= 40 * MB, f"{zipped / MB:.1f} MB zipped"


def test_build_without_a_bundle_fails_with_a_clear_message(tmp_path):
    result = subprocess.run(
        ["make", "-f", str(REPO / "functions" / "predict" / "Makefile"), "build-PredictFunction"],
        cwd=tmp_path,
        env={**os.environ, "ARTIFACTS_DIR": str(tmp_path / "out"), "LITELENS_BUNDLE": str(tmp_path / "missing")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"no model bundle at {tmp_path / 'missing'}" in result.stderr
    assert not (tmp_path / "out").exists()
