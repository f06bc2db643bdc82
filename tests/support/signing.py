"""Sign a bundle folder with a local P-256 key (the verifier's unit tests need no KMS): the same
``bundle.sig.json`` `litelens publish --sign-key` writes, with the private key in memory."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from litelens.build.bundle import SIGNATURE_FILE, Bundle, signing


def new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def public_b64(private_key: Any) -> str:
    """What the template's BundleSigningPublicKey takes for ``private_key``'s public half."""
    return base64.b64encode(signing.public_key_der(private_key.public_key())).decode("ascii")


def sign_bundle(path: str | Path, private_key: Any, key_id: str = "local-test-key") -> bytes:
    """Write ``bundle.sig.json`` for the card at ``path``; its body."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    bundle = Bundle.load(path)
    digest = signing.card_digest(bundle.card)
    signature = private_key.sign(digest, ec.ECDSA(hashes.SHA256()))  # as KMS Sign does with MessageType=RAW
    der = signing.public_key_der(private_key.public_key())
    document = signing.signature_document(bundle.card, key_id=key_id, signature=signature, signer_der=der)
    (Path(path) / SIGNATURE_FILE).write_bytes(document)
    return document
