"""What is wrong with the training input, collected so that one run reports every problem at once.

``BuildInputError`` is one problem the user can fix (file, column, row, task or option). Reading a CSV
collects into :class:`Problems`: *errors* (fatal: nothing is trained) and *notes* (what the build decided
for the user: a dropped index column, an excluded column, an encoding fallback). ``Problems.check()``
raises :class:`BuildProblems`, one line per error, carrying the notes so they are printed too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from litelens.build.bundle.errors import LitelensError

QUOTE_CHARS = 40  # at most this much of a cell is quoted in a message
EXAMPLES = 3  # rows quoted per problem


class BuildInputError(LitelensError, ValueError):
    """Bad training input (file, column, row, task or option): the user can fix it."""


class BuildProblems(BuildInputError):
    """Every fatal problem of one input, one per line (``problems``), and the run's ``notes``."""

    def __init__(self, problems: Sequence[str], notes: Sequence[str] = ()) -> None:
        self.problems, self.notes = list(problems), list(notes)
        super().__init__("\n".join(self.problems))


class Problems:
    """Collects errors and notes while the input is read; ``check()`` raises when an error was found."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.notes: list[str] = []

    def error(self, message: str) -> None:
        self.errors.append(message)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def check(self) -> None:
        if self.errors:
            raise BuildProblems(self.errors, self.notes)


def quote(cell: object) -> str:
    """``repr`` of a cell, cut to about ``QUOTE_CHARS`` characters."""
    text = str(cell)
    return repr(text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 3] + "...")


def cell_examples(rows: np.ndarray, cells: Sequence[object], lines: Sequence[int]) -> str:
    """``row 7: 'abc', row 9: 'x'`` for the first examples (``lines``: each example's line in the file)."""
    return ", ".join(
        f"row {line}: {quote(cell)}" for line, cell in zip(lines[:EXAMPLES], cells[:EXAMPLES], strict=False)
    )
