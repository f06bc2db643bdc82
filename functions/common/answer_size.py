"""How big will the answer be? An upper bound from the batch, before the answer is built; the refusal when it is over.

Lambda answers a synchronous invocation with at most 6 MB (``constants.MAX_RESPONSE_BYTES_DEFAULT``,
``LITELENS_MAX_RESPONSE_BYTES``), counted on the payload its runtime sends: for API Gateway the proxy
response whose ``body`` is the answer's JSON *as a JSON string* (every ``"`` and ``\\`` escaped once
more), for a direct invocation the answer serialized with spaces after ``,`` and ``:``. An answer over
it is a 502 the client cannot act on, after the function has built it in memory (40,000
copies of one V2 output built 362 MB). So the data plane bounds the answer from what it already holds
(the row count, each row's warnings, the outputs requested) and refuses before building it:
413 ``response_too_large`` naming the limit and how many of the batch's first rows fit
(``details.max_rows``).

``Bound(fixed, per_row)``: the bytes of the payload (an upper bound) that do not depend on the row count
and those of each row; ``bound.check(limit)`` raises the 413.
``predict_bound(card, warnings, id_text)`` and ``v2_bound(card, warnings, requested, request_id)``
    litelens's ``{"predictions", "model"}`` and the V2 infer answer's tensors, by the card's task.
``payload_bytes(response)``
    the payload bytes of an answer already encoded (``events.encode_response``'s value), an upper
    bound over both encodings above: the router's backstop for an answer the estimate let through.

Every JSON text is counted in its ASCII-escaped form (``\\uXXXX``: at least as long as UTF-8), every
``"`` and ``\\`` once more (the proxy body's escaping) and every ``,``/``:`` once more (the direct
payload's spaces): never less than either runtime encoding. A number is counted at its longest
(``FLOAT_CHARS``); a string (class name, column, message, request id) at its exact escaped length.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litelens.build.bundle import BundleCard, Task
from litelens.functions.common import constants
from litelens.functions.common.errors import E_RESPONSE_TOO_LARGE, ClientError
from litelens.functions.common.events import dumps
from litelens.functions.common.inference_v2 import EXPLANATIONS, OUTPUTS_BY_TASK

FLOAT_CHARS = 24  # the longest JSON float either encoder writes: -2.2250738585072014e-308
# The proxy response around the body ({"statusCode", "headers", "body", "isBase64Encoded"}): the headers
# are the router's (JSON, CORS); measured for the defaults (~250 bytes), with room for a long CORS origin.
ENVELOPE_BYTES = 2048
_NON_ASCII = bytes(range(128, 256))


@dataclass(frozen=True)
class Text:
    """A JSON text's size: its ASCII-escaped ``chars``, how many are ``"`` or ``\\`` (``escapes``) and
    ``,`` or ``:`` (``separators``)."""

    chars: int
    escapes: int
    separators: int

    @classmethod
    def of(cls, text: str) -> Text:
        return cls(len(text), text.count('"') + text.count("\\"), text.count(",") + text.count(":"))

    @classmethod
    def json(cls, value: Any) -> Text:
        return cls.of(json.dumps(value, separators=(",", ":")))

    @property
    def payload(self) -> int:
        """Its bytes in either payload (see the module docstring)."""
        return self.chars + self.escapes + self.separators


def _string(value: str) -> tuple[int, int]:
    """A string value's (escaped chars, ``"``/``\\`` among them) without its two quotes."""
    text = encode_basestring_ascii(value)
    return len(text) - 2, text.count('"') + text.count("\\") - 2


@dataclass(frozen=True)
class Bound:
    """``fixed`` payload bytes plus ``per_row[i]`` for row ``i``: an upper bound of the whole answer."""

    fixed: int
    per_row: NDArray[np.int64]

    @property
    def total(self) -> int:
        return self.fixed + int(self.per_row.sum())

    def rows_that_fit(self, limit: int) -> int:
        """How many of the first rows fit under ``limit``."""
        return int(np.searchsorted(np.cumsum(self.per_row), limit - self.fixed, side="right"))

    def check(self, limit: int) -> None:
        """413 ``response_too_large`` when the answer may be over ``limit`` bytes."""
        total = self.total
        if total > limit:
            raise too_large(limit, len(self.per_row), self.rows_that_fit(limit), total)


