"""The model bundle: the one contract between the offline build and the Lambda functions.

A bundle is a folder::

    bundle.json                  the card: task, column schema, model inputs, classes, metrics, versions,
                                 sha256 of every file
    model.tflite                 the model (float inputs/outputs, raw feature units: scaling is inside)
    shap_background.npy          representative training rows in column space, shape (K, n_columns), float64
    shap_background_weights.npy  their weights, shape (K,), summing to 1
    lime_stats.json              LimeTabularExplainer's ``training_data_stats`` per column
    bundle.sig.json              optional: the card's signature (``signing``; ``litelens publish --sign-key``)

The card's ``version`` is a hash of the card itself (``versioning``: every field in a
``litelens.bundle/2`` card; a ``litelens.bundle/1`` card, written before, by its older rule).

The card's ``schema`` (``schema.Schema``) lists the raw columns a request sends and how each is
encoded into the model's inputs (``features``, in order); a card without one (written before
schemas) serves plain numeric columns named by ``features``.

Every array is a plain ``.npy`` (read with ``allow_pickle=False``); nothing is pickled. This module
needs only the standard library and numpy: both functions import it at cold start.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from litelens.build.bundle.errors import LitelensError
from litelens.build.bundle.schema import Schema, SchemaError
from litelens.build.bundle.versioning import FORMAT, FORMATS, VERSION_ID, version_of

CARD_FILE = "bundle.json"
MODEL_FILE = "model.tflite"
SHAP_BACKGROUND_FILE = "shap_background.npy"
SHAP_WEIGHTS_FILE = "shap_background_weights.npy"
LIME_STATS_FILE = "lime_stats.json"
SIGNATURE_FILE = "bundle.sig.json"  # beside the card; not listed in it (it signs the card)

# Published bundles on S3 (written by `litelens publish`, read by the functions' loader):
#   s3://bucket/prefix/versions/<version>/<every bundle file>   immutable, one folder per version
#   s3://bucket/prefix/latest.json  {"version": ..., "name": ..., "published_at": ...}, written last
# MODEL_URI may name the prefix (follow latest.json) or one version folder (has bundle.json).
S3_VERSIONS_DIR = "versions"
S3_LATEST_POINTER = "latest.json"

# Size caps a reader enforces before it reads (a Lambda has 512 MB of /tmp and 256 MB-10 GB of memory):
# the latest.json pointer, the card, any one bundle file, and a whole bundle.
MAX_POINTER_BYTES = 64 * 1024
MAX_CARD_BYTES = 8 * 1024 * 1024
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_BUNDLE_BYTES = 400 * 1024 * 1024

TASKS = ("binary", "multiclass", "regression")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
# The keys LimeTabularExplainer's training_data_stats requires, each a {feature index: value} map.
LIME_STATS_KEYS = ("means", "mins", "maxs", "stds", "feature_values", "feature_frequencies", "bins")


class BundleError(LitelensError, ValueError):
    """A bundle that is missing, malformed, or does not match its own card."""


@dataclass(frozen=True)
class BundleCard:
    """What ``bundle.json`` says about a bundle. ``files`` maps file name -> sha256."""

    name: str
    version: str
    created_at: str
    task: str
    features: list[str]
    classes: list[str] | None
    target: str
    input_dtype: str
    input_shape: list[int | None]
    metrics: dict[str, Any]
    quantization: str
    training: dict[str, Any]
    libraries: dict[str, str]
    files: dict[str, str]
    format: str = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | None = None  # schema.Schema.to_json(); None: numeric columns named by features
    # binary: the served label is classes[1] when P(classes[1]) >= threshold (None: 0.5)
    threshold: float | None = None

    @cached_property
    def columns(self) -> Schema:
        """The raw columns a request sends and their encoding into ``features`` (the model's inputs)."""
        return Schema.from_json(self.schema) if self.schema is not None else Schema.numeric(self.features)

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
        return len(self.classes) if self.task == "multiclass" and self.classes else 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BundleCard:
        if not isinstance(data, Mapping):
            raise BundleError(f"{CARD_FILE} must hold a JSON object")
        if data.get("format") not in FORMATS:
            expected = " or ".join(repr(f) for f in FORMATS)
            raise BundleError(f"{CARD_FILE}: unsupported format {str(data.get('format'))[:40]!r} (expected {expected})")
        known = {f for f in cls.__dataclass_fields__}
        missing = sorted(k for k in known - {"format", "extra", "schema", "threshold"} if k not in data)
        if missing:
            raise BundleError(f"{CARD_FILE}: missing field(s) {', '.join(missing)}")
        card = cls(**{k: v for k, v in data.items() if k in known})
        card.validate()
        return card

    def validate(self) -> None:
        self._check_types()
        if not VERSION_ID.fullmatch(self.version):
            raise BundleError(f"{CARD_FILE}: version {self.version[:40]!r} is not a version id (letters, digits, -, _)")
        if self.task not in TASKS:
            raise BundleError(f"{CARD_FILE}: unknown task {self.task!r} (expected one of {', '.join(TASKS)})")
        if self.quantization not in QUANTIZATIONS:
            raise BundleError(f"{CARD_FILE}: unknown quantization {self.quantization!r}")
        if not self.features or len(set(self.features)) != len(self.features):
            raise BundleError(f"{CARD_FILE}: features must be a non-empty list of unique names")
        if self.task == "regression" and self.classes:
            raise BundleError(f"{CARD_FILE}: a regression bundle has no classes")
        if self.task == "binary" and (not self.classes or len(self.classes) != 2):
            raise BundleError(f"{CARD_FILE}: a binary bundle needs exactly 2 classes")
        if self.task == "multiclass" and (not self.classes or len(self.classes) < 3):
            raise BundleError(f"{CARD_FILE}: a multiclass bundle needs 3 or more classes")
        if set(self.files) != set(BUNDLE_FILES):
            listed, wanted = sorted(self.files), sorted(BUNDLE_FILES)
            raise BundleError(f"{CARD_FILE}: files must list exactly {', '.join(wanted)}, not {', '.join(listed)}")
        bad = [name for name, digest in self.files.items() if not _is_sha256(digest)]
        if bad:
            raise BundleError(f"{CARD_FILE}: files[{bad[0]!r}] is not a sha256 hex digest")
        if self.threshold is not None and (self.task != "binary" or not 0.0 < self.threshold < 1.0):
            raise BundleError(f"{CARD_FILE}: threshold must be a number in (0, 1), and only a binary bundle has one")
        try:
            inputs = self.columns.input_names()
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
            "schema": (dict, type(None)),
            "threshold": (int, float, type(None)),
        }
        for name, types in expected.items():
            if not isinstance(getattr(self, name), types):
                kinds = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise BundleError(f"{CARD_FILE}: {name} must be {kinds}, got {type(getattr(self, name)).__name__}")
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


