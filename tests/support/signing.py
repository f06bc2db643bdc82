"""Sign a bundle folder with a local P-256 key (the verifier's unit tests need no KMS): the same
``bundle.sig.json`` `litelens publish --sign-key` writes, with the private key in memory."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from litelens.build.bundle import SIGNATURE_FILE, Bundle, signing


def new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def trusted_key(private_key: Any) -> Any:
    """``private_key``'s public half as the functions configure it (``signing.public_key``)."""
    return signing.public_key(public_b64(private_key))


def signed_structural_bundle(path: Path, private_key: Any) -> Path:
    """A structural bundle (no trained model) at ``path``, signed by ``private_key`` at ``PUBLISHED_AT``."""
    from tests.support.structural_bundle import structural_bundle

    structural_bundle(path)
    sign_bundle(path, private_key)
    return path


def public_b64(private_key: Any) -> str:
    """What the template's BundleSigningPublicKey takes for ``private_key``'s public half."""
    return base64.b64encode(signing.public_key_der(private_key.public_key())).decode("ascii")


PUBLISHED_AT = "2025-06-01T12:00:00Z"  # the publish time sign_bundle signs unless told another


def sign_bundle(
    path: str | Path, private_key: Any, key_id: str = "local-test-key", *, published_at: str | None = PUBLISHED_AT
) -> bytes:
    """Write ``bundle.sig.json`` for the card at ``path`` as published at ``published_at``; its body.
    ``published_at=None``: a ``litelens.signature/1`` document, as publishers wrote before (no time)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    bundle = Bundle.load(path)
    card = bundle.card
    digest = signing.card_digest(card) if published_at is None else signing.signed_digest(card, published_at)
    signature = private_key.sign(digest, ec.ECDSA(hashes.SHA256()))  # as KMS Sign does with MessageType=RAW
    der = signing.public_key_der(private_key.public_key())
    if published_at is None:
        document = _v1_document(bundle, key_id, signature, der)
    else:
        document = signing.signature_document(
            bundle.card, key_id=key_id, signature=signature, signer_der=der, published_at=published_at
        )
    (Path(path) / SIGNATURE_FILE).write_bytes(document)
    return document


def _v1_document(bundle: Bundle, key_id: str, signature: bytes, der: bytes) -> bytes:
    """A ``litelens.signature/1`` body, field for field as litelens wrote it before publish times."""
    document = {
        "format": signing.SIGNATURE_FORMAT_V1,
        "algorithm": signing.ALGORITHM,
        "version": bundle.card.version,
        "digest": signing.card_digest(bundle.card).hex(),
        "key_id": key_id,
        "public_key_sha256": hashlib.sha256(der).hexdigest(),
        "signature": base64.b64encode(signature).decode("ascii"),
    }
    return (json.dumps(document, indent=2) + "\n").encode()