def too_large(limit: int, rows: int | None, fit: int, size: int) -> ClientError:
    """The 413 for an answer of ``size`` bytes over ``limit`` whose first ``fit`` rows fit."""
    of = f"{rows} rows" if rows is not None else "this request"
    return ClientError(
        413,
        E_RESPONSE_TOO_LARGE,
        f"the answer to {of} would be up to {size} bytes, over the {limit}-byte limit of a Lambda "
        f"response ({constants.MAX_RESPONSE_BYTES}); {fit} rows fit: split the batch",
        details={"limit_bytes": limit, "max_rows": fit, "answer_bytes": size},
    )


class _Warnings:
    """The warnings' strings measured once: per row their count and escaped chars and escapes."""

    def __init__(self, warnings: Sequence[Sequence[Mapping[str, str]]]) -> None:
        n = len(warnings)
        self.count = np.zeros(n, dtype=np.int64)
        self.chars = np.zeros(n, dtype=np.int64)
        self.escapes = np.zeros(n, dtype=np.int64)
        if not any(warnings):  # the usual case: nothing to measure
            return
        names: dict[str, tuple[int, int]] = {}  # columns and codes repeat; messages differ
        for i, row in enumerate(warnings):
            if not row:
                continue
            chars = escapes = 0
            for warning in row:
                for key in ("column", "code"):
                    value = warning[key]
                    c, e = names.get(value) or names.setdefault(value, _string(value))
                    chars, escapes = chars + c, escapes + e
                c, e = _string(warning["message"])
                chars, escapes = chars + c, escapes + e
            self.count[i], self.chars[i], self.escapes[i] = len(row), chars, escapes

    def any(self) -> bool:
        return bool(self.count.any())


_WARNING = {"column": "", "code": "", "message": ""}
# litelens's row: ',"warnings":[' ... ']' once, then each warning object and its comma.
_ROW_WARNINGS = Text.of(',"warnings":[]')
_ONE_WARNING = Text.of(json.dumps(_WARNING, separators=(",", ":")) + ",")
# V2's row text: json.dumps of the row's list (", " and ": "), ASCII-escaped, then a JSON string itself.
_V2_WARNING = Text.of(json.dumps(_WARNING) + ", ")


def _longest_class(card: BundleCard) -> str:
    """The class name whose JSON string is the longest in a payload."""
    return max(card.classes or [""], key=lambda c: Text.json(c).payload)


class _PerCard:
    """What a bound needs of a card, computed once per card object (the data plane asks per request;
    the card is immutable, and holding it keeps its ``id`` from being reused)."""

    def __init__(self) -> None:
        self._cards: dict[int, tuple[BundleCard, int, int]] = {}

    def predict_sizes(self, card: BundleCard) -> tuple[int, int]:
        """``(row payload, fixed payload)`` of litelens's predict answer for ``card``."""
        entry = self._cards.get(id(card))
        if entry is None or entry[0] is not card:
            if len(self._cards) > 64:  # a long-lived process that swaps cards (tests): stay small
                self._cards.clear()
            fixed = Text.json({"predictions": [], "model": {"name": card.name, "version": card.version}}).payload
            entry = self._cards[id(card)] = (card, _row(card).payload, fixed + ENVELOPE_BYTES)
        return entry[1], entry[2]


_PER_CARD = _PerCard()


def _row(card: BundleCard) -> Text:
    """One litelens prediction without warnings, and its comma, each number at its longest."""
    number = -2.2250738585072014e-308
    if card.task == Task.BINARY:
        row: dict[str, Any] = {"probability": number, "label": _longest_class(card)}
    elif card.task == Task.MULTICLASS:
        row = {"probabilities": dict.fromkeys(card.classes or (), number), "label": _longest_class(card)}
    else:
        row = {"value": number}
    return Text.of(json.dumps(row, separators=(",", ":")) + ",")


def predict_bound(card: BundleCard, warnings: Sequence[Sequence[Mapping[str, str]]]) -> Bound:
    """``{"predictions": [...], "model": {...}}`` (``predictions.prediction_response``)."""
    row, fixed = _PER_CARD.predict_sizes(card)
    if not any(warnings):  # the usual case: every row the same size
        return Bound(fixed, np.full(len(warnings), row, dtype=np.int64))
    w = _Warnings(warnings)
    has = (w.count > 0).astype(np.int64)
    per_row = (
        row
        + has * _ROW_WARNINGS.payload
        + w.count * _ONE_WARNING.payload
        + w.chars
        + w.escapes  # each string's own escapes, once more in the proxy body
    )
    return Bound(fixed, per_row)


