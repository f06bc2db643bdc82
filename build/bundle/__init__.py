"""The model bundle: the one contract between the offline build and the Lambda functions.

A bundle is a folder::

    bundle.json                  the card: task, column schema, model inputs, classes, metrics, versions,
                                 sha256 of every file
    model.tflite                 the model (float inputs/outputs, raw feature units: scaling is inside)
    shap_background.npy          representative training rows in column space, shape (K, n_columns), float64
    shap_background_weights.npy  their weights, shape (K,), summing to 1
    lime_stats.json              LimeTabularExplainer's ``training_data_stats`` per column
    bundle.sig.json              optional: the card's signature (``signing``; ``litelens publish --sign-key``)

The card is ``card.BundleCard`` (its ``Task``, its ``schema``, the one predicted-class rule); its
``version`` is a hash of the card itself (``versioning``: every field in a ``litelens.bundle/2`` card; a
``litelens.bundle/1`` card, written before, by its older rule).

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
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from litelens.build.bundle import validation
from litelens.build.bundle.card import (
    BUNDLE_FILES,
    CARD_FILE,
    LIME_STATS_FILE,
    MODEL_FILE,
    SHAP_BACKGROUND_FILE,
    SHAP_WEIGHTS_FILE,
    BundleCard,
    BundleError,
    Quantization,
    Task,
    card_quantization,
    card_task,
    n_outputs,
    predicted_index,
)
from litelens.build.bundle.schema import Schema
from litelens.build.bundle.validation import LIME_STATS_KEYS, MAX_FILE_BYTES
from litelens.build.bundle.versioning import FORMAT

__all__ = [
    "BUNDLE_FILES",
    "CARD_FILE",
    "FORMAT",
    "LIME_STATS_FILE",
    "LIME_STATS_KEYS",
    "MAX_BUNDLE_BYTES",
    "MAX_CARD_BYTES",
    "MAX_FILE_BYTES",
    "MAX_POINTER_BYTES",
    "MODEL_FILE",
    "S3_LATEST_POINTER",
    "S3_VERSIONS_DIR",
    "SHAP_BACKGROUND_FILE",
    "SHAP_WEIGHTS_FILE",
    "SIGNATURE_FILE",
    "Bundle",
    "BundleCard",
    "BundleError",
    "Quantization",
    "Task",
    "check_output_dir",
    "n_outputs",
    "predicted_index",
    "sha256_file",
    "write_bundle",
]

SIGNATURE_FILE = "bundle.sig.json"  # beside the card; not listed in it (it signs the card)

# Published bundles on S3 (written by `litelens publish`, read by the functions' loader):
#   s3://bucket/prefix/versions/<version>/<every bundle file>   immutable, one folder per version
#   s3://bucket/prefix/latest.json  {"version": ..., "name": ..., "published_at": ...}, written last
# MODEL_URI may name the prefix (follow latest.json) or one version folder (has bundle.json).
S3_VERSIONS_DIR = "versions"
S3_LATEST_POINTER = "latest.json"

# Size caps a reader enforces before it reads (a Lambda has 512 MB of /tmp and 256 MB-10 GB of memory):
# the latest.json pointer, the card, any one bundle file (MAX_FILE_BYTES, from validation), and a whole bundle.
MAX_POINTER_BYTES = 64 * 1024
MAX_CARD_BYTES = 8 * 1024 * 1024
MAX_BUNDLE_BYTES = 400 * 1024 * 1024


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


def write_bundle(
    out_dir: str | os.PathLike[str],
    *,
    name: str,
    task: str,
    features: Sequence[str],
    classes: Sequence[str] | None,
    target: str,
    model: bytes,
    shap_background: ArrayLike,
    shap_weights: ArrayLike,
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
            task=card_task(task),
            features=list(features),
            classes=class_names,
            target=target,
            input_dtype="float32",
            input_shape=[None, len(features)],
            metrics=dict(metrics),
            quantization=card_quantization(quantization),
            training=dict(training),
            libraries=dict(libraries),
            files=files,
            extra=dict(extra or {}),
            _schema=schema_json,
            threshold=threshold,
        )
        card = replace(card, version=card.content_version())
        card.validate()
        (tmp / CARD_FILE).write_text(json.dumps(card.to_json(), indent=2, sort_keys=False) + "\n")
        problems = Bundle(tmp, card).verify()
        if problems:  # a bundle no reader could load is never put in place
            raise BundleError("the written bundle does not verify: " + "; ".join(problems))
        validation.check_files(tmp, card)
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
            validation.check_files(root, card)  # what the hashes cannot say: each file's shape, dtype, values
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

    def shap_background(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(rows, weights)``: the k-means background and its cluster weights (float64: ``write_bundle``'s),
        checked against the card (``validation.read_background``) on every read."""
        return validation.read_background(self.path, self.card)

    def lime_stats(self) -> dict[str, dict[int, Any]]:
        """``training_data_stats`` for LimeTabularExplainer, keyed by feature index, checked against the card
        (``validation.read_lime_stats``) on every read."""
        return validation.read_lime_stats(self.path, self.card)
