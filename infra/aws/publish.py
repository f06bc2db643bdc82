"""Upload a model bundle to s3://bucket/prefix under its version, verified, never overwriting.

Layout (``build/bundle/s3.py``): ``prefix/versions/<version>/<every bundle file>`` is immutable;
``prefix/latest.json`` names the version the functions load and is written last, only after
every object of the version has been read back and its sha256 checked. A version that already
exists is left alone: identical content only moves the ``latest`` pointer (a rollback), different
content is refused. A version without ``bundle.json`` (uploaded last) is an interrupted upload
that no reader can load: publishing again keeps its intact files and uploads the rest.

With a ``signer`` (``--sign-key``, ``signer.KmsSigner``) the card is signed before anything is uploaded,
and ``bundle.sig.json`` goes up before the card (and is written into the local bundle folder, so a
packaged copy verifies too). A signature is not content: an already published version may be signed
(or re-signed with another key) by publishing it again with ``--sign-key``. The signature binds the card
to the publish time (``published_at``, the same second ``latest.json`` records; ``clock`` gives it): the
value the functions' ``BundleMinPublishedAt`` is compared with (``build.bundle.signing``). Re-signing an
older version gives it a new time: that is how its key holder rolls back on purpose.

``PublishError``: publishing cannot go ahead with what it was given (exit 2); ``RemoteMismatch``, one of
them: what S3 holds does not match the bundle (exit 1, like ``litelens inspect`` on a changed file).
An S3 or KMS refusal exits 2 when it is the caller's (4xx: no such bucket, access denied, no such
key), 1 when the service failed (5xx) or could not be reached.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litelens.build.bundle import CARD_FILE, FORMAT, SIGNATURE_FILE, Bundle, BundleError, sha256_file, signing
from litelens.build.bundle import s3 as layout
from litelens.build.bundle.errors import LitelensError
from litelens.build.command import CommandError, ExitCode
from litelens.infra.aws.signer import KmsSigner, SigningError, kms_client


class PublishError(LitelensError, RuntimeError):
    """Publishing cannot go ahead; the message says why and what to do."""


class RemoteMismatch(PublishError):
    """What S3 holds under the version does not match the bundle: other content, stray files, or an
    upload that reads back with another sha256."""


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``: a prefix the functions read as one,
    not as a version folder (``layout.parse_s3_uri(strict=True)``)."""
    try:
        return layout.parse_s3_uri(uri, strict=True)
    except layout.S3UriError as exc:
        raise PublishError(str(exc)) from None


def version_prefix(prefix: str, version: str) -> str:
    """The key prefix of every object of ``version`` (ends in "/")."""
    return layout.version_prefix(prefix, version) + "/"


@dataclass(frozen=True)
class PublishResult:
    bucket: str
    prefix: str
    version: str
    uploaded: list[str]  # file names uploaded now (empty when the version already existed)
    already_published: bool

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{version_prefix(self.prefix, self.version)}"


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _remote_files(s3: Any, bucket: str, key_prefix: str) -> dict[str, str]:
    """name -> key of every object under ``key_prefix``."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key_prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(key_prefix) :]
            if name:  # "versions/<v>/" itself: a console-made folder marker, not a file
                found[name] = obj["Key"]
    return found


def _remote_sha256(s3: Any, bucket: str, key: str) -> str:
    """Download the object and hash what S3 actually holds."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in iter(lambda: body.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _content_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/octet-stream"


def publish(
    bundle_path: str | Path,
    uri: str,
    *,
    s3: Any,
    update_latest: bool = True,
    log: Callable[[str], None] = lambda _msg: None,
    signer: KmsSigner | None = None,
    clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.UTC),
) -> PublishResult:
    """Publish the bundle at ``bundle_path`` to ``uri`` with the boto3 S3 client ``s3`` (signed by ``signer``,
    as published at ``clock()``)."""
    bucket, prefix = parse_s3_uri(uri)
    try:
        bundle = Bundle.load(bundle_path, verify=True)
    except BundleError as exc:
        raise PublishError(f"not publishing: {exc}") from None
    card = bundle.card
    published_at = signing.published_at_text(clock())
    signature = _sign(bundle, signer, log, published_at) if signer is not None else None
    # bundle.json last, so a reader that finds the card finds every file it lists.
    names = [*sorted(card.files), CARD_FILE]
    local = {name: sha256_file(bundle.path / name) for name in names}
    target = version_prefix(prefix, card.version)

    existing = _remote_files(s3, bucket, target)
    uploaded: list[str] = []
    complete = CARD_FILE in existing  # the card goes last: without it the version is an interrupted upload
    if existing and not complete:
        extra = sorted(set(existing) - set(names) - {SIGNATURE_FILE})
        if extra:
            raise RemoteMismatch(
                f"s3://{bucket}/{target} holds files that are not in this bundle ({', '.join(extra)}) "
                f"and no {CARD_FILE}: remove them, or publish to another prefix"
            )
        log(f"version {card.version} at s3://{bucket}/{target} is incomplete (no {CARD_FILE}): resuming")
    if complete:
        differing = sorted(n for n in names if n not in existing or _remote_sha256(s3, bucket, existing[n]) != local[n])
        extra = sorted(set(existing) - set(names) - {SIGNATURE_FILE})
        if differing or extra:
            raise RemoteMismatch(
                f"s3://{bucket}/{target} already exists with different content "
                f"({', '.join(differing + extra)}); published versions are immutable. "
                "Rebuild the bundle (a changed model gets a new version) or publish to another prefix."
            )
        log(f"version {card.version} is already published at s3://{bucket}/{target} with identical content")
        if signature is not None:
            uploaded.append(_upload(s3, bucket, target + SIGNATURE_FILE, signature, log))
    else:
        for name in names:
            if name == CARD_FILE and signature is not None:  # the signature before the card it signs
                uploaded.append(_upload(s3, bucket, target + SIGNATURE_FILE, signature, log))
            if name in existing and _remote_sha256(s3, bucket, existing[name]) == local[name]:
                log(f"kept     {name:<30} already uploaded, sha256 verified")
                continue  # an earlier, interrupted run uploaded it intact
            uploaded.append(_upload(s3, bucket, target + name, (bundle.path / name).read_bytes(), log))

    if update_latest:
        s3.put_object(
            Bucket=bucket,
            Key=layout.latest_key(prefix),
            Body=layout.latest_pointer(card.version, card.name, published_at),
            ContentType="application/json",
        )
        log(f"s3://{bucket}/{layout.latest_key(prefix)} -> {card.version}")
    return PublishResult(bucket, prefix, card.version, uploaded, already_published=complete)


