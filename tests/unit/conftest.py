"""Fixtures of the unit tier's signing tests (test_bundle_signing, test_bundle_rollback)."""

from __future__ import annotations

import pytest

from tests.support.signing import new_key, signed_structural_bundle


@pytest.fixture(scope="module")
def key():
    """A fresh ECDSA P-256 signing key, one per test module."""
    return new_key()


@pytest.fixture
def signed_dir(tmp_path, key):
    """A structural bundle in ``tmp_path`` signed with ``key``."""
    return signed_structural_bundle(tmp_path / "tiny", key)
