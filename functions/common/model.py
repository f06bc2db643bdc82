"""The model runtime: find the bundle, load it once, and run batches through the TFLite interpreter.

Knows nothing of events or HTTP. The API:

``resolve_bundle(uri, code_root, cache_dir, signature=False) -> Path``
    ``uri`` (a function passes ``Settings.model_uri``) is a local bundle folder, or ``s3://bucket/prefix`` where the
    prefix holds ``latest.json`` (followed to ``prefix/versions/<version>/``) or is itself a version
    folder holding ``bundle.json``; empty means the bundle packaged next to the function code
    (``code_root/bundle``). S3 bundles are downloaded to ``cache_dir/<bucket>/<key>/`` (default
    /tmp/litelens-bundles; a function passes ``Settings.model_cache_dir``), every file checked against the sha256 in
    ``bundle.json``; an intact cached copy is reused without downloading. Size caps (``build.bundle``):
    ``latest.json`` 64 KiB, the card 8 MiB, any file 256 MiB, the whole bundle 400 MiB (/tmp holds
    512 MB); an object over its cap is refused before it is read, and files stream to disk. The card's
    version must be the one its folder is named by (``versions/<v>``, from ``latest.json`` or the URI);
    with ``signature=True`` the signature beside the card (``bundle.sig.json``) is downloaded with it.

``load_model(uri, code_root=None, cache_dir=None, signing_key="") -> Model``
    Resolve + verify + build the interpreter. Anything wrong raises ``BundleError`` with one
    clear sentence: no bundle, missing files, sha256 mismatches, an unloadable model, a model
    whose input/output widths do not match the card. ``signing_key`` (a function passes
    ``Settings.signing_public_key``) set: the card must also be signed by that key
    (``build.bundle.signing.verify_bundle``), checked before the model is built.

``load_at_init(code_root, log, settings) -> Model``
    What a function's module runs at import: ``load_model`` of ``settings.model_uri`` (empty: the
    packaged bundle next to the code), a failure logged in one line and re-raised.

``Model.predict_batch(X) -> np.ndarray``
    X: (n, n_features), any float dtype; returns float32 (n, n_outputs) (binary: P(classes[1]);
    multiclass: class probabilities; regression: the value). Thread-safe (one lock); rows are
    run in chunks of at most ``max_chunk`` so SHAP/LIME's batches of thousands of rows keep the
    tensor arena bounded, and the interpreter is resized only when the chunk size changes.

boto3 is imported only for s3:// URIs (the Lambda runtime provides it; it is never packaged).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from litelens.build.bundle import (
    CARD_FILE,
    MAX_BUNDLE_BYTES,
    MAX_CARD_BYTES,
    MAX_FILE_BYTES,
    MAX_POINTER_BYTES,
    S3_LATEST_POINTER,
    SIGNATURE_FILE,
    Bundle,
    BundleCard,
    BundleError,
    sha256_file,
    signing,
)
from litelens.build.bundle import s3 as layout
from litelens.build.bundle.signing import MAX_SIGNATURE_BYTES
from litelens.functions.common import constants
from litelens.functions.common.interpreter import interpreter_class, native_output_captured
from litelens.functions.common.settings import Settings

DEFAULT_MAX_CHUNK = 4096


# --- where the bundle is -------------------------------------------------------------------------


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix/`` -> ``("bucket", "prefix")`` (no trailing slash; the prefix may be empty)."""
    try:
        return layout.parse_s3_uri(uri)
    except layout.S3UriError as exc:
        raise BundleError(f"MODEL_URI {exc}") from None


_MISSING = ("NoSuchKey", "404", "NotFound")
# Without s3:ListBucket (the template grants only s3:GetObject on the prefix) S3 answers a missing key
# with 403 AccessDenied: for an optional object (latest.json) that means "not there" as well.
_MISSING_OR_HIDDEN = (*_MISSING, "AccessDenied", "403", "Forbidden")


