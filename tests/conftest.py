"""Fixtures every suite can use: event loading, a fake Lambda context, the client's transport faked,
and trained bundles."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.events import load_event as _load_event

os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that litelens reads."""

    function_name: str = "litelens-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 2048  # the explain function's default (template.yaml); explain prices CPU by it
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:litelens-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/litelens-test"
    log_stream_name: str = "2026/11/28/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def load_event():
    return _load_event


# --- the client's transport, faked (`litelens invoke` without a server) ----------------------------


@pytest.fixture
def fake_send(monkeypatch):
    """Replace the HTTP transport: record what would be sent, answer from a queue."""
    from litelens.infra.client import LitelensClient

    sent: list = []
    answers: list = []

    def send(self, route, request):
        sent.append((self.url, self.api_key, route, request))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(LitelensClient, "send", send)
    monkeypatch.setattr(LitelensClient, "predict", lambda self, instances=None, inputs=None: send(
        self, "predict", {"instances": instances} if inputs is None else {"inputs": inputs}))  # fmt: skip
    return sent, answers


# --- trained model bundles (built by build/'s pipeline) --------------------------------------------
# Built once per session under tmp_path_factory; TensorFlow is imported only when one is requested.
# A test that needs one (directly or through another fixture) trains a model: it is marked slow and
# belongs in tests/functional/ (or tests/integration/ if it also starts a server). tests/unit/ trains
# nothing, so `make test-fast` (`pytest tests/unit`) runs in seconds: a unit test that asks for one
# fails, naming where it goes.
# Schemas: tests/support/bundles.py. Treat them as read-only (copy before tampering).


@pytest.fixture(scope="session")
def binary_bundle(tmp_path_factory):
    from tests.support.bundles import make_test_bundle

    return make_test_bundle(tmp_path_factory.mktemp("bundles") / "binary", "binary")


@pytest.fixture(scope="session")
def multiclass_bundle(tmp_path_factory):
    from tests.support.bundles import make_test_bundle

    return make_test_bundle(tmp_path_factory.mktemp("bundles") / "multiclass", "multiclass")


@pytest.fixture(scope="session")
def regression_bundle(tmp_path_factory):
    from tests.support.bundles import make_test_bundle

    return make_test_bundle(tmp_path_factory.mktemp("bundles") / "regression", "regression")


@pytest.fixture(scope="session")
def synthetic_bundle(tmp_path_factory):
    """100-feature binary bundle on build.synthetic's data (known additive truth), trained to recover it."""
    from tests.support.bundles import make_synthetic_bundle

    return make_synthetic_bundle(tmp_path_factory.mktemp("bundles") / "synthetic")


@pytest.fixture(scope="session")
def mixed_bundle(tmp_path_factory):
    """Binary bundle over raw columns of every kind (tests/support/bundles.py: MIXED_SCHEMA)."""
    from tests.support.bundles import make_mixed_bundle

    return make_mixed_bundle(tmp_path_factory.mktemp("bundles") / "mixed")


@pytest.fixture(scope="session")
def wide_bundle(tmp_path_factory):
    """Binary bundle over 500 numeric columns, trained one epoch: explanations of it are costly."""
    from tests.support.bundles import make_wide_bundle

    return make_wide_bundle(tmp_path_factory.mktemp("bundles") / "wide")


TRAINED_BUNDLES = frozenset(
    {"binary_bundle", "multiclass_bundle", "regression_bundle", "synthetic_bundle", "mixed_bundle", "wide_bundle"}
)


UNIT_TIER = Path(__file__).resolve().parent / "unit"


def pytest_collection_modifyitems(items):
    for item in items:
        if TRAINED_BUNDLES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_runtest_setup(item):
    # runs before the item's fixtures: a misplaced test fails without training anything
    trained = sorted(TRAINED_BUNDLES & set(getattr(item, "fixturenames", ())))
    if trained and item.path.resolve().is_relative_to(UNIT_TIER):
        pytest.fail(f"{item.nodeid} trains a model ({', '.join(trained)}): move it to tests/functional/", pytrace=False)


# --- end of trained model bundles -------------------------------------------------------------------
