"""The litelens client: a Python library (``api``) and the ``litelens invoke`` command over it.

``from litelens.infra.client import LitelensClient`` is the documented entry point; the command's
modules (``rows``: what the user gave, ``display``: tables and plots, ``invoke``: the command) are
imported only by ``litelens invoke``.
"""

from litelens.infra.client.api import (
    ApiError,
    LitelensClient,
    LitelensError,
    TransportError,
    build_explain_request,
    predict_request,
    retry_after_seconds,
)

__all__ = [
    "ApiError",
    "LitelensClient",
    "LitelensError",
    "TransportError",
    "build_explain_request",
    "predict_request",
    "retry_after_seconds",
]
