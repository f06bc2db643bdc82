"""schemathesis runs the served OpenAPI document against `litelens serve`: a bounded number of examples
per route (its coverage, fuzzing and stateful phases, positive and negative data), and finds no server
error and no answer that breaks the document (status codes, content types, response schemas)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from litelens.functions.common import constants
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from litelens.infra.local.serve import Twin

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = REPO / ".venv" / "bin" / "schemathesis"
CONFIG = REPO / "tests" / "clients" / "schemathesis.toml"
MAX_EXAMPLES = 5  # per operation and phase: ~1600 requests, ~1 minute on a busy 2-core host
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
API_KEY = "schemathesis-key"
# Small explain caps keep each generated explain request cheap; the document states them (one source).
SMALL_CAPS = {
    constants.MAX_SHAP_NSAMPLES: "64",
    constants.MAX_LIME_NUM_SAMPLES: "200",
    constants.MAX_EXPLAIN_INSTANCES: "2",
    constants.MAX_INSTANCES: "50",
    constants.LOG_LEVEL: "ERROR",
}


@pytest.mark.parametrize("bundle_fixture", ["binary_bundle", "mixed_bundle"])
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(bundle_fixture, request):
    bundle = request.getfixturevalue(bundle_fixture)
    env = {constants.MODEL_URI: str(bundle), **SMALL_CAPS}
    template = SamTemplate.load(DEFAULT_TEMPLATE)
    with Twin(template, env_overrides=env, api_port=0, lambda_port=0, api_key=API_KEY) as twin:
        command = [str(SCHEMATHESIS), "--config-file", str(CONFIG), "--no-color", "run", f"{twin.api_url}/openapi.json"]
        command += ["--header", f"x-api-key: {API_KEY}", "--max-examples", str(MAX_EXAMPLES), "--seed", "1"]
        command += ["--checks", CHECKS, "--request-timeout", "120", "--max-failures", "20"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1500, cwd=REPO)
    report = done.stdout
    assert done.returncode == 0, report[-8000:] + done.stderr[-2000:]
    # every operation of the document was tested, and the run generated real traffic
    operations = re.search(r"Operations:\s+(\d+) selected / (\d+) total", report)
    tested = re.search(r"Tested: (\d+)", report)
    cases = re.search(r"(\d+) generated, (\d+) passed", report)
    assert operations and tested and cases, report[-4000:]
    assert int(tested.group(1)) == int(operations.group(2)) >= 10
    assert int(cases.group(1)) == int(cases.group(2)) > 100 * int(tested.group(1))
