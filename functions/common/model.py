"""The loaded model: the bundle verified once at cold start and its batches run by the TFLite runner.

Knows nothing of events or HTTP; where the bundle comes from is ``bundle_source.py``. The API:

``load_model(uri, code_root=None, cache_dir=None, signing_key="", min_published_at="") -> Model``
    Resolve (``bundle_source.resolve_bundle``) + verify + build the interpreter. Anything wrong raises
    ``BundleError`` with one clear sentence: no bundle, missing files, sha256 mismatches, a data file
    whose header, shape, dtype or values do not fit the card (``build.bundle.validation``: the SHAP
    background and weights, the LIME stats, so explain never starts on what predict refused or the
    reverse), an unloadable model, a model whose input/output widths do not match the card.
    ``signing_key`` (a function passes ``Settings.signing_public_key``) set: the card must also be
    signed by that key (``build.bundle.signing.verify_bundle``), checked before the model is built.
    ``min_published_at`` (``Settings.min_published_at``) set: and signed as published no earlier
    (rollback protection, ``RollbackError``), unless ``uri`` pins the bundle's version folder
    (``pinned_version``): naming ``.../versions/<v>`` in ``MODEL_URI`` is the deployer's explicit choice
    of that one version, which whoever writes ``latest.json`` cannot move. The check reads the signature
    already downloaded: no network call of its own.

``load_at_init(code_root, log, settings) -> Model``
    What a function's module runs at import: ``load_model`` of ``settings.model_uri`` (empty: the
    packaged bundle next to the code), a failure logged in one line and re-raised.

``Model.predict_batch(X) -> NDArray[np.float32]``
    X: (n, n_features), any float dtype; returns float32 (n, n_outputs) (binary: P(classes[1]);
    multiclass: class probabilities; regression: the value). Thread-safe; rows are run in chunks of
    at most ``max_chunk`` so SHAP/LIME's batches of thousands of rows keep the tensor arena bounded
    (``build.bundle.tflite.TFLiteRunner``, the runner the build's export gate uses too).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from litelens.build.bundle import CARD_FILE, Bundle, BundleError, signing
from litelens.build.bundle import s3 as layout
from litelens.build.bundle.tflite import TFLiteRunner, native_output_captured
from litelens.functions.common.bundle_source import resolve_bundle, split_s3_uri
from litelens.functions.common.observability import JsonLogger
from litelens.functions.common.settings import Settings

DEFAULT_MAX_CHUNK = 4096


class Model:
    """A verified bundle and its interpreter; ``predict_batch`` is the one way to run it."""

    def __init__(self, bundle: Bundle, *, max_chunk: int = DEFAULT_MAX_CHUNK, num_threads: int = 1) -> None:
        self.bundle = bundle
        self.card = bundle.card
        self.max_chunk = max_chunk
        self.signed_by: str | None = None  # the fingerprint of the key that signed the card, when checked
        self.published_at: str | None = None  # the signed publish time, when checked (None: a /1 signature)
        self.pinned = False  # MODEL_URI names this version's folder (the minimum publish time does not apply)
        # What the runtime prints from C++ while it loads (its delegate notice): logged as JSON instead.
        with native_output_captured() as self.runtime_messages:
            self.runner = TFLiteRunner(bundle.model_bytes(), num_threads=num_threads, source=str(bundle.model_path))
        self.runtime = self.runner.runtime
        n_in, n_out = self.runner.n_inputs, self.runner.n_outputs
        if n_in != self.card.n_features or n_out != self.card.n_outputs:
            raise BundleError(
                f"the model takes {n_in} inputs and gives {n_out} outputs, but {CARD_FILE} says "
                f"{self.card.n_features} features and {self.card.n_outputs} outputs ({self.card.task})"
            )

    def predict_batch(self, X: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
        """Model outputs, float32 (n, n_outputs), for the rows of X (n, n_features)."""
        return self.runner.run(X, self.max_chunk)


def load_at_init(code_root: str | os.PathLike[str], log: JsonLogger, settings: Settings) -> Model:
    """``load_model`` for a function's cold start: ``settings.model_uri``, or when empty the packaged
    bundle ``code_root/bundle``; a bundle that cannot be served is logged as one line (``log.error``)
    and the BundleError re-raised, so the function fails its init and never answers with it."""
    try:
        model = load_model(
            settings.model_uri,
            code_root,
            settings.model_cache_dir,
            settings.signing_public_key,
            settings.min_published_at,
        )
    except BundleError as exc:
        log.error("cannot load the model bundle; not serving", error=str(exc))
        raise
    if model.signed_by:
        log.info(
            "bundle signature verified",
            version=model.card.version,
            key=model.signed_by,
            published_at=model.published_at,
            pinned=model.pinned,
        )
    if model.runtime_messages:
        log.debug("model runtime output", runtime=model.runtime, lines=model.runtime_messages)
    return model


def pinned_version(uri: str) -> str | None:
    """The version a ``MODEL_URI`` pins (``s3://bucket/prefix/versions/<v>`` or a local ``.../versions/<v>``
    folder), or None when it names a prefix whose ``latest.json`` is followed, or the packaged bundle."""
    uri = uri.strip()
    if uri.startswith("s3://"):
        prefix = split_s3_uri(uri)[1]
    else:
        prefix = Path(uri).expanduser().as_posix().strip("/") if uri else ""
    return prefix.rsplit("/", 1)[-1] if layout.names_a_version(prefix) else None


def load_model(
    uri: str,
    code_root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    signing_key: str = "",
    min_published_at: str = "",
) -> Model:
    """Resolve, verify (and with ``signing_key``, check the signature, and its publish time against
    ``min_published_at`` unless ``uri`` pins the version) and load the bundle; BundleError (one sentence)
    when it cannot be served."""
    if min_published_at and not signing_key:
        raise BundleError("a minimum publish time needs a signing key: the time is read from the signature")
    key = signing.public_key(signing_key) if signing_key else None  # a bad key fails before any download
    bundle = Bundle.load(resolve_bundle(uri, code_root, cache_dir, signature=key is not None), verify=True)
    pinned = pinned_version(uri) == bundle.card.version
    verified = None
    if key is not None:
        verified = signing.verify_bundle(bundle, key, minimum="" if pinned else min_published_at)
    model = Model(bundle)
    if verified is not None:
        model.signed_by, model.published_at, model.pinned = verified.key, verified.published_at, pinned
    return model
