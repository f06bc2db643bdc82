"""The data plane: decode -> batch -> model -> answer, the one pipeline behind every route that reads rows.

As KServe's ``DataPlane`` sits between its protocol handlers and the model, ``DataPlane(model, settings)``
(built once at cold start) sits between the routes and the ``Model``: a route picks its protocol's
decoder and hands the result to ``predict`` (or the explain side, ``functions/explain/explain_plane.py``),
which answers an ``Answer``: the payload and how many rows it read, for the router's log line.

``plane.decode(request) -> Decoded``
    litelens's own body (``POST /predict``, ``POST /explain``, KServe V1's ``/v1/models/{name}:verb``):
    a JSON object whose top-level keys are ``instances.REQUEST_FIELDS``; the response answered as it is.
``plane.decode_v2(request, explainer=False) -> Decoded``
    the Open Inference Protocol's infer body (``inference_v2``): the path's model name checked, the
    input tensors as rows, the response answered as the requested output tensors. The predict
    function refuses ``parameters.explain`` (the explainer's); the explainer passes the rest of the
    ``parameters`` on as the explain request's.
``plane.predict(request, decoded) -> Answer``
    the batch (with the body's value hints), its answer's size bounded (``check_size``: 413
    ``response_too_large`` over Lambda's response limit, before the model runs), the model's outputs,
    the predictions, encoded.
``plane.batch(body, max_rows, hints)``, ``plane.outputs(batch)``, ``plane.response(batch, outputs)``
    the steps, for the explain side to run the same way: the rows as a ``Batch`` over the card's
    schema; the model's outputs, 400 ``non_finite_output`` when a row's is not finite; the predict
    response ``{"predictions", "model"}``.

Whatever is raised once a batch was read carries its row count (``routing.counting_rows``), so an
error answer logs the rows it read, as a 200 does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litelens.functions.common import answer_size, inference_v2, instances, predictions
from litelens.functions.common.answer_size import Bound
from litelens.functions.common.events import Request
from litelens.functions.common.instances import REQUEST_FIELDS, Batch
from litelens.functions.common.model import Model
from litelens.functions.common.routing import Answer, counting_rows
from litelens.functions.common.settings import Settings

Encode = Callable[[dict[str, Any]], Any]
Measure = Callable[[Batch], Bound]  # an upper bound of the answer's payload bytes for a batch


def _as_is(response: dict[str, Any]) -> dict[str, Any]:
    return response


@dataclass(frozen=True)
class Decoded:
    """A request as the data plane reads it: ``body`` holds the rows (``"instances"`` or ``"inputs"``)
    and the explain ``"parameters"``; ``encode`` turns the response (``{"predictions", "model"}``, and
    ``"explanations"`` from explain) into the protocol's payload; ``measure`` bounds that payload's
    size from the batch (None: litelens's ``{"predictions", "model"}``)."""

    body: Mapping[str, Any]
    encode: Encode = _as_is
    measure: Measure | None = None


class DataPlane:
    """decode -> batch -> model -> answer over one loaded ``model`` (its card read on every call)."""

    def __init__(self, model: Model, settings: Settings) -> None:
        self.model = model
        self.settings = settings

    def decode(self, request: Request) -> Decoded:
        """litelens's body: 415/413/400 from the framing, 400 ``unknown_field`` for a key outside
        ``REQUEST_FIELDS``."""
        body = request.json_object(self.settings.max_body_bytes)
        instances.reject_unknown_fields(body, REQUEST_FIELDS)
        return Decoded(body)

    def decode_v2(self, request: Request, explainer: bool = False) -> Decoded:
        """The V2 infer body of the path's model as rows (``inference_v2.request_body``); its answer the
        requested output tensors, ``explanations`` among them for the ``explainer``."""
        card = self.model.card
        inference_v2.check_model(card, request.path_parameters.get("name"))
        body = request.json_object(self.settings.max_body_bytes)
        if not explainer:
            inference_v2.refuse_explain(body)
        rows, requested = inference_v2.request_body(body, card.schema, self.settings.max_instances)
        inference_v2.check_outputs(card, requested, explainer=explainer)
        if explainer:
            rows["parameters"] = inference_v2.explain_parameters(body)

        def encode(response: dict[str, Any]) -> dict[str, Any]:
            explanations = response.get("explanations")
            outputs = inference_v2.output_tensors(card, response["predictions"], requested, explanations)
            return inference_v2.infer_response(card, outputs, body.get("id"))

        def measure(batch: Batch) -> Bound:
            return answer_size.v2_bound(card, batch.warnings, requested, body.get("id"))

        return Decoded(rows, encode, measure)

    def batch(self, body: Mapping[str, Any], max_rows: int, hints: Mapping[str, bool] | None = None) -> Batch:
        """The body's rows over the card's schema (``instances.parse_instances``; ``hints``: the request's
        ``value_hints()``)."""
        return instances.parse_instances(body, self.model.card.schema, max_rows, **(hints or {}))

    def check_size(self, decoded: Decoded, batch: Batch) -> Bound:
        """413 ``response_too_large`` when the answer to ``batch`` may be over the response limit
        (``answer_size``), before any of it is built; the bound, for what the explain side adds."""
        measure = decoded.measure or (lambda b: answer_size.predict_bound(self.model.card, b.warnings))
        bound = measure(batch)
        bound.check(self.settings.max_response_bytes)
        return bound

    def outputs(self, batch: Batch) -> NDArray[np.float32]:
        """The model's outputs for ``batch``; 400 ``non_finite_output`` naming a row whose output is not finite."""
        outputs = self.model.predict_batch(batch.X)
        predictions.require_finite_outputs(outputs)
        return outputs

    def response(self, batch: Batch, outputs: NDArray[np.float32]) -> dict[str, Any]:
        """The predict response ``{"predictions", "model"}``, each row's warnings in its prediction."""
        return predictions.prediction_response(self.model.card, outputs, batch.warnings)

    def predict(self, request: Request, decoded: Decoded) -> Answer:
        """The predictions of the decoded request's rows, encoded by its protocol."""
        batch = self.batch(decoded.body, self.settings.max_instances, request.value_hints())
        with counting_rows(len(batch)):
            self.check_size(decoded, batch)
            return Answer(decoded.encode(self.response(batch, self.outputs(batch))), len(batch))
