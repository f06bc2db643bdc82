"""Where the bundle to serve is: a local folder, the packaged one, or an S3 copy downloaded and cached.

Knows nothing of events, HTTP or the interpreter (``model.py`` loads what this finds). The API:

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

``download_s3_bundle(uri, cache_dir, client=None, signature=False) -> Path``
    The S3 half of ``resolve_bundle`` (``client``: an S3 client to use instead of boto3's default).

``cache_folder(cache_dir, bucket, key_prefix) -> Path``
    Where the local copy of one S3 location lives.

Anything wrong raises ``BundleError`` with one clear sentence. boto3 is imported only for s3:// URIs
(the Lambda runtime provides it; it is never packaged).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

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
)
from litelens.build.bundle import s3 as layout
from litelens.build.bundle.signing import MAX_SIGNATURE_BYTES
from litelens.functions.common import constants


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
        data: bytes = body.read(size)  # a StreamingBody, from a client typed Any (boto3's, or a stand-in)
    except (BotoCoreError, OSError) as exc:
        raise BundleError(f"cannot read s3://{bucket}/{key}: {exc}") from None
    return data


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
