"""Sign a bundle's card with an asymmetric AWS KMS key (``litelens publish --sign-key``).

``KmsSigner(kms, key)`` takes a boto3 KMS client and a key id, ARN or ``alias/...``; ``prepare()``
reads the key's public half (``kms:GetPublicKey``) and refuses a key that is not ECC_NIST_P256 for
SIGN_VERIFY; ``sign(card, published_at)`` asks KMS to sign the 32-byte digest of the statement binding
the card to its publish time (``kms:Sign``, ``ECDSA_SHA_256``, ``MessageType=RAW``: see
``build.bundle.signing``; the time is the rollback-protection value the functions compare with their
minimum), checks the answer with the very verifier the functions run, and returns the body of
``bundle.sig.json``. ``public_key_b64`` is what the template's
``BundleSigningPublicKey`` parameter takes. The private key never leaves KMS.
"""

from __future__ import annotations

import base64
from typing import Any

from litelens.build.bundle import BundleCard, signing
from litelens.build.bundle.errors import LitelensError

KEY_SPEC = "ECC_NIST_P256"


class SigningError(LitelensError, RuntimeError):
    """The key cannot sign bundles; the message says why."""


class KmsSigner:
    def __init__(self, kms: Any, key: str) -> None:
        self.kms = kms
        self.key = key
        self.key_arn = ""
        self.public_der = b""

    def prepare(self) -> None:
        """Read and check the key before anything is uploaded."""
        answer = self.kms.get_public_key(KeyId=self.key)
        spec, usage = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec"), answer.get("KeyUsage")
        if spec != KEY_SPEC or usage != "SIGN_VERIFY":
            raise SigningError(
                f"KMS key {self.key} is {spec} for {usage}; bundles are signed with an {KEY_SPEC} SIGN_VERIFY key "
                f"(aws kms create-key --key-spec {KEY_SPEC} --key-usage SIGN_VERIFY)"
            )
        if signing.ALGORITHM not in answer.get("SigningAlgorithms", [signing.ALGORITHM]):
            raise SigningError(f"KMS key {self.key} does not offer {signing.ALGORITHM}")
        self.key_arn = answer.get("KeyId", self.key)
        self.public_der = answer["PublicKey"]

    @property
    def public_key_b64(self) -> str:
        return base64.b64encode(self.public_der).decode("ascii")

    @property
    def fingerprint(self) -> str:
        return signing.key_fingerprint(self.public_der)

    def sign(self, card: BundleCard, published_at: str) -> bytes:
        """The ``bundle.sig.json`` body for ``card`` published at ``published_at`` (``2025-06-01T12:00:00Z``),
        verified against the key's public half."""
        if not self.public_der:
            self.prepare()
        try:
            digest = signing.signed_digest(card, published_at)
        except ValueError as exc:
            raise SigningError(f"cannot sign: published_at {exc}") from None
        answer = self.kms.sign(KeyId=self.key, Message=digest, MessageType="RAW", SigningAlgorithm=signing.ALGORITHM)
        signature = answer["Signature"]
        public = signing.public_key(self.public_key_b64)
        if not signing.verify_digest(public, digest, signature):
            raise SigningError(f"KMS key {self.key} returned a signature its own public key does not verify")
        self.key_arn = answer.get("KeyId", self.key_arn)  # Sign answers the key's ARN
        return signing.signature_document(
            card, key_id=self.key_arn, signature=signature, signer_der=self.public_der, published_at=published_at
        )


def kms_client(endpoint_url: str | None = None, region: str | None = None, profile: str | None = None) -> Any:
    import boto3

    session = boto3.session.Session(profile_name=profile, region_name=region)
    return session.client("kms", endpoint_url=endpoint_url)
