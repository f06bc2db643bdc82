"""Fixtures shared by the integration tests that load bundles from S3: one moto server per module
(``endpoint``) and, per test, an empty ``MODEL_BUCKET`` on it with the process's AWS settings pointed
there (``s3``). A module that needs another layout defines its own fixtures of these names."""

from __future__ import annotations

import pytest

from tests.support.moto_s3 import MODEL_BUCKET, empty_s3, moto_s3_server


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3_server() as url:
        yield url


@pytest.fixture
def s3(endpoint, monkeypatch):
    return empty_s3(endpoint, MODEL_BUCKET, monkeypatch)
