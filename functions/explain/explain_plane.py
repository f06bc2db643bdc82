"""The explain side of the data plane: the predict steps of ``common.dataplane``, then the explanations.

``ExplainPlane(plane, explanations, caps, budget, background_rows).explain(request, decoded) -> Answer``
    For a request decoded by the data plane (``plane.decode`` or ``plane.decode_v2(explainer=True)``):
    the ``parameters`` (``request.parse_parameters``), the batch (as many rows as ``max_rows`` lets
    through), the predictions' size bounded (``plane.check_size``: 413 ``response_too_large``; the
    explanations, at most ``caps.instances`` rows, are counted by the router's backstop), the model's
    outputs, the rows to explain (``select_rows``), the estimate checked against the ``budget`` (400
    ``over_budget``), then the explanations of those rows with the invocation's
    deadline asked between rows: when it is reached, 503 ``deadline_exceeded`` with the predictions
    and the explanations done so far (``budget.deadline_exceeded``). The answer is the predict
    response plus ``"explanations"``, encoded by the request's protocol.
"""

from __future__ import annotations

from litelens.explain.errors import Stopped
from litelens.explain.service import Explanations
from litelens.functions.common.dataplane import DataPlane, Decoded
from litelens.functions.common.events import Request
from litelens.functions.common.routing import Answer, counting_rows
from litelens.functions.explain.budget import Budget, deadline_exceeded, request_work
from litelens.functions.explain.request import Caps, max_rows, parse_parameters, select_rows


class ExplainPlane:
    """The explain pipeline over the data plane's model; everything here is built once, at cold start."""

    def __init__(
        self, plane: DataPlane, explanations: Explanations, caps: Caps, budget: Budget, background_rows: int
    ) -> None:
        self.plane = plane
        self.explanations = explanations
        self.caps = caps
        self.budget = budget
        self.background_rows = background_rows  # the rows SHAP evaluates each coalition on

    def explain(self, request: Request, decoded: Decoded) -> Answer:
        """The predictions and explanations of the decoded request's rows (see the module docstring)."""
        card = self.plane.model.card
        params = parse_parameters(decoded.body.get("parameters"), card, self.caps)
        batch = self.plane.batch(decoded.body, max_rows(params, self.caps, self.plane.settings.max_instances))
        with counting_rows(len(batch)):
            self.plane.check_size(decoded, batch)  # the predictions' part; the router checks the whole answer
            outputs = self.plane.outputs(batch)
            columns = self.explanations.to_output_columns(outputs)
            rows = select_rows(params.explain_if, card, columns, self.caps)
            work = request_work(params, card, self.background_rows)
            self.budget.check(len(rows), work, request.context)
            deadline = self.budget.deadline(request.context, work)
            response = self.plane.response(batch, outputs)
            try:
                response["explanations"] = self.explanations.explain(
                    batch.Z, columns, rows, params, stop=deadline.reached if deadline else None
                )
            except Stopped as stopped:
                partial = response | {"explanations": stopped.explanations}
                raise deadline_exceeded(stopped.done, len(rows), partial) from None
            return Answer(decoded.encode(response), len(batch))
