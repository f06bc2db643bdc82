"""Fixtures shared by the integration tests that load bundles from S3: one moto server per module
(``endpoint``) and, per test, an empty ``MODEL_BUCKET`` on it with the process's AWS settings pointed
there (``s3``); and by the twin's protocol tests (``test_twin_answers_like_aws.py``, ``_framing``,
``_template``, ``_serve_command``): the stand-in template written once per module (``template_dir``,
tests/support/stand_in_template.py) and the twin serving it (``twin``). A module that needs another
layout defines its own fixtures of these names, as the twin tests over the real template do."""

from __future__ import annotations

from pathlib import Path

import pytest

from litelens.infra.aws.template import SamTemplate
from litelens.infra.local.serve import Twin
from tests.support.moto_s3 import MODEL_BUCKET, empty_s3, moto_s3_server
from tests.support.stand_in_template import ECHO_HANDLER, IMAGE_HANDLER, TEMPLATE


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3_server() as url:
        yield url


@pytest.fixture
def s3(endpoint, monkeypatch):
    return empty_s3(endpoint, MODEL_BUCKET, monkeypatch)


@pytest.fixture(scope="module")
def template_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("twin-template")
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, code in (("echo", ECHO_HANDLER), ("img", IMAGE_HANDLER), ("broken", "raise ImportError('no model')\n")):
        (root / folder).mkdir()
        (root / folder / "app.py").write_text(code)
    (root / "img" / "Dockerfile").write_text("FROM public.ecr.aws/lambda/python:3.12\n")
    return root


@pytest.fixture(scope="module")
def twin(template_dir):
    with Twin(SamTemplate.load(template_dir / "template.yaml"), api_port=0, lambda_port=0) as running:
        yield running