def _s3_object(client: Any, bucket: str, key: str, limit: int, missing: tuple[str, ...] = _MISSING) -> Any:
    """The object's streaming body, or None when it does not exist (an error code in ``missing``).
    An object over ``limit`` bytes is refused before it is read; other failures are BundleErrors."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in missing:
            return None
        raise BundleError(f"cannot read s3://{bucket}/{key}: {code or exc}") from None
    except BotoCoreError as exc:
        raise BundleError(f"cannot read s3://{bucket}/{key}: {exc}") from None
    size = response.get("ContentLength")
    if isinstance(size, int) and size > limit:
        response["Body"].close()
        raise BundleError(f"s3://{bucket}/{key} is {size} bytes; the loader reads at most {limit} bytes of it")
    return response["Body"]


def _s3_get(client: Any, bucket: str, key: str, limit: int, missing: tuple[str, ...] = _MISSING) -> bytes | None:
    """A small object's bytes (at most ``limit``), or None when it does not exist."""
    body = _s3_object(client, bucket, key, limit, missing)
    if body is None:
        return None
    data = _read(body, limit + 1, bucket, key)
    if len(data) > limit:  # a ContentLength that lied, or none
        raise BundleError(f"s3://{bucket}/{key} is over {limit} bytes; the loader reads at most {limit} bytes of it")
    return data


def _read(body: Any, size: int, bucket: str, key: str) -> bytes:
    from botocore.exceptions import BotoCoreError

    try:
        return body.read(size)
    except (BotoCoreError, OSError) as exc:
        raise BundleError(f"cannot read s3://{bucket}/{key}: {exc}") from None


def _s3_download(client: Any, bucket: str, key: str, path: Path, limit: int) -> int:
    """Stream the object to ``path`` (at most ``limit`` bytes); its size. None found is a BundleError."""
    body = _s3_object(client, bucket, key, limit)
    if body is None:
        raise BundleError(f"s3://{bucket}/{key} is missing")
    written = 0
    with path.open("wb") as out:
        while chunk := _read(body, 1 << 20, bucket, key):
            written += len(chunk)
            if written > limit:
                raise BundleError(f"s3://{bucket}/{key} is over {limit} bytes; the loader reads at most {limit}")
            out.write(chunk)
    return written


