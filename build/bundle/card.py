"""The card (``bundle.json``): what a bundle holds, each field checked, and what its task means.

``BundleCard.from_json(data)`` checks a card as read (``validate``: a ``BundleError`` naming the first
field that is wrong) and gives its task and quantization as the enums ``Task`` and ``Quantization``;
``to_json()`` gives back exactly the JSON the card was read from or written as, which its ``version``
hashes (``versioning``).

``card.schema`` (``schema.Schema``) lists the raw columns a request sends and how each is encoded into
the model's inputs (``features``, in order); a card without one (written before schemas, ``"schema":
null``) serves plain numeric columns named by ``features``. The card keeps bundle.json's ``schema`` as
it was read (``_schema``), so that it writes back, and hashes to, the same bytes.

``predicted_index(task, outputs, threshold)`` is the one rule that names a row's predicted class (the
predict response's label, the class explain explains by default, the build's metrics);
``card.predicted_index(outputs)`` applies it with the card's task and decision threshold.
``n_outputs(task, classes)`` is the width of the model's output (``card.n_outputs``).

Standard library and numpy only: both functions import it at cold start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litelens.build.bundle.errors import LitelensError
from litelens.build.bundle.schema import Schema, SchemaError
from litelens.build.bundle.versioning import FORMAT, FORMATS, VERSION_ID, version_of

CARD_FILE = "bundle.json"
MODEL_FILE = "model.tflite"
SHAP_BACKGROUND_FILE = "shap_background.npy"
SHAP_WEIGHTS_FILE = "shap_background_weights.npy"
LIME_STATS_FILE = "lime_stats.json"
BUNDLE_FILES = (MODEL_FILE, SHAP_BACKGROUND_FILE, SHAP_WEIGHTS_FILE, LIME_STATS_FILE)  # what ``files`` lists


class Task(StrEnum):
    """What the model predicts: one of two classes (its one output is P(classes[1])), one of three or more
    (the class probabilities), or a number. A member is its value as a string: in JSON and f-strings."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"


class Quantization(StrEnum):
    """How the TFLite model stores its weights (``build.export``): float32, float16, dynamic-range int8, int8."""

    NONE = "none"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"
    INT8 = "int8"


class BundleError(LitelensError, ValueError):
    """A bundle that is missing, malformed, or does not match its own card."""


def n_outputs(task: str, classes: Sequence[str] | None) -> int:
    """Width of the model's output: the class count of a multiclass model, 1 for binary and regression."""
    return len(classes) if task == Task.MULTICLASS and classes else 1


def predicted_index(task: str, outputs: ArrayLike, threshold: float = 0.5) -> NDArray[np.intp]:
    """Per row of the model's ``outputs`` (n, columns), the index of its predicted class. Binary: 1
    (classes[1]) when P(classes[1]) >= ``threshold``, compared in float64; P is the last column, the
    model's one output or the second of the explained [P(classes[0]), P(classes[1])]. Multiclass: the
    most probable class. Regression: 0, its one output."""
    values = np.asarray(outputs, dtype=np.float64)
    if task == Task.BINARY:
        return (values[:, -1] >= threshold).astype(np.intp)
    if task == Task.MULTICLASS:
        return values.argmax(axis=1)
    return np.zeros(len(values), dtype=np.intp)


# bundle.json's keys are the card's field names but for "schema", which the card keeps as read in ``_schema``
# and gives parsed as ``BundleCard.schema``.
_KEYS = {"_schema": "schema"}
_OPTIONAL_KEYS = {"format", "extra", "schema", "threshold"}  # a card written before them has none


