"""Fixtures every suite can use: event loading and a fake Lambda context."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest

from tests.support.events import load_event as _load_event

os.environ.setdefault("SAM_CLI_TELEMETRY", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object that litelens reads."""

    function_name: str = "litelens-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 128
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
