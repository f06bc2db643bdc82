"""Signed bundles: who published a card, checked against a public key the deployment trusts.

A card's sha256 and version prove it is intact, not who wrote it: anyone who can put objects
under the model prefix can write a new version folder with a card that hashes correctly. A
signature can only be made with the publisher's private key (an AWS KMS key that never leaves
KMS), and the functions check it with the matching public key, configured at deploy time (never
read from the bucket, which the attacker may write).

``bundle.sig.json``, beside the card (``litelens publish --sign-key`` writes it)::

    {"format": "litelens.signature/1", "algorithm": "ECDSA_SHA_256", "version": <card version>,
     "digest": <hex sha256 of the card's canonical JSON>, "key_id": <KMS key ARN>,
     "public_key_sha256": <hex sha256 of the signer's DER public key>, "signature": <base64 DER>}

What is signed: the message is the 32-byte SHA-256 digest of the card's canonical JSON
(``versioning.canonical_json`` of every field, version included), signed with ECDSA_SHA_256 on P-256
as KMS does with ``MessageType=RAW`` (it hashes the message again). Not the card itself: a card of up
to 8 MiB does not fit KMS's 4 KiB message. Not ``MessageType=DIGEST``: moto's KMS ignores it and
hashes anyway, so only RAW behaves the same in the tests as in AWS. The card lists the sha256 of
every other file, so the signature covers the whole bundle. Only ``signature`` is trusted, and only against the
configured key: ``key_id``, ``digest`` and ``public_key_sha256`` name things for the error messages.

``public_key(text)`` parses the configured key (PEM, or the base64 DER body that fits in a template
parameter); ``verify_bundle(bundle, key)`` raises ``SignatureError`` (a ``BundleError``) for an
unsigned bundle, an unreadable signature file, a ``litelens.bundle/1`` card, another key's
signature or a wrong one; ``signature_document`` and ``verify_digest`` serve the signer.
``cryptography`` is imported only by these functions: a function with signing off never loads it.

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
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litelens.build.bundle import SIGNATURE_FILE, Bundle, BundleCard, BundleError
from litelens.build.bundle.versioning import FORMAT, canonical_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

SIGNATURE_FORMAT = "litelens.signature/1"
ALGORITHM = "ECDSA_SHA_256"  # KMS's name: ECDSA over NIST P-256 (KeySpec ECC_NIST_P256) with SHA-256
CURVE = "secp256r1"
MAX_SIGNATURE_BYTES = 16 * 1024  # a real one is ~600 bytes; the loader reads no more than this
_PEM_HEADER = "-----BEGIN PUBLIC KEY-----"


class SignatureError(BundleError):
    """A bundle that is not signed by the configured key; the message says which check failed."""


def card_digest(card: BundleCard) -> bytes:
    """The 32-byte message that is signed: sha256 of the card's canonical JSON, every field included."""
    return hashlib.sha256(canonical_json(card.to_json())).digest()


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
    """Whether ``signature`` (DER ECDSA_SHA_256) signs the message ``digest`` (a card's) under ``key``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key.verify(signature, digest, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def signature_document(card: BundleCard, *, key_id: str, signature: bytes, signer_der: bytes) -> bytes:
    """The body of ``bundle.sig.json`` for ``card`` signed by the key ``key_id`` (DER public key ``signer_der``)."""
    document = {
        "format": SIGNATURE_FORMAT,
        "algorithm": ALGORITHM,
        "version": card.version,
        "digest": card_digest(card).hex(),
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
    if not isinstance(document, dict) or document.get("format") != SIGNATURE_FORMAT:
        raise SignatureError(f"{SIGNATURE_FILE} is not a {SIGNATURE_FORMAT} document")
    if document.get("algorithm") != ALGORITHM:
        raise SignatureError(f"{SIGNATURE_FILE}: algorithm {str(document.get('algorithm'))[:40]!r} is not {ALGORITHM}")
    return document


def _signature_bytes(document: dict[str, Any]) -> bytes:
    value = document.get("signature")
    try:
        return base64.b64decode(value if isinstance(value, str) else "", validate=True)
    except (ValueError, binascii.Error):
        raise SignatureError(f"{SIGNATURE_FILE}: the signature is not base64") from None


def verify_bundle(bundle: Bundle, key: EllipticCurvePublicKey) -> str:
    """Check that ``key`` signed ``bundle``'s card; the key's fingerprint, or a SignatureError saying why not."""
    card = bundle.card
    if card.format != FORMAT:
        raise SignatureError(
            f"the card is {card.format}, whose version leaves out fields users read: signed bundles are "
            f"{FORMAT} (rebuild it with this litelens, then publish with --sign-key)"
        )
    document = _read_signature(bundle.path / SIGNATURE_FILE)
    signature = _signature_bytes(document)
    trusted = key_fingerprint(public_key_der(key))
    if verify_digest(key, card_digest(card), signature):
        return trusted
    signer = str(document.get("public_key_sha256", ""))[:16]
    if signer and signer != trusted:
        raise SignatureError(
            f"{SIGNATURE_FILE} is signed by key {signer} ({str(document.get('key_id'))[:100]}), "
            f"not the trusted key {trusted}"
        )
    raise SignatureError(f"{SIGNATURE_FILE}: the signature does not match card version {card.version}")