@dataclass(frozen=True)
class BundleCard:
    """What ``bundle.json`` says about a bundle. ``files`` maps file name -> sha256."""

    name: str
    version: str
    created_at: str
    task: Task
    features: list[str]
    classes: list[str] | None
    target: str
    input_dtype: str
    input_shape: list[int | None]
    metrics: dict[str, Any]
    quantization: Quantization
    training: dict[str, Any]
    libraries: dict[str, str]
    files: dict[str, str]
    format: str = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)
    _schema: dict[str, Any] | None = None  # bundle.json's "schema": schema.Schema.to_json(), or None
    # binary: the served label is classes[1] when P(classes[1]) >= threshold (None: 0.5)
    threshold: float | None = None

    @cached_property
    def schema(self) -> Schema:
        """The raw columns a request sends and their encoding into ``features`` (the model's inputs)."""
        return Schema.from_json(self._schema) if self._schema is not None else Schema.numeric(self.features)

    @property
    def decision_threshold(self) -> float:
        """Binary: the served label is classes[1] when P(classes[1]) is at least this."""
        return 0.5 if self.threshold is None else float(self.threshold)

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_outputs(self) -> int:
        """Width of the model's output: 1 for binary and regression, the class count otherwise."""
        return n_outputs(self.task, self.classes)

    def predicted_index(self, outputs: ArrayLike) -> NDArray[np.intp]:
        """Per row of ``outputs``, the index of the class the predict response labels it with
        (``predicted_index`` by this card's task and decision threshold)."""
        return predicted_index(self.task, outputs, self.decision_threshold)

    def to_json(self) -> dict[str, Any]:
        return {_KEYS.get(key, key): value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BundleCard:
        if not isinstance(data, Mapping):
            raise BundleError(f"{CARD_FILE} must hold a JSON object")
        if data.get("format") not in FORMATS:
            expected = " or ".join(repr(f) for f in FORMATS)
            raise BundleError(f"{CARD_FILE}: unsupported format {str(data.get('format'))[:40]!r} (expected {expected})")
        known = {_KEYS.get(f.name, f.name): f.name for f in fields(cls)}
        missing = sorted(k for k in known.keys() - _OPTIONAL_KEYS if k not in data)
        if missing:
            raise BundleError(f"{CARD_FILE}: missing field(s) {', '.join(missing)}")
        card = cls(**{known[k]: v for k, v in data.items() if k in known})
        card.validate()
        return replace(card, task=card_task(card.task), quantization=card_quantization(card.quantization))

    def validate(self) -> None:
        self._check_types()
        if not VERSION_ID.fullmatch(self.version):
            raise BundleError(f"{CARD_FILE}: version {self.version[:40]!r} is not a version id (letters, digits, -, _)")
        card_task(self.task)
        card_quantization(self.quantization)
        if not self.features or len(set(self.features)) != len(self.features):
            raise BundleError(f"{CARD_FILE}: features must be a non-empty list of unique names")
        if self.task == Task.REGRESSION and self.classes:
            raise BundleError(f"{CARD_FILE}: a regression bundle has no classes")
        if self.task == Task.BINARY and (not self.classes or len(self.classes) != 2):
            raise BundleError(f"{CARD_FILE}: a binary bundle needs exactly 2 classes")
        if self.task == Task.MULTICLASS and (not self.classes or len(self.classes) < 3):
            raise BundleError(f"{CARD_FILE}: a multiclass bundle needs 3 or more classes")
        if set(self.files) != set(BUNDLE_FILES):
            listed, wanted = sorted(self.files), sorted(BUNDLE_FILES)
            raise BundleError(f"{CARD_FILE}: files must list exactly {', '.join(wanted)}, not {', '.join(listed)}")
        bad = [name for name, digest in self.files.items() if not _is_sha256(digest)]
        if bad:
            raise BundleError(f"{CARD_FILE}: files[{bad[0]!r}] is not a sha256 hex digest")
        if self.threshold is not None and (self.task != Task.BINARY or not 0.0 < self.threshold < 1.0):
            raise BundleError(f"{CARD_FILE}: threshold must be a number in (0, 1), and only a binary bundle has one")
        try:
            inputs = self.schema.input_names()
        except SchemaError as exc:
            raise BundleError(f"{CARD_FILE}: schema: {exc}") from None
        if inputs != list(self.features):
            raise BundleError(
                f"{CARD_FILE}: features are not the inputs the schema encodes ({', '.join(inputs[:5])}...)"
            )

    def _check_types(self) -> None:
        """Every field of the type the functions and ``inspect`` read it as (a hand-edited card may not be)."""
        expected: dict[str, tuple[type, ...]] = {
            "name": (str,),
            "version": (str,),
            "created_at": (str,),
            "task": (str,),
            "features": (list,),
            "classes": (list, type(None)),
            "target": (str,),
            "input_dtype": (str,),
            "input_shape": (list,),
            "metrics": (dict,),
            "quantization": (str,),
            "training": (dict,),
            "libraries": (dict,),
            "files": (dict,),
            "format": (str,),
            "extra": (dict,),
            "_schema": (dict, type(None)),
            "threshold": (int, float, type(None)),
        }
        for name, types in expected.items():
            if not isinstance(getattr(self, name), types):
                kinds = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                got = type(getattr(self, name)).__name__
                raise BundleError(f"{CARD_FILE}: {_KEYS.get(name, name)} must be {kinds}, got {got}")
        for name in ("features", "classes"):
            values = getattr(self, name) or []
            if not all(isinstance(v, str) for v in values):
                raise BundleError(f"{CARD_FILE}: {name} must be a list of strings")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.libraries.items()):
            raise BundleError(f"{CARD_FILE}: libraries must map names to version strings")

    def content_version(self) -> str:
        """The version the card hashes to by its format's rule (what ``version`` says when intact)."""
        try:
            return version_of(self.to_json())
        except RecursionError:
            raise BundleError(f"{CARD_FILE}: a field is nested too deeply to hash") from None


def card_task(value: str) -> Task:
    """``value`` as a Task, or the BundleError of a card with that task."""
    if value not in tuple(Task):
        raise BundleError(f"{CARD_FILE}: unknown task {value!r} (expected one of {', '.join(Task)})")
    return Task(value)


def card_quantization(value: str) -> Quantization:
    """``value`` as a Quantization, or the BundleError of a card with that quantization."""
    if value not in tuple(Quantization):
        raise BundleError(f"{CARD_FILE}: unknown quantization {value!r}")
    return Quantization(value)


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
