"""The functions' settings: one frozen object, read from the environment once, at cold start.

``Settings.from_env(service=...)`` reads every variable named in ``constants`` (with its default)
and checks it; a bad value (``LITELENS_MAX_INSTANCES=ten``, a ``LITELENS_MIN_PUBLISHED_AT`` that is not a
UTC time like 2025-06-01T12:00:00Z or is set without ``LITELENS_SIGNING_PUBLIC_KEY``) is a ``ValueError``
that fails the init. The handler module builds it at import and passes it on (router, logger, parsers, loader),
so nothing reads the environment per request and every setting is visible in one place.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from litelens.functions.common import constants


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The variable's value, or ``default`` when unset."""
    return (os.environ if environ is None else environ).get(name, default)


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """The variable as a positive int, or ``default`` when unset; a bad value is a config error."""
    raw = env_str(name, "", environ).strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be positive")
    return value


def env_seconds(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """The variable as a finite number of seconds >= 0, or ``default`` when unset; a bad value is a config error."""
    raw = env_str(name, "", environ).strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}={raw!r} must be a finite number of seconds >= 0")
    return value


def env_published_at(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable as a UTC publish time (``build.bundle.signing.parse_published_at``), or "" when unset;
    a bad value is a config error."""
    raw = env_str(name, "", environ).strip()
    if raw:
        from litelens.build.bundle.signing import parse_published_at  # only when set: settings stay light

        try:
            parse_published_at(raw)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything a function reads from its environment (``constants`` names the variables)."""

    service: str = "litelens"
    log_level: str = constants.LOG_LEVEL_DEFAULT
    metrics_namespace: str = constants.METRICS_NAMESPACE_DEFAULT
    model_uri: str = ""  # empty: the bundle packaged next to the function code
    model_cache_dir: str = constants.MODEL_CACHE_DIR_DEFAULT
    signing_public_key: str = ""  # set: serve only a bundle whose card this key signed
    min_published_at: str = ""  # set: and signed as published no earlier (unless MODEL_URI pins its version)
    cors_origin: str = constants.CORS_ORIGIN_DEFAULT  # empty: no CORS headers
    max_instances: int = constants.MAX_INSTANCES_DEFAULT
    max_body_bytes: int = constants.MAX_BODY_BYTES_DEFAULT
    max_response_bytes: int = constants.MAX_RESPONSE_BYTES_DEFAULT
    max_explain_instances: int = constants.MAX_EXPLAIN_INSTANCES_DEFAULT
    max_shap_nsamples: int = constants.MAX_SHAP_NSAMPLES_DEFAULT
    max_lime_num_samples: int = constants.MAX_LIME_NUM_SAMPLES_DEFAULT
    explain_budget_seconds: float = constants.EXPLAIN_BUDGET_SECONDS_DEFAULT  # 0: a share of the time limit

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, service: str = "litelens") -> Settings:
        """The settings in ``environ`` (default: the process environment); ``service`` names the
        function when ``LITELENS_SERVICE`` is unset."""

        def number(name: str, default: int) -> int:
            return env_int(name, default, environ)

        signing_public_key = env_str(constants.SIGNING_PUBLIC_KEY, "", environ).strip()
        min_published_at = env_published_at(constants.MIN_PUBLISHED_AT, environ)
        if min_published_at and not signing_public_key:
            raise ValueError(
                f"{constants.MIN_PUBLISHED_AT} is set but {constants.SIGNING_PUBLIC_KEY} is not: the publish "
                "time is read from the bundle's signature, so set the key (BundleSigningPublicKey) too"
            )
        return cls(
            service=env_str(constants.SERVICE_NAME, service, environ) or service,
            log_level=env_str(constants.LOG_LEVEL, constants.LOG_LEVEL_DEFAULT, environ),
            metrics_namespace=env_str(constants.METRICS_NAMESPACE, constants.METRICS_NAMESPACE_DEFAULT, environ),
            model_uri=env_str(constants.MODEL_URI, "", environ).strip(),
            model_cache_dir=env_str(constants.MODEL_CACHE_DIR, constants.MODEL_CACHE_DIR_DEFAULT, environ),
            signing_public_key=signing_public_key,
            min_published_at=min_published_at,
            cors_origin=env_str(constants.CORS_ORIGIN, constants.CORS_ORIGIN_DEFAULT, environ),
            max_instances=number(constants.MAX_INSTANCES, constants.MAX_INSTANCES_DEFAULT),
            max_body_bytes=number(constants.MAX_BODY_BYTES, constants.MAX_BODY_BYTES_DEFAULT),
            max_response_bytes=number(constants.MAX_RESPONSE_BYTES, constants.MAX_RESPONSE_BYTES_DEFAULT),
            max_explain_instances=number(constants.MAX_EXPLAIN_INSTANCES, constants.MAX_EXPLAIN_INSTANCES_DEFAULT),
            max_shap_nsamples=number(constants.MAX_SHAP_NSAMPLES, constants.MAX_SHAP_NSAMPLES_DEFAULT),
            max_lime_num_samples=number(constants.MAX_LIME_NUM_SAMPLES, constants.MAX_LIME_NUM_SAMPLES_DEFAULT),
            explain_budget_seconds=env_seconds(
                constants.EXPLAIN_BUDGET_SECONDS, constants.EXPLAIN_BUDGET_SECONDS_DEFAULT, environ
            ),
        )