BUNDLE_FILES = (MODEL_FILE, SHAP_BACKGROUND_FILE, SHAP_WEIGHTS_FILE, LIME_STATS_FILE)


def _is_sha256(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def check_output_dir(out_dir: str | os.PathLike[str], force: bool = False) -> Path:
    """The resolved folder a bundle may be written to, or a BundleError saying why not.

    Checked before any work (training takes minutes) and again when writing. ``force`` replaces an
    earlier bundle (a folder holding a litelens card and nothing but bundle files) or an empty
    folder; never a file, a folder holding anything else (a training CSV, notes), or the current
    directory or one of its parents."""
    try:
        out = Path(out_dir).expanduser().resolve()
        exists = out.exists() or out.is_symlink()
        if exists:
            _check_replaceable(out, out_dir, force)
        for parent in out.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise BundleError(f"{parent} is a file: cannot create {out_dir} under it")
                break
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop, an unknown ~user
        raise BundleError(f"cannot use {out_dir} as the bundle folder: {exc}") from None
    return out


def _check_replaceable(out: Path, out_dir: str | os.PathLike[str], force: bool) -> None:
    if not out.is_dir():
        raise BundleError(f"{out_dir} is a file, not a bundle folder")
    if not force:
        raise BundleError(f"{out_dir} already exists (use --force to replace it)")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise BundleError(f"{out_dir} is the current directory or holds it: choose a folder such as bundles/NAME")
    entries = {p.name for p in out.iterdir()}
    if not entries:
        return
    if CARD_FILE not in entries or not _is_litelens_card(out / CARD_FILE):
        raise BundleError(f"{out_dir} is not a litelens bundle and not empty: --force replaces only bundles")
    others = sorted(entries - {CARD_FILE, SIGNATURE_FILE, *BUNDLE_FILES})
    if others:
        raise BundleError(
            f"{out_dir} holds files that are not part of its bundle ({', '.join(others[:5])}): "
            "--force would delete them; move them out or choose another folder"
        )


def _is_litelens_card(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _lime_stats_to_json(stats: Mapping[str, Mapping[int, Any]]) -> dict[str, dict[str, Any]]:
    missing = [k for k in LIME_STATS_KEYS if k not in stats]
    if missing:
        raise BundleError(f"lime stats missing {', '.join(missing)}")
    return {key: {str(int(i)): np.asarray(v).tolist() for i, v in stats[key].items()} for key in LIME_STATS_KEYS}


def _lime_stats_from_json(data: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[int, Any]]:
    out: dict[str, dict[int, Any]] = {}
    for key in LIME_STATS_KEYS:
        if key not in data:
            raise BundleError(f"{LIME_STATS_FILE}: missing {key!r}")
        out[key] = {int(i): v for i, v in data[key].items()}
    return out


def write_bundle(
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    task: str,
    features: Sequence[str],
    classes: Sequence[str] | None,
    target: str,
    model: bytes,
    shap_background: np.ndarray,
    shap_weights: np.ndarray,
    lime_stats: Mapping[str, Mapping[int, Any]],
    metrics: Mapping[str, Any],
    quantization: str,
    training: Mapping[str, Any],
    libraries: Mapping[str, str],
    force: bool = False,
    extra: Mapping[str, Any] | None = None,
    schema: Schema | None = None,
    threshold: float | None = None,
) -> BundleCard:
    """Write a complete bundle to ``out_dir`` atomically and return its card.

    Everything goes to a temporary folder beside ``out_dir`` first and is renamed into place at
    the end, so a failure leaves no half-written bundle. An existing ``out_dir`` is replaced only
    with ``force``. ``schema`` None: the model takes plain numeric columns named by ``features``;
    otherwise ``features`` must be its input names, and the background rows are in its column space.
    """
    out = check_output_dir(out_dir, force)
    columns = schema or Schema.numeric(features)
    schema_json = schema.to_json() if schema is not None else None
    class_names = [str(c) for c in classes] if classes else None  # hashed as the card stores them
    background = np.asarray(shap_background, dtype=np.float64)
    weights = np.asarray(shap_weights, dtype=np.float64).ravel()
    if background.ndim != 2 or background.shape[1] != len(columns.names):
        raise BundleError(f"shap background must have shape (K, {len(columns.names)}), got {background.shape}")
    if weights.shape != (background.shape[0],) or not np.isclose(weights.sum(), 1.0):
        raise BundleError("shap background weights must be one per row and sum to 1")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the bundle from a packaging or serving user
        (tmp / MODEL_FILE).write_bytes(model)
        np.save(tmp / SHAP_BACKGROUND_FILE, background, allow_pickle=False)
        np.save(tmp / SHAP_WEIGHTS_FILE, weights, allow_pickle=False)
        (tmp / LIME_STATS_FILE).write_text(json.dumps(_lime_stats_to_json(lime_stats)))
        files = {f: sha256_file(tmp / f) for f in BUNDLE_FILES}
        card = BundleCard(
            name=name,
            version="",  # the hash of every other field, set below
            created_at=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            task=task,
            features=list(features),
            classes=class_names,
            target=target,
            input_dtype="float32",
            input_shape=[None, len(features)],
            metrics=dict(metrics),
            quantization=quantization,
            training=dict(training),
            libraries=dict(libraries),
            files=files,
            extra=dict(extra or {}),
            schema=schema_json,
            threshold=threshold,
        )
        card = replace(card, version=card.content_version())
        card.validate()
        (tmp / CARD_FILE).write_text(json.dumps(card.to_json(), indent=2, sort_keys=False) + "\n")
        problems = Bundle(tmp, card).verify()
        if problems:  # a bundle no reader could load is never put in place
            raise BundleError("the written bundle does not verify: " + "; ".join(problems))
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return card


class Bundle:
    """A bundle on disk, its card read and (by default) every file's sha256 verified."""

    def __init__(self, path: str | os.PathLike[str], card: BundleCard) -> None:
        self.path = Path(path)
        self.card = card

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, verify: bool = True) -> Bundle:
        root = Path(path)
        card_path = root / CARD_FILE
        try:
            if not root.is_dir():
                what = "is a file, not a bundle folder" if root.exists() else "does not exist"
                raise BundleError(f"bundle folder {root} {what}")
            if not card_path.is_file():
                raise BundleError(f"{root} is not a bundle: no {CARD_FILE}")
            size = card_path.stat().st_size
            if size > MAX_CARD_BYTES:
                raise BundleError(f"{card_path} is {size} bytes; a card is at most {MAX_CARD_BYTES} bytes")
            data = json.loads(card_path.read_text())
        except BundleError:
            raise
        except (OSError, ValueError) as exc:  # a name too long; not UTF-8; not JSON
            raise BundleError(f"{card_path}: unreadable card ({exc})") from None
        except RecursionError:
            raise BundleError(f"{card_path}: unreadable card (nested too deeply)") from None
        try:
            card = BundleCard.from_json(data)
        except TypeError as exc:
            raise BundleError(f"{card_path}: malformed card ({exc})") from None
        if root.resolve().parent.name == S3_VERSIONS_DIR and root.resolve().name != card.version:
            # a copy of a published version folder: its name is the version it was published as
            raise BundleError(
                f"{card_path} is version {card.version}, but its folder is {S3_VERSIONS_DIR}/{root.resolve().name}"
            )
        bundle = cls(root, card)
        if verify:
            problems = bundle.verify()
            if problems:
                raise BundleError(f"bundle {root} failed verification: " + "; ".join(problems))
        return bundle

    def verify(self) -> list[str]:
        """Every mismatch between the card and the files: empty means intact."""
        problems = []
        content = self.card.content_version()
        if self.card.version != content:
            problems.append(
                f"{CARD_FILE} version {self.card.version} is not the content hash {content} "
                "of its fields (edited card?)"
            )
        for name, expected in self.card.files.items():
            file = self.path / name
            if not file.is_file():
                problems.append(f"{name} is missing")
            elif (actual := sha256_file(file)) != expected:
                problems.append(f"{name} sha256 {actual[:12]}... != {expected[:12]}... in {CARD_FILE}")
        return problems

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    def model_bytes(self) -> bytes:
        return self.model_path.read_bytes()

    def shap_background(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, weights)``: the k-means background and its cluster weights."""
        rows = np.load(self.path / SHAP_BACKGROUND_FILE, allow_pickle=False)
        weights = np.load(self.path / SHAP_WEIGHTS_FILE, allow_pickle=False)
        return rows, weights

    def lime_stats(self) -> dict[str, dict[int, Any]]:
        """``training_data_stats`` for LimeTabularExplainer, keyed by feature index."""
        return _lime_stats_from_json(json.loads((self.path / LIME_STATS_FILE).read_text()))