def _v2_warnings(w: _Warnings) -> NDArray[np.int64]:
    """Each row's V2 ``warnings`` element: its JSON text (``[`` ... ``]``) as a JSON string, and a comma."""
    inner_chars = 2 + w.count * _V2_WARNING.chars + w.chars  # the last ", " counted: an upper bound
    inner_escapes = w.count * _V2_WARNING.escapes + w.escapes
    # as a string: each inner " and \ escaped (one more char), two quotes; in the proxy body, every one
    # of those escaped again (the string's chars that are " or \ are 2 + 2 * inner_escapes); a comma.
    chars = inner_chars + inner_escapes + 2 + 1
    escapes = 2 + 2 * inner_escapes
    per_row: NDArray[np.int64] = chars + escapes + 1
    return per_row


def v2_bound(
    card: BundleCard,
    warnings: Sequence[Sequence[Mapping[str, str]]],
    requested: Sequence[str] | None,
    request_id: Any = None,
    explainer: bool = False,
) -> Bound:
    """The V2 infer answer (``inference_v2.output_tensors``, ``infer_response``) without ``explanations``
    (the explain side adds theirs); ``requested``: the checked output names (None: all)."""
    w = _Warnings(warnings)
    n = len(warnings)
    number = FLOAT_CHARS + 2  # the number, its comma, the comma's space in a direct payload
    label = Text.json(_longest_class(card))
    per_output = {
        "probability": np.full(n, number, dtype=np.int64),
        "value": np.full(n, number, dtype=np.int64),
        "probabilities": np.full(n, number * len(card.classes or ()), dtype=np.int64),
        "label": np.full(n, label.payload + 2, dtype=np.int64),
    }
    names = (
        list(requested)
        if requested is not None
        else [name for name in OUTPUTS_BY_TASK[card.task] if name != "warnings" or w.any()]
    )
    per_row = np.zeros(n, dtype=np.int64)
    fixed = 0
    for name in names:
        if name == EXPLANATIONS:
            continue
        per_row += _v2_warnings(w) if name == "warnings" else per_output[name]
        header = {"name": name, "datatype": "BYTES", "shape": [2**63, 2**63], "data": []}
        fixed += Text.json(header).payload + 2
    answer: dict[str, Any] = {"model_name": card.name, "model_version": card.version, "outputs": []}
    if isinstance(request_id, str):
        answer["id"] = request_id
    fixed += Text.of(json.dumps(answer, separators=(",", ":"))).payload
    return Bound(fixed + ENVELOPE_BYTES, per_row)


# Around a proxy response's body: its status, the router's headers (a CORS origin from the environment, which
# Lambda caps at 4 KB in all) and an error's own (Allow, Retry-After): far below this.
MAX_AROUND_BODY = 64 * 1024


def clearly_under(response: Any, limit: int) -> bool:
    """True when a proxy response's payload cannot reach ``limit`` whatever its body holds: one of the
    body's characters adds at most 13 bytes to ``payload_bytes`` (4 UTF-8 bytes, an escape for a ``"``
    or ``\\``, two more for each non-ASCII byte), so 16 per character is a bound. Lets the router skip
    the exact count for the usual small answer."""
    if isinstance(response, dict) and isinstance(response.get("body"), str) and "statusCode" in response:
        return 16 * len(response["body"]) + MAX_AROUND_BODY <= limit
    return False


def payload_bytes(response: Any) -> int:
    """An upper bound of the invocation payload Lambda's runtime sends for ``response``: a proxy
    response's body counted as a JSON string, a direct invocation's payload as JSON with spaces."""
    if isinstance(response, dict) and isinstance(response.get("body"), str) and "statusCode" in response:
        body: bytes = response["body"].encode("utf-8", "surrogatepass")
        around = len(json.dumps({**response, "body": ""}))
        return around + len(body) + body.count(b'"') + body.count(b"\\") + 2 * _non_ascii(body)
    text = dumps(response).encode("utf-8", "surrogatepass")
    spaces = text.count(b",") + text.count(b":")
    exponents = text.count(b"e-") + text.count(b"e+")  # orjson's 1e-8 is the stdlib's 1e-08
    return len(text) + spaces + exponents + 2 * _non_ascii(text)


def _non_ascii(data: bytes) -> int:
    """How many bytes of ``data`` are not ASCII (each may become up to three as ``\\uXXXX``)."""
    return 0 if data.isascii() else len(data) - len(data.translate(None, _NON_ASCII))
