"""`sam validate --lint` and cfn-lint accept template.yaml (they run the SAM transform, then lint)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from litelens.infra.aws.template import DEFAULT_TEMPLATE

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
