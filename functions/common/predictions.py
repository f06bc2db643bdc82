"""Model outputs to answers: prediction objects, the metadata of ``GET /metadata``. No event knowledge.

``require_finite_outputs(outputs)``, ``format_predictions(card, outputs, warnings)``,
``prediction_response(card, outputs, warnings)``, ``model_info(card)``, ``card_metadata(card)``
    Binary: ``{"probability": P(classes[1]), "label"}`` (label ``classes[1]`` when P >= the card's
    decision threshold); multiclass: ``{"probabilities": {class: p}, "label"}`` (the label of either by
    ``card.predicted_index``, the rule explain selects and explains by); regression:
    ``{"value"}``; each with ``"warnings"`` (from ``instances.Batch``) when its row has any.
    ``card_metadata`` is the card without file hashes, its schema and threshold included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litelens.build.bundle import BundleCard, Task
from litelens.functions.common.errors import E_NON_FINITE_OUTPUT, bad_request


def require_finite_outputs(outputs: NDArray[np.float32]) -> None:
    """400 ``non_finite_output`` naming the rows whose model output is NaN or infinite.

    Finite float32 inputs far outside the training range can overflow the network; such a row has
    no prediction (a multiclass argmax over NaN would still name a class), so the request is refused
    rather than answered with a made-up label."""
    finite = np.isfinite(outputs).reshape(len(outputs), -1).all(axis=1)
    if finite.all():
        return
    bad = np.flatnonzero(~finite).tolist()
    listed = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    raise bad_request(
        E_NON_FINITE_OUTPUT,
        f"the model's output for instance {listed} is not finite (NaN or infinity): "
        "its feature values are far outside what the model was trained on",
    )


def _finite_or_none(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def format_predictions(
    card: BundleCard, outputs: NDArray[np.float32], warnings: Sequence[Sequence[Mapping[str, str]]] | None = None
) -> list[dict[str, Any]]:
    """One prediction object per row of the model's ``outputs`` (n, n_outputs), by the card's task;
    ``warnings`` (one list per row, ``Batch.warnings``) go into the rows that have any."""
    classes = card.classes or []
    if card.task == Task.BINARY:
        labels = card.predicted_index(outputs).tolist()
        probabilities = _finite_or_none(outputs[:, 0].astype(np.float64).tolist())
        predictions = [
            {"probability": p, "label": None if p is None else classes[k]}
            for p, k in zip(probabilities, labels, strict=True)
        ]
    elif card.task == Task.MULTICLASS:
        labels = card.predicted_index(outputs).tolist()
        predictions = [
            {"probabilities": dict(zip(classes, _finite_or_none(row), strict=True)), "label": classes[k]}
            for row, k in zip(outputs.astype(np.float64).tolist(), labels, strict=True)
        ]
    else:
        predictions = [{"value": v} for v in _finite_or_none(outputs[:, 0].astype(np.float64).tolist())]
    for prediction, row_warnings in zip(predictions, warnings or (), strict=False):
        if row_warnings:
            prediction["warnings"] = list(row_warnings)
    return predictions


def model_info(card: BundleCard) -> dict[str, str]:
    return {"name": card.name, "version": card.version}


def prediction_response(
    card: BundleCard, outputs: NDArray[np.float32], warnings: Sequence[Sequence[Mapping[str, str]]] | None = None
) -> dict[str, Any]:
    """``{"predictions": [...], "model": {"name", "version"}}``."""
    return {"predictions": format_predictions(card, outputs, warnings), "model": model_info(card)}


def card_metadata(card: BundleCard) -> dict[str, Any]:
    """What ``GET /metadata`` answers: the card without file hashes and build internals. ``schema``:
    the raw columns a request sends (kind, levels or range, missing) and the excluded ones with their
    reasons; ``threshold``: a binary model's decision threshold (None otherwise)."""
    return {
        "name": card.name,
        "version": card.version,
        "created_at": card.created_at,
        "task": card.task,
        "features": list(card.features),
        "schema": card.schema.to_json(),
        "classes": list(card.classes) if card.classes else None,
        "threshold": card.decision_threshold if card.task == Task.BINARY else None,
        "target": card.target,
        "input": {"dtype": card.input_dtype, "shape": list(card.input_shape)},
        "metrics": card.metrics,
        "quantization": card.quantization,
        "format": card.format,
    }