def _upload(s3: Any, bucket: str, key: str, body: bytes, log: Callable[[str], None]) -> str:
    """Put ``body`` at ``key`` and read it back; the file name uploaded, or a ``RemoteMismatch``."""
    name = key.rsplit("/", 1)[-1]
    local = _sha256_bytes(body)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType=_content_type(name),
        ChecksumAlgorithm="SHA256",
        Metadata={"sha256": local},
    )
    remote = _remote_sha256(s3, bucket, key)
    if remote != local:
        raise RemoteMismatch(
            f"s3://{bucket}/{key}: sha256 after upload {remote[:12]}... != local {local[:12]}...; "
            "latest.json left unchanged"
        )
    log(f"uploaded {name:<30} {len(body):>10,d} bytes  sha256 verified")
    return name


def _sign(bundle: Bundle, signer: KmsSigner, log: Callable[[str], None], published_at: str) -> bytes:
    """The card's signature as published at ``published_at`` (also written beside the local card), before
    anything is uploaded."""
    if bundle.card.format != FORMAT:
        raise PublishError(
            f"not signing: the card is {bundle.card.format}, whose version leaves out fields users read; "
            f"rebuild the bundle with this litelens ({FORMAT}) and publish that"
        )
    try:
        signature = signer.sign(bundle.card, published_at)
    except SigningError as exc:
        raise PublishError(str(exc)) from None
    (bundle.path / SIGNATURE_FILE).write_bytes(signature)
    log(f"signed   {CARD_FILE:<30} with {signer.key_arn} (ECDSA P-256, key {signer.fingerprint}), {published_at}")
    log(f"the functions verify with: BundleSigningPublicKey={signer.public_key_b64}")
    log(f"and refuse anything signed before this with: BundleMinPublishedAt={published_at}")
    return signature


def s3_client(endpoint_url: str | None = None, region: str | None = None, profile: str | None = None) -> Any:
    import boto3

    session = boto3.session.Session(profile_name=profile, region_name=region)
    return session.client("s3", endpoint_url=endpoint_url)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundle", help="bundle folder (as written by `litelens build`)")
    parser.add_argument("uri", help="destination, s3://bucket/prefix")
    parser.add_argument("--endpoint-url", help="S3 endpoint (moto, LocalStack, MinIO)")
    parser.add_argument("--region", help="AWS region (default: from your AWS configuration)")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument(
        "--no-latest", action="store_true", help="upload the version but leave latest.json (the live pointer) alone"
    )
    parser.add_argument(
        "--sign-key",
        metavar="KMS_KEY",
        help="sign the card with this asymmetric KMS key (id, ARN or alias/NAME; ECC_NIST_P256, SIGN_VERIFY) and "
        "upload bundle.sig.json beside it",
    )
    parser.add_argument("--kms-endpoint-url", help="KMS endpoint for --sign-key (default: --endpoint-url)")


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as AwsConnectionError

    try:
        s3 = s3_client(args.endpoint_url, args.region, args.profile)
        signer = None
        if args.sign_key:
            kms = kms_client(args.kms_endpoint_url or args.endpoint_url, args.region, args.profile)
            signer = KmsSigner(kms, args.sign_key)
        result = publish(args.bundle, args.uri, s3=s3, update_latest=not args.no_latest, log=print, signer=signer)
    except RemoteMismatch as exc:
        raise CommandError(str(exc), exit_code=ExitCode.FAILED) from exc
    except PublishError as exc:
        raise CommandError(str(exc)) from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        service = "KMS" if exc.operation_name in ("Sign", "GetPublicKey") else "S3"
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = ExitCode.USAGE if 400 <= status < 500 else ExitCode.FAILED
        raise CommandError(f"{service} refused: {error.get('Code')}: {error.get('Message')}", exit_code=code) from exc
    except (AwsConnectionError, HTTPClientError) as exc:  # no answer from S3 or KMS
        raise CommandError(str(exc), exit_code=ExitCode.FAILED) from exc
    except (BotoCoreError, ValueError) as exc:  # no credentials, a bad parameter; boto3 refusing --endpoint-url notaurl
        raise CommandError(str(exc)) from exc
    state = "already published" if result.already_published else f"published {len(result.uploaded)} files"
    print(f"{state}: {result.uri}")
    return ExitCode.OK
