"""The twin's log (``litelens.twin``): every field a client can reach is written escaped.

A request path, header, method or message may carry terminal control sequences (ESC ``[31m``, an
OSC title or hyperlink, BEL) or a CR/LF that would forge a log line. ``log`` is the one logger of
every twin module, and its filter rewrites each record before any handler sees it: every argument
that is not a number is replaced by its text with control characters escaped as ``\\xNN`` (C0, DEL,
C1) or ``\\uNNNN`` (the line and paragraph separators, bidirectional overrides and isolates). A
traceback (``log.exception``, a handler's stack) keeps its line breaks and has every other control
character escaped.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger("litelens.twin")

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_LF = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control character escaped (nothing a terminal acts on, no line break)."""
    return _CONTROLS.sub(_escape, text)


def printable_lines(text: str) -> str:
    """``text`` with every control character but LF escaped: a traceback, still one frame a line."""
    return _CONTROLS_BUT_LF.sub(_escape, text)


class Traceback(str):
    """A log argument that is a traceback: escaped keeping its line breaks."""

    __slots__ = ()


class _Escaped:
    """A log argument whose ``%s`` and ``%r`` are escaped."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __str__(self) -> str:
        return printable(str(self._value))

    def __repr__(self) -> str:
        return printable(repr(self._value))


def _escaped_argument(value: Any) -> Any:
    if isinstance(value, (int, float)):  # bool included: %d and %.1f still work on them
        return value
    if isinstance(value, Traceback):
        return printable_lines(value)
    return _Escaped(value)


class EscapeControls(logging.Filter):
    """Escapes every argument of a record (and its traceback) before it is formatted."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_escaped_argument(value) for value in record.args)
        elif record.args:  # one mapping argument: log.info("%(path)s", {"path": ...})
            record.args = {key: _escaped_argument(value) for key, value in dict(record.args).items()}
        if not isinstance(record.msg, str):
            record.msg = _Escaped(record.msg)
        elif not record.args:  # not %-formatted: the message is the field
            record.msg = printable(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = printable_lines(self._formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = printable_lines(record.stack_info)
        return True


if not any(isinstance(existing, EscapeControls) for existing in log.filters):
    log.addFilter(EscapeControls())