def _json_object(data: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{where} is not valid JSON ({exc})") from None
    except RecursionError:
        raise BundleError(f"{where} is not valid JSON (nested too deeply)") from None
    if not isinstance(value, dict):
        raise BundleError(f"{where} must hold a JSON object")
    return value


def cache_folder(cache_dir: str | os.PathLike[str], bucket: str, key_prefix: str) -> Path:
    """The local copy of s3://bucket/key_prefix: one flat folder per location, named readably and by
    a hash of the location, so no location's copy lies inside another's (replacing one never deletes
    another) and no key (``..``) can point outside ``cache_dir``."""
    digest = hashlib.sha256(f"{bucket}/{key_prefix}".encode()).hexdigest()[:12]
    readable = re.sub(r"[^0-9A-Za-z._-]+", "_", key_prefix).strip("._")[-80:] or "root"
    return Path(cache_dir) / re.sub(r"[^0-9A-Za-z.-]+", "_", bucket) / f"{readable}-{digest}"


def download_s3_bundle(
    uri: str, cache_dir: str | os.PathLike[str], client: Any = None, *, signature: bool = False
) -> Path:
    """Download (or reuse from ``cache_dir``) the bundle ``uri`` names; every file sha256-verified.
    ``signature``: also the signature beside the card, as S3 holds it now (one more GET)."""
    bucket, prefix = split_s3_uri(uri)
    if client is None:
        import boto3

        client = boto3.client("s3")
    version_prefix = prefix
    latest_key = layout.latest_key(prefix)
    pointer = None
    expected_version = None  # the version the folder's name says (a pinned URI's, or latest.json's)
    if layout.names_a_version(prefix):
        expected_version = prefix.rsplit("/", 1)[-1]
    else:
        pointer = _s3_get(client, bucket, latest_key, MAX_POINTER_BYTES, _MISSING_OR_HIDDEN)
    if pointer is not None:
        expected_version = layout.pointed_version(_json_object(pointer, f"s3://{bucket}/{latest_key}"))
        if expected_version is None:
            raise BundleError(f"s3://{bucket}/{latest_key} has no valid version")
        version_prefix = layout.version_prefix(prefix, expected_version)
    card_key = layout.join_key(version_prefix, CARD_FILE)
    card_bytes = _s3_get(client, bucket, card_key, MAX_CARD_BYTES)
    if card_bytes is None:
        raise BundleError(
            f"no bundle at {uri}: neither {S3_LATEST_POINTER} nor {CARD_FILE} under it"
            if pointer is None
            else f"{S3_LATEST_POINTER} under {uri} points at version {expected_version}, but s3://{bucket}/{card_key} "
            "does not exist"
        )
    card = BundleCard.from_json(_json_object(card_bytes, f"s3://{bucket}/{card_key}"))
    if expected_version is not None and card.version != expected_version:
        says = f"{S3_LATEST_POINTER} says" if pointer is not None else "its folder is"
        raise BundleError(f"s3://{bucket}/{card_key} is version {card.version}, {says} {expected_version}")
    signature_key = layout.join_key(version_prefix, SIGNATURE_FILE)
    signed = _s3_get(client, bucket, signature_key, MAX_SIGNATURE_BYTES, _MISSING_OR_HIDDEN) if signature else None

    target = cache_folder(cache_dir, bucket, version_prefix)
    if (target / CARD_FILE).is_file():
        try:
            cached = Bundle.load(target, verify=True)
            if cached.card.to_json() == card.to_json():
                if signature:
                    _place_signature(target, signed)
                return target
        except BundleError:
            pass  # a damaged cache is replaced below
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (tmp / CARD_FILE).write_bytes(card_bytes)
        _place_signature(tmp, signed)
        total, budget = len(card_bytes), MAX_BUNDLE_BYTES
        for name, expected in card.files.items():
            if "/" in name or name.startswith("."):
                raise BundleError(f"{CARD_FILE} lists an unsafe file name {name!r}")
            total += _s3_download(
                client, bucket, layout.join_key(version_prefix, name), tmp / name, min(MAX_FILE_BYTES, budget - total)
            )
            actual = sha256_file(tmp / name)
            if actual != expected:
                raise BundleError(
                    f"s3://{bucket}/{layout.join_key(version_prefix, name)} is corrupt: sha256 {actual[:12]}... "
                    f"!= {expected[:12]}... in {CARD_FILE}"
                )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _place_signature(folder: Path, signature: bytes | None) -> None:
    """The signature S3 holds now beside the card (none: none, even if an earlier copy had one)."""
    if signature is None:
        (folder / SIGNATURE_FILE).unlink(missing_ok=True)
    else:
        (folder / SIGNATURE_FILE).write_bytes(signature)


def resolve_bundle(
    uri: str,
    code_root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    signature: bool = False,
) -> Path:
    """The local folder of the bundle to serve (see the module docstring); ``signature``: an S3 bundle's
    signature is downloaded too."""
    uri = uri.strip()
    if uri.startswith("s3://"):
        return download_s3_bundle(uri, cache_dir or constants.MODEL_CACHE_DIR_DEFAULT, signature=signature)
    if uri:
        return Path(uri).expanduser()
    if code_root is None:
        raise BundleError("MODEL_URI is empty and no packaged bundle location was given")
    return Path(code_root) / constants.PACKAGED_BUNDLE_DIR


# --- the loaded model ----------------------------------------------------------------------------


class Model:
    """A verified bundle and its interpreter; ``predict_batch`` is the one way to run it."""

    def __init__(self, bundle: Bundle, *, max_chunk: int = DEFAULT_MAX_CHUNK, num_threads: int = 1) -> None:
        self.bundle = bundle
        self.card = bundle.card
        self.max_chunk = max_chunk
        self.signed_by: str | None = None  # the fingerprint of the key that signed the card, when checked
        Interpreter, self.runtime = interpreter_class()
        # What the runtime prints from C++ while it loads (its delegate notice): logged as JSON instead.
        with native_output_captured() as self.runtime_messages:
            self._load(Interpreter, bundle, num_threads)

    def _load(self, Interpreter: Any, bundle: Bundle, num_threads: int) -> None:
        """Build the interpreter, check its input and output widths against the card, allocate."""
        try:
            self._interpreter = Interpreter(model_content=bundle.model_bytes(), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise BundleError(f"{bundle.model_path} is not a loadable TFLite model ({exc})") from None
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise BundleError(f"the model has {len(inputs)} inputs and {len(outputs)} outputs; expected 1 and 1")
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]
        n_in, n_out = int(inputs[0]["shape"][-1]), int(outputs[0]["shape"][-1])
        if n_in != self.card.n_features or n_out != self.card.n_outputs:
            raise BundleError(
                f"the model takes {n_in} inputs and gives {n_out} outputs, but {CARD_FILE} says "
                f"{self.card.n_features} features and {self.card.n_outputs} outputs ({self.card.task})"
            )
        self._lock = threading.Lock()
        self._rows = -1
        self._resize(1)

    def _resize(self, rows: int) -> None:
        self._interpreter.resize_tensor_input(self._input, [rows, self.card.n_features], strict=False)
        self._interpreter.allocate_tensors()
        self._rows = rows

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        if chunk.shape[0] != self._rows:
            self._resize(chunk.shape[0])
        self._interpreter.set_tensor(self._input, chunk)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)  # a copy

    def predict_batch(self, X: np.ndarray) -> np.ndarray:
        """Model outputs, float32 (n, n_outputs), for the rows of X (n, n_features)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.card.n_features:
            raise ValueError(f"expected an array of shape (n, {self.card.n_features}), got {X.shape}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        n = X.shape[0]
        if n == 0:
            return np.empty((0, self.card.n_outputs), dtype=np.float32)
        with self._lock:
            if n <= self.max_chunk:
                return self._run(X)
            return np.concatenate([self._run(X[i : i + self.max_chunk]) for i in range(0, n, self.max_chunk)])


def load_at_init(code_root: str | os.PathLike[str], log: Any, settings: Settings) -> Model:
    """``load_model`` for a function's cold start: ``settings.model_uri``, or when empty the packaged
    bundle ``code_root/bundle``; a bundle that cannot be served is logged as one line (``log.error``)
    and the BundleError re-raised, so the function fails its init and never answers with it."""
    try:
        model = load_model(settings.model_uri, code_root, settings.model_cache_dir, settings.signing_public_key)
    except BundleError as exc:
        log.error("cannot load the model bundle; not serving", error=str(exc))
        raise
    if model.signed_by:
        log.info("bundle signature verified", version=model.card.version, key=model.signed_by)
    if model.runtime_messages:
        log.debug("model runtime output", runtime=model.runtime, lines=model.runtime_messages)
    return model


def load_model(
    uri: str,
    code_root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    signing_key: str = "",
) -> Model:
    """Resolve, verify (and with ``signing_key``, check the signature) and load the bundle; BundleError
    (one sentence) when it cannot be served."""
    key = signing.public_key(signing_key) if signing_key else None  # a bad key fails before any download
    bundle = Bundle.load(resolve_bundle(uri, code_root, cache_dir, signature=key is not None), verify=True)
    signed_by = signing.verify_bundle(bundle, key) if key is not None else None
    model = Model(bundle)
    model.signed_by = signed_by
    return model
