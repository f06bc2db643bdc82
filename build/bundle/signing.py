"""Signed bundles: who published a card, checked against a public key the deployment trusts.

A card's sha256 and version prove it is intact, not who wrote it: anyone who can put objects
under the model prefix can write a new version folder with a card that hashes correctly. A
signature can only be made with the publisher's private key (an AWS KMS key that never leaves
KMS), and the functions check it with the matching public key, configured at deploy time (never
read from the bucket, which the attacker may write).

``bundle.sig.json``, beside the card (``litelens publish --sign-key`` writes it)::

    {"format": "litelens.signature/2", "algorithm": "ECDSA_SHA_256", "version": <card version>,
     "published_at": <UTC time, 2025-06-01T12:00:00Z>, "card_sha256": <hex sha256 of the card's
     canonical JSON>, "digest": <hex sha256 of the signed statement>, "key_id": <KMS key ARN>,
     "public_key_sha256": <hex sha256 of the signer's DER public key>, "signature": <base64 DER>}

What is signed: the message is the 32-byte SHA-256 digest of the *statement*, the canonical JSON
(``versioning.canonical_json``) of ``{"format", "version", "card_sha256", "published_at"}``: the card
(every field, version included, through its sha256) bound to the time it was published. Signed with
ECDSA_SHA_256 on P-256 as KMS does with ``MessageType=RAW`` (it hashes the message again). Not the card
itself: a card of up to 8 MiB does not fit KMS's 4 KiB message. Not ``MessageType=DIGEST``: moto's KMS
ignores it and hashes anyway, so only RAW behaves the same in the tests as in AWS. The card lists the
sha256 of every other file, so the signature covers the whole bundle. Only ``signature`` is trusted,
and only against the configured key, over the statement the verifier rebuilds from the card and the
document's ``published_at`` (so that time is as authentic as the card): ``key_id``, ``digest``,
``card_sha256`` and ``public_key_sha256`` name things for the error messages.

Rollback protection: a signature proves who published a card, not that it is the newest; anyone who
can write ``latest.json`` can point it back at an older, genuinely signed version. ``published_at`` is
the signed monotonic value (whole seconds, the publishing machine's UTC clock) and the deployment
configures a minimum (``LITELENS_MIN_PUBLISHED_AT``): ``verify_bundle(..., minimum=...)`` refuses a
signature published before it with ``RollbackError``. A minimum is inclusive: a bundle signed at
exactly that second is served (so versions signed within one second cannot be told apart). A key
holder rolls back on purpose by signing the older version again (a new ``published_at``).

``litelens.signature/1`` documents (written before; no ``published_at``: the message is the card's
digest, ``card_digest``) still verify when no minimum is configured, and are refused when one is:
their age is unknown.

``public_key(text)`` parses the configured key (PEM, or the base64 DER body that fits in a template
parameter); ``verify_bundle(bundle, key, minimum="")`` returns a ``Verified`` (the key's fingerprint,
the signed ``published_at``) or raises ``SignatureError`` (a ``BundleError``) for an unsigned bundle,
an unreadable signature file, a ``litelens.bundle/1`` card, another key's signature or a wrong one,
and ``RollbackError`` (a ``SignatureError``) for one older than ``minimum``; ``parse_published_at``
checks a time's spelling (the settings use it for the minimum); ``signed_digest``,
``signature_document`` and ``verify_digest`` serve the signer. ``cryptography`` is imported only by
these functions: a function with signing off never loads it.

Why verify locally rather than call ``kms:Verify`` (measured in fresh processes on a loaded 2-core
machine, medians of 15, CPU ms): importing cryptography's EC modules 127, parsing the key and the
first verify 16, in a package 5.5 MB zipped / 17.5 MB unzipped larger; ``kms:Verify`` ships nothing
(the runtime has boto3) and costs 18 for a KMS client once an S3 client exists plus 10 for the call
to moto on loopback, but a real call adds a TLS connection to KMS at every cold start, a packaged
bundle would also pay boto3's import (1320), and KMS becomes a dependency of every init: its
throttling (the account's shared ECC request quota) or an outage during a scale-out would fail
inits, and the role needs ``kms:Verify``. Locally, a cold start depends on nothing but the bundle.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litelens.build.bundle import SIGNATURE_FILE, Bundle, BundleCard, BundleError
from litelens.build.bundle.versioning import FORMAT, canonical_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

SIGNATURE_FORMAT = "litelens.signature/2"  # written now: the card bound to its publish time
SIGNATURE_FORMAT_V1 = "litelens.signature/1"  # written before: the card alone, no publish time
SIGNATURE_FORMATS = (SIGNATURE_FORMAT_V1, SIGNATURE_FORMAT)
ALGORITHM = "ECDSA_SHA_256"  # KMS's name: ECDSA over NIST P-256 (KeySpec ECC_NIST_P256) with SHA-256
CURVE = "secp256r1"
MAX_SIGNATURE_BYTES = 16 * 1024  # a real one is ~600 bytes; the loader reads no more than this
_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"


# One spelling of a publish time, UTC to the second: what latest.json's published_at says too. Fixed
# width, so two such strings compare as the times they name.
PUBLISHED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_PUBLISHED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
PUBLISHED_AT_EXAMPLE = "2025-06-01T12:00:00Z"


class SignatureError(BundleError):
    """A bundle that is not signed by the configured key; the message says which check failed."""


class RollbackError(SignatureError):
    """A bundle genuinely signed, but published before the configured minimum (or with no publish time)."""


@dataclass(frozen=True)
class Verified:
    """What a verified signature says: who signed (the key's fingerprint) and when it was published."""

    key: str
    published_at: str | None  # None: a litelens.signature/1 document, which carries no time


def parse_published_at(text: str) -> _dt.datetime:
    """The UTC time ``text`` spells (``2025-06-01T12:00:00Z``, exactly), or a ValueError saying so."""
    if not isinstance(text, str) or not _PUBLISHED_AT.fullmatch(text):
        raise ValueError(f"{str(text)[:40]!r} is not a UTC time like {PUBLISHED_AT_EXAMPLE}")
    try:
        return _dt.datetime.strptime(text, PUBLISHED_AT_FORMAT).replace(tzinfo=_dt.UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid UTC time (like {PUBLISHED_AT_EXAMPLE})") from None


def published_at_text(moment: _dt.datetime) -> str:
    """``moment`` (aware, any zone) as a publish time: UTC, whole seconds."""
    return moment.astimezone(_dt.UTC).strftime(PUBLISHED_AT_FORMAT)


def card_digest(card: BundleCard) -> bytes:
    """sha256 of the card's canonical JSON, every field included: in the signed statement (``signed_digest``),
    and the whole message of a ``litelens.signature/1``."""
    return hashlib.sha256(canonical_json(card.to_json())).digest()


def signed_digest(card: BundleCard, published_at: str) -> bytes:
    """The 32-byte message a ``litelens.signature/2`` signs: sha256 of the statement binding ``card`` (its
    digest and version) to ``published_at`` (checked: a ValueError for a badly spelled time)."""
    parse_published_at(published_at)
    statement = {
        "format": SIGNATURE_FORMAT,
        "version": card.version,
        "card_sha256": card_digest(card).hex(),
        "published_at": published_at,
    }
    return hashlib.sha256(canonical_json(statement)).digest()


def key_fingerprint(der: bytes) -> str:
    """A short name for a public key: the first 16 hex digits of the sha256 of its DER form."""
    return hashlib.sha256(der).hexdigest()[:16]


def public_key(text: str) -> EllipticCurvePublicKey:
    """The P-256 public key in ``text`` (PEM, or the base64 of its DER form), or a SignatureError."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    text = text.strip()
    try:
        if text.startswith(_PEM_HEADER):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError) as exc:
        raise SignatureError(f"the signing public key is not a PEM or base64 DER key ({str(exc)[:80]})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != CURVE:
        raise SignatureError(f"the signing public key is not an ECC_NIST_P256 key ({type(key).__name__})")
    return key


def public_key_der(key: EllipticCurvePublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_digest(key: EllipticCurvePublicKey, digest: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (DER ECDSA_SHA_256) signs the message ``digest`` (``signed_digest``'s) under ``key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(signature, digest, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def signature_document(
    card: BundleCard, *, key_id: str, signature: bytes, signer_der: bytes, published_at: str
) -> bytes:
    """The body of ``bundle.sig.json`` for ``card`` published at ``published_at``, signed (``signature``
    over ``signed_digest(card, published_at)``) by the key ``key_id`` (DER public key ``signer_der``)."""
    document = {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "version": card.version,
        "published_at": published_at,
        "card_sha256": card_digest(card).hex(),
        "digest": signed_digest(card, published_at).hex(),
        "key_id": key_id,
        "public_key_sha256": hashlib.sha256(signer_der).hexdigest(),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def _read_signature(path: Path) -> dict[str, Any]:
    try:
        if not path.is_file():
            raise SignatureError(f"the bundle is not signed: no {SIGNATURE_FILE} beside its card")
        if path.stat().st_size > MAX_SIGNATURE_BYTES:
            raise SignatureError(f"{SIGNATURE_FILE} is over {MAX_SIGNATURE_BYTES} bytes: not a signature")
        document = json.loads(path.read_bytes())
    except SignatureError:
        raise
    except (OSError, ValueError, RecursionError) as exc:
        raise SignatureError(f"{SIGNATURE_FILE} is unreadable ({str(exc)[:80]})") from None
    if not isinstance(document, dict) or document.get("format") not in SIGNATURE_FORMATS:
        raise SignatureError(f"{SIGNATURE_FILE} is not a {SIGNATURE_FORMAT} (or {SIGNATURE_FORMAT_V1}) document")
    if document.get("algorithm") != ALGORITHM:
        raise SignatureError(f"{SIGNATURE_FILE}: algorithm {str(document.get('algorithm'))[:40]!r} is not {ALGORITHM}")
    return document


def _signature_bytes(document: dict[str, Any]) -> bytes:
    value = document.get("signature")
    try:
        return base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError(f"{SIGNATURE_FILE}: the signature is not base64") from None


def _signed_message(card: BundleCard, document: dict[str, Any]) -> tuple[bytes, str | None]:
    """The message the document's signature must sign, and the publish time it claims (None for /1)."""
    if document["format"] == SIGNATURE_FORMAT_V1:
        return card_digest(card), None
    published_at = document.get("published_at")
    try:
        return signed_digest(card, published_at if isinstance(published_at, str) else ""), str(published_at)
    except ValueError as exc:
        raise SignatureError(f"{SIGNATURE_FILE}: published_at {exc}") from None


def check_minimum(card: BundleCard, published_at: str | None, minimum: str) -> None:
    """Refuse (``RollbackError``) a signature published before ``minimum`` ("" or a time), or with no
    publish time at all while a minimum is set."""
    if not minimum:
        return
    try:
        floor = parse_published_at(minimum)
    except ValueError as exc:
        raise SignatureError(f"the minimum publish time {exc}") from None
    if published_at is None:
        raise RollbackError(
            f"{SIGNATURE_FILE} of card version {card.version} is a {SIGNATURE_FORMAT_V1} signature with no "
            f"publish time, and a minimum ({minimum}) is configured: sign it again with `litelens publish --sign-key`"
        )
    if parse_published_at(published_at) < floor:
        raise RollbackError(
            f"card version {card.version} was signed as published at {published_at}, before the minimum "
            f"{minimum}: an older bundle (a rollback of latest.json?) is refused; pin its version folder in "
            "MODEL_URI, sign it again with `litelens publish --sign-key`, or lower the minimum"
        )


def verify_bundle(bundle: Bundle, key: EllipticCurvePublicKey, *, minimum: str = "") -> Verified:
    """Check that ``key`` signed ``bundle``'s card, published no earlier than ``minimum`` ("": any time);
    the key's fingerprint and the signed publish time, or a SignatureError (RollbackError) saying why not."""
    card = bundle.card
    if card.format != FORMAT:
        raise SignatureError(
            f"the card is {card.format}, whose version leaves out fields users read: signed bundles are "
            f"{FORMAT} (rebuild it with this litelens, then publish with --sign-key)"
        )
    document = _read_signature(bundle.path / SIGNATURE_FILE)
    signature = _signature_bytes(document)
    message, published_at = _signed_message(card, document)
    trusted = key_fingerprint(public_key_der(key))
    if verify_digest(key, message, signature):
        check_minimum(card, published_at, minimum)  # only a verified time means anything
        return Verified(trusted, published_at)
    signer = str(document.get("public_key_sha256", ""))[:16]
    if signer and signer != trusted:
        raise SignatureError(
            f"{SIGNATURE_FILE} is signed by key {signer} ({str(document.get('key_id'))[:100]}), "
            f"not the trusted key {trusted}"
        )
    at = f" published at {published_at}" if published_at else ""
    raise SignatureError(f"{SIGNATURE_FILE}: the signature does not match card version {card.version}{at}")
