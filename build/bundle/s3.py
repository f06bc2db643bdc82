"""Where a published bundle lives on S3: the layout `litelens publish` writes and the functions read.

::

    s3://bucket/prefix/versions/<version>/<every bundle file>   immutable, one folder per version
    s3://bucket/prefix/latest.json                            {"version", "name", "published_at"}

``parse_s3_uri(uri, strict=...)`` splits a URI into an ``S3Location(bucket, prefix)``; ``join_key``,
``version_prefix`` and ``latest_key`` build keys under a prefix; ``names_a_version`` tells a version
folder from a prefix; ``latest_pointer`` is the body of ``latest.json`` and ``pointed_version`` the
version one names, if it is a version id (``VERSION_ID``). Both functions package this module: it
needs the standard library only (boto3 is the callers' business).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from litelens.build.bundle import S3_LATEST_POINTER, S3_VERSIONS_DIR
from litelens.build.bundle.errors import LitelensError
from litelens.build.bundle.versioning import VERSION_ID

SCHEME = "s3://"


class S3UriError(LitelensError, ValueError):
    """A URI that names no usable S3 location; the message says why (each caller wraps it in its error)."""


class S3Location(NamedTuple):
    bucket: str
    prefix: str  # no leading or trailing "/"; "" is the bucket's root


def parse_s3_uri(uri: str, *, strict: bool = False) -> S3Location:
    """``s3://bucket/some/prefix/`` -> ``S3Location("bucket", "some/prefix")``.

    Reading a bundle (``strict=False``) needs a bucket only. A destination to publish to
    (``strict=True``) also needs a prefix without empty, ``.`` or ``..`` segments that does not itself
    name a version folder (readers would take ``.../versions/<v>`` for one published version)."""
    if not uri.startswith(SCHEME):
        raise S3UriError(f"{uri!r} is not an s3:// URI (expected s3://bucket/prefix)")
    bucket, _, prefix = uri[len(SCHEME) :].partition("/")
    prefix = prefix.strip("/")
    if not strict:
        if not bucket:
            raise S3UriError(f"{uri!r} names no bucket (expected s3://bucket/prefix)")
        return S3Location(bucket, prefix)
    if not bucket or not prefix:
        raise S3UriError(f"{uri!r} needs a bucket and a prefix: s3://bucket/prefix")
    if any(part in (".", "..", "") for part in prefix.split("/")):
        raise S3UriError(f"{uri!r}: the prefix has an empty, '.' or '..' segment")
    if names_a_version(prefix):
        raise S3UriError(
            f"{uri!r} ends in {S3_VERSIONS_DIR}/<name>, which names a version folder; choose another prefix"
        )
    return S3Location(bucket, prefix)


def join_key(*parts: str) -> str:
    """The key of ``parts`` joined by "/", empty parts (an empty prefix) left out."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def names_a_version(prefix: str) -> bool:
    """Whether ``prefix`` is ``.../versions/<v>``: one published version, with no pointer to follow."""
    parts = prefix.split("/")
    return len(parts) >= 2 and parts[-2] == S3_VERSIONS_DIR


def version_prefix(prefix: str, version: str) -> str:
    """The folder of ``version`` under ``prefix`` (no trailing "/")."""
    return join_key(prefix, S3_VERSIONS_DIR, version)


def latest_key(prefix: str) -> str:
    """The key of the ``latest.json`` pointer under ``prefix``."""
    return join_key(prefix, S3_LATEST_POINTER)


def latest_pointer(version: str, name: str, published_at: str) -> bytes:
    """The body of ``latest.json`` naming ``version`` (written last, after the version is verified)."""
    pointer = {"version": version, "name": name, "published_at": published_at}
    return (json.dumps(pointer, indent=2) + "\n").encode()


def pointed_version(pointer: Mapping[str, Any]) -> str | None:
    """The version a parsed ``latest.json`` names, or None when it names no valid version id."""
    version = pointer.get("version")
    return version if isinstance(version, str) and VERSION_ID.fullmatch(version) else None
