"""The litelens client: a Python library (``api``) and the ``litelens invoke`` command over it.

``from litelens.infra.client import LitelensClient`` is the documented entry point (and
``plot_explanation`` for a figure of an answer); the command's modules (``rows``: what the user gave,
``display``: tables, ``panels``: what a picture shows, ``plot``: matplotlib, ``invoke``: the command)
are imported only by ``litelens invoke``.
"""

from litelens.infra.client.api import (
    ApiError,
    LitelensClient,
    PlotError,
    ServiceError,
    TransportError,
    build_explain_request,
    plot_explanation,
    predict_request,
    retry_after_seconds,
)

__all__ = [
    "ApiError",
    "LitelensClient",
    "PlotError",
    "ServiceError",
    "TransportError",
    "build_explain_request",
    "plot_explanation",
    "predict_request",
    "retry_after_seconds",
]
