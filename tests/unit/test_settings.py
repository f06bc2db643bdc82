"""Settings: every variable the functions read, read once, checked at cold start."""

from __future__ import annotations

import dataclasses

import pytest

from litelens.functions.common import constants
from litelens.functions.common.settings import Settings


def test_defaults_are_the_constants_defaults():
    settings = Settings.from_env({}, service="predict")
    assert settings == Settings(service="predict")
    assert settings.max_instances == constants.MAX_INSTANCES_DEFAULT
    assert settings.cors_origin == constants.CORS_ORIGIN_DEFAULT and settings.model_uri == ""


def test_every_variable_reaches_its_field():
    environ = {
        constants.SERVICE_NAME: "credit-predict",
        constants.LOG_LEVEL: "DEBUG",
        constants.METRICS_NAMESPACE: "ns",
        constants.MODEL_URI: " s3://bkt/models/credit ",
        constants.MODEL_CACHE_DIR: "/tmp/cache",
        constants.SIGNING_PUBLIC_KEY: " MFkwEw== \n",
        constants.MIN_PUBLISHED_AT: " 2025-06-01T12:00:00Z ",
        constants.CORS_ORIGIN: "",
        constants.MAX_INSTANCES: "7",
        constants.MAX_BODY_BYTES: "1024",
        constants.MAX_RESPONSE_BYTES: "2048",
        constants.MAX_EXPLAIN_INSTANCES: "3",
        constants.MAX_SHAP_NSAMPLES: "500",
        constants.MAX_LIME_NUM_SAMPLES: "600",
        constants.EXPLAIN_BUDGET_SECONDS: "12.5",
    }
    settings = Settings.from_env(environ, service="predict")
    assert dataclasses.asdict(settings) == {
        "service": "credit-predict",
        "log_level": "DEBUG",
        "metrics_namespace": "ns",
        "model_uri": "s3://bkt/models/credit",
        "model_cache_dir": "/tmp/cache",
        "signing_public_key": "MFkwEw==",
        "min_published_at": "2025-06-01T12:00:00Z",
        "cors_origin": "",
        "max_instances": 7,
        "max_body_bytes": 1024,
        "max_response_bytes": 2048,
        "max_explain_instances": 3,
        "max_shap_nsamples": 500,
        "max_lime_num_samples": 600,
        "explain_budget_seconds": 12.5,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_instances = 8  # read once: nothing changes it per request


@pytest.mark.parametrize(
    ("raw", "message"), [("ten", "is not an integer"), ("0", "must be positive"), ("-3", "must be positive")]
)
def test_a_bad_cap_fails_the_cold_start_naming_the_variable(raw, message):
    with pytest.raises(ValueError, match=f"{constants.MAX_INSTANCES}=.*{message}"):
        Settings.from_env({constants.MAX_INSTANCES: raw})


@pytest.mark.parametrize(
    ("raw", "message"), [("soon", "is not a number"), ("-1", ">= 0"), ("nan", ">= 0"), ("inf", ">= 0")]
)
def test_a_bad_budget_fails_the_cold_start_naming_the_variable(raw, message):
    with pytest.raises(ValueError, match=f"{constants.EXPLAIN_BUDGET_SECONDS}=.*{message}"):
        Settings.from_env({constants.EXPLAIN_BUDGET_SECONDS: raw})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("yesterday", "is not a UTC time like 2025-06-01T12:00:00Z"),
        ("2025-06-01 12:00:00", "is not a UTC time like"),
        ("2025-06-01T12:00:00+02:00", "is not a UTC time like"),
        ("1748779200", "is not a UTC time like"),
        ("2025-13-01T12:00:00Z", "is not a valid UTC time"),
        ("2025-02-30T12:00:00Z", "is not a valid UTC time"),
    ],
)
def test_a_bad_minimum_publish_time_fails_the_cold_start_naming_the_variable(raw, message):
    environ = {constants.SIGNING_PUBLIC_KEY: "MFkwEw==", constants.MIN_PUBLISHED_AT: raw}
    with pytest.raises(ValueError, match=f"{constants.MIN_PUBLISHED_AT}: .*{message}"):
        Settings.from_env(environ)


def test_a_minimum_publish_time_without_a_signing_key_fails_the_cold_start():
    # the time lives in the signature: a minimum with signatures unchecked would protect nothing
    with pytest.raises(ValueError, match=f"{constants.MIN_PUBLISHED_AT} is set but {constants.SIGNING_PUBLIC_KEY}"):
        Settings.from_env({constants.MIN_PUBLISHED_AT: "2025-06-01T12:00:00Z"})
    assert Settings.from_env({constants.MIN_PUBLISHED_AT: "  "}).min_published_at == ""
