"""Signed bundles: the functions serve only a card the configured public key signed, and say why not
in one log line at init."""

from __future__ import annotations

import base64
import json

import pytest

from litelens.build.bundle import CARD_FILE, SIGNATURE_FILE, Bundle, BundleError, signing
from litelens.build.bundle.signing import SignatureError, verify_bundle
from litelens.build.bundle.versioning import FORMAT_V1, card_version, legacy_version
from litelens.functions.common.model import load_model
from tests.support.signing import new_key, public_b64, sign_bundle, trusted_key


def test_a_signed_card_verifies_with_its_key_in_either_spelling(signed_dir, key):
    fingerprint = verify_bundle(Bundle.load(signed_dir), trusted_key(key)).key
    assert fingerprint == signing.key_fingerprint(base64.b64decode(public_b64(key)))
    from cryptography.hazmat.primitives import serialization

    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert verify_bundle(Bundle.load(signed_dir), signing.public_key(pem.decode())).key == fingerprint


def test_an_unsigned_bundle_is_refused(signed_dir, key):
    (signed_dir / SIGNATURE_FILE).unlink()
    with pytest.raises(SignatureError, match=r"not signed: no bundle\.sig\.json"):
        verify_bundle(Bundle.load(signed_dir), trusted_key(key))


def test_another_keys_signature_is_refused_naming_both_keys(signed_dir, key):
    sign_bundle(signed_dir, new_key(), key_id="arn:aws:kms:us-east-1:111122223333:key/attacker")
    with pytest.raises(SignatureError, match=r"signed by key [0-9a-f]{16} \(arn:.*attacker\), not the trusted key"):
        verify_bundle(Bundle.load(signed_dir), trusted_key(key))


def test_a_signature_of_another_card_is_refused(signed_dir, key, tmp_path):
    # GIVEN the class-swapped card re-hashed to a valid version, beside the genuine card's signature
    card = json.loads((signed_dir / CARD_FILE).read_text())
    card["classes"].reverse()
    card["version"] = card_version(card)
    (signed_dir / CARD_FILE).write_text(json.dumps(card))
    bundle = Bundle.load(signed_dir)  # intact by its hashes
    with pytest.raises(SignatureError, match=f"does not match card version {card['version']}"):
        verify_bundle(bundle, trusted_key(key))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", "unreadable"),
        (b"[" * 100_000 + b"]" * 100_000, "over 16384 bytes"),
        (b"[" * 5_000 + b"]" * 5_000, "unreadable"),
        (b'{"format": "litelens.signature/1", "algorithm": "RSASSA_PSS_SHA_256"}', "is not ECDSA_SHA_256"),
        (b'{"format": "something/else"}', r"not a litelens\.signature/2 \(or litelens\.signature/1\) document"),
        (b'{"format": "litelens.signature/1", "algorithm": "ECDSA_SHA_256", "signature": "!!"}', "not base64"),
        (b'{"format": "litelens.signature/1", "algorithm": "ECDSA_SHA_256", "signature": "AAAA"}', "does not match"),
    ],
)
def test_a_malformed_signature_file_is_a_signature_error(signed_dir, key, body, words):
    (signed_dir / SIGNATURE_FILE).write_bytes(body)
    with pytest.raises(SignatureError, match=words) as raised:
        verify_bundle(Bundle.load(signed_dir), trusted_key(key))
    assert len(str(raised.value)) < 300


def test_a_legacy_card_is_never_accepted_as_signed(signed_dir, key):
    card = json.loads((signed_dir / CARD_FILE).read_text())
    card["format"] = FORMAT_V1
    card["version"] = legacy_version(card["files"], card["task"], card["features"], card["classes"])
    (signed_dir / CARD_FILE).write_text(json.dumps(card))
    sign_bundle(signed_dir, key)  # even signed by the trusted key
    with pytest.raises(SignatureError, match=r"litelens\.bundle/1, whose version leaves out fields"):
        verify_bundle(Bundle.load(signed_dir), trusted_key(key))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not base64 !", "not a PEM or base64 DER key"),
        (base64.b64encode(b"\x30\x03\x02\x01\x01").decode(), "not a PEM or base64 DER key"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a PEM or base64 DER key"),
    ],
)
def test_a_bad_configured_key_is_a_bundle_error(text, words):
    with pytest.raises(BundleError, match=words):
        signing.public_key(text)


def test_an_rsa_or_other_curve_key_is_refused():
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    others = (rsa.generate_private_key(public_exponent=65537, key_size=2048), ec.generate_private_key(ec.SECP384R1()))
    for private in others:
        with pytest.raises(SignatureError, match="not an ECC_NIST_P256 key"):
            signing.public_key(public_b64(private))


def test_load_model_checks_the_signature_only_when_a_key_is_set(signed_dir, key):
    # the structural bundle's model is not TFLite: getting to the model means the signature passed
    with pytest.raises(BundleError, match="not a loadable TFLite model"):
        load_model(str(signed_dir), signing_key=public_b64(key))
    (signed_dir / SIGNATURE_FILE).unlink()
    with pytest.raises(BundleError, match="not a loadable TFLite model"):
        load_model(str(signed_dir))
    with pytest.raises(SignatureError, match="not signed"):
        load_model(str(signed_dir), signing_key=public_b64(key))
