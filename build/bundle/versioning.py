"""A card's version: the hash of what the card says, by the rules of the card's format.

``litelens.bundle/2`` (written now): ``version`` is the first ``VERSION_HEX_DIGITS`` hex digits of the
sha256 of the card's canonical JSON without its ``version`` field, so it covers every field a reader
or a user sees (name, created_at, metrics, schema, classes, threshold, the sha256 of every file ...).
128 bits: finding another card with the same version (a second preimage) is out of reach, so a
``MODEL_URI`` pinned to ``versions/<v>`` pins the content even without a signature.

``litelens.bundle/1`` (cards written before): 12 hex digits over the files, task, features, classes,
schema and threshold only. Such a card still loads, checked by its own rule, but a loader that
requires signed bundles refuses it (its version leaves out fields users read), and nothing signs it.

``canonical_json(value)`` is the byte form both the version and a signature are computed over:
sorted keys, no whitespace, ASCII, after one JSON round trip (so an in-memory card and the same card
read back from disk give the same bytes). Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

FORMAT_V1 = "litelens.bundle/1"
FORMAT = "litelens.bundle/2"
FORMATS = (FORMAT_V1, FORMAT)
VERSION_HEX_DIGITS = 32
VERSION_FIELD = "version"
# What a version may look like (it names a folder on S3): both formats' hashes fit; "." and ".." do not.
VERSION_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")


def canonical_json(value: Any) -> bytes:
    """The canonical bytes of a JSON value (raises RecursionError for absurdly deep values)."""
    normalized = json.loads(json.dumps(value))  # tuples -> lists, int keys -> str keys, as a reader sees them
    return json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def card_version(card: Mapping[str, Any]) -> str:
    """The ``litelens.bundle/2`` version of a card given as its JSON fields: every field but ``version``."""
    content = {key: value for key, value in card.items() if key != VERSION_FIELD}
    return hashlib.sha256(canonical_json(content)).hexdigest()[:VERSION_HEX_DIGITS]


def legacy_version(
    files: Mapping[str, str],
    task: str,
    features: Sequence[str],
    classes: Sequence[str] | None,
    schema: Mapping[str, Any] | None = None,
    threshold: float | None = None,
) -> str:
    """The ``litelens.bundle/1`` version: files, task, features, classes, schema and threshold only."""
    content: dict[str, Any] = {"files": dict(sorted(files.items())), "task": task, "features": list(features)}
    content["classes"] = classes
    if schema is not None:  # cards written before schemas and thresholds hash as they always did
        content["schema"] = schema
    if threshold is not None:
        content["threshold"] = threshold
    payload = json.dumps(content, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def version_of(card: Mapping[str, Any]) -> str:
    """The version ``card`` (its JSON fields, ``format`` one of ``FORMATS``) hashes to by its format's rule."""
    if card.get("format") == FORMAT_V1:
        return legacy_version(
            card["files"], card["task"], card["features"], card["classes"], card.get("schema"), card.get("threshold")
        )
    return card_version(card)
