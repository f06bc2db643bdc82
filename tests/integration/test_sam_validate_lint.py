"""`sam validate --lint` and cfn-lint accept template.yaml (they run the SAM transform, then lint);
checkov finds nothing on the expanded template but the findings accepted in infra/aws/checkov-skips.yaml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from litelens.infra.aws.template import DEFAULT_TEMPLATE
from tests.support.sam import sam_transform

BIN = Path(sys.executable).parent
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "SAM_CLI_TELEMETRY": "0",
}


def run_tool(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **FAKE_AWS_ENV}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=DEFAULT_TEMPLATE.parent, timeout=300)


@pytest.mark.slow
def test_sam_validate_lint_is_clean():
    result = run_tool(str(BIN / "sam"), "validate", "--lint", "--template-file", str(DEFAULT_TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


@pytest.mark.slow
def test_cfn_lint_is_clean_including_informational_findings():
    result = run_tool(str(BIN / "cfn-lint"), "--info", str(DEFAULT_TEMPLATE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


# -- checkov on what CloudFormation deploys: the SAM-expanded template -------------------------------

CHECKOV = DEFAULT_TEMPLATE.parent / ".venv-checkov" / "bin" / "checkov"
CHECKOV_SKIPS = DEFAULT_TEMPLATE.parent / "infra" / "aws" / "checkov-skips.yaml"


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory) -> dict:
    """checkov's JSON report on the expanded template, run with no skip at all."""
    if not CHECKOV.exists():
        message = f"{CHECKOV} is missing: `make checkov-venv` builds it (`make test` does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder = tmp_path_factory.mktemp("expanded")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        (folder / "template.json").write_text(json.dumps(sam_transform({}), indent=1))
    result = run_tool(
        str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--directory", str(folder), "--output", "json"
    )
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]  # 1: findings
    return json.loads(result.stdout)


def _accepted() -> dict[tuple[str, str], str]:
    skips = yaml.safe_load(CHECKOV_SKIPS.read_text())
    return {(check, resource): entry["reason"] for check, entry in skips.items() for resource in entry["resources"]}


@pytest.mark.slow
def test_checkov_finds_nothing_but_the_accepted_findings_each_with_its_reason(checkov_report):
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] > 10
    assert summary["passed"] > 30  # it really checked the resources
    failed = {(c["check_id"], c["resource"]) for c in checkov_report["results"]["failed_checks"]}
    accepted = _accepted()
    unlisted = sorted(failed - set(accepted))
    assert not unlisted, f"fix these or accept them in {CHECKOV_SKIPS.name} with a reason: {unlisted}"
    stale = sorted(set(accepted) - failed)
    assert not stale, f"these no longer fail: remove them from {CHECKOV_SKIPS.name}: {stale}"
    for key, reason in accepted.items():
        assert len(reason.split()) >= 10, key  # a reason, not a placeholder


@pytest.mark.slow
def test_checkov_passes_what_the_template_now_sets(checkov_report):
    # the findings the reserved concurrency and the access log fixed stay fixed
    passed = {(c["check_id"], c["resource"]) for c in checkov_report["results"]["passed_checks"]}
    assert ("CKV_AWS_76", "AWS::ApiGateway::Stage.LitelensApiStage") in passed  # access logging
    for function in ("PredictFunction", "ExplainFunction"):
        assert ("CKV_AWS_115", f"AWS::Lambda::Function.{function}") in passed  # concurrency limit
