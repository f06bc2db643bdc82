"""The explain library's own errors. They know nothing of HTTP: a serving layer maps them to answers
(the explain function answers ``NonFiniteOutput`` with 400 ``non_finite_output``)."""

from __future__ import annotations

from typing import Any

from litelens.build.bundle.errors import LitelensError


class ExplainError(LitelensError):
    """An explanation that cannot be given for this input (not a bug in the library)."""


class NonFiniteOutput(ExplainError):
    """The model's output on the explainers' samples around a row is NaN or infinite."""


class Stopped(Exception):
    """``Explanations.explain`` stopped between rows when its ``stop`` callback said so (not an input
    error): ``explanations`` holds the rows done (None for the rest), ``done`` how many were explained."""

    def __init__(self, explanations: list[dict[str, Any] | None], done: int) -> None:
        super().__init__(f"stopped after {done} explanation(s)")
        self.explanations = explanations
        self.done = done
