"""Rollback protection: a signature binds the card to its publish time, and a configured minimum refuses
an older (genuinely signed) bundle unless MODEL_URI pins its version folder. No model runs: the
structural bundle's model is not TFLite, so reaching "not a loadable TFLite model" means the signature
and its time passed (tests/integration/test_rollback_moto.py replays the attack on S3 + KMS)."""

from __future__ import annotations

import json

import pytest

from litelens.build.bundle import SIGNATURE_FILE, Bundle, BundleError, signing
from litelens.build.bundle.signing import RollbackError, SignatureError, verify_bundle
from litelens.functions.common import constants
from litelens.functions.common.model import load_model, pinned_version
from litelens.infra.aws.signer import KmsSigner, SigningError
from tests.support.signing import PUBLISHED_AT, public_b64, sign_bundle, trusted_key
from tests.support.structural_bundle import structural_bundle

EARLIER, LATER = "2025-05-31T23:59:59Z", "2025-06-01T12:00:01Z"
NOT_A_MODEL = "not a loadable TFLite model"  # past the signature check


def document(path):
    return json.loads((path / SIGNATURE_FILE).read_text())


def test_the_envelope_names_the_publish_time_and_the_statement_it_signs(signed_dir):
    card = Bundle.load(signed_dir).card
    doc = document(signed_dir)
    assert doc["format"] == signing.SIGNATURE_FORMAT == "litelens.signature/2"
    assert doc["published_at"] == PUBLISHED_AT and doc["version"] == card.version
    assert doc["card_sha256"] == signing.card_digest(card).hex()
    assert doc["digest"] == signing.signed_digest(card, PUBLISHED_AT).hex()
    # the time is part of the message: another time is another message, and so is the card alone
    assert signing.signed_digest(card, LATER) != signing.signed_digest(card, PUBLISHED_AT) != signing.card_digest(card)


@pytest.mark.parametrize(
    ("minimum", "served"),
    [("", True), (EARLIER, True), (PUBLISHED_AT, True), (LATER, False), ("2031-01-01T00:00:00Z", False)],
)
def test_a_signature_published_before_the_minimum_is_refused(signed_dir, key, minimum, served):
    bundle = Bundle.load(signed_dir)
    if served:  # the minimum is inclusive: signed at exactly that second is served
        assert verify_bundle(bundle, trusted_key(key), minimum=minimum).published_at == PUBLISHED_AT
        return
    with pytest.raises(RollbackError, match=f"published at {PUBLISHED_AT}, before the minimum {minimum}") as raised:
        verify_bundle(bundle, trusted_key(key), minimum=minimum)
    assert "pin its version folder in MODEL_URI" in str(raised.value) and len(str(raised.value)) < 400


def test_a_forged_publish_time_breaks_the_signature(signed_dir, key):
    # GIVEN the attacker (s3:PutObject only) rewrites an old signature's time past the minimum
    doc = document(signed_dir)
    doc["published_at"] = LATER
    (signed_dir / SIGNATURE_FILE).write_text(json.dumps(doc))
    # THEN the signature no longer matches: the time is as authentic as the card
    with pytest.raises(SignatureError, match=f"does not match card version .* published at {LATER}") as raised:
        verify_bundle(Bundle.load(signed_dir), trusted_key(key), minimum=LATER)
    assert not isinstance(raised.value, RollbackError)


def test_a_downgrade_to_the_old_envelope_breaks_the_signature(signed_dir, key):
    # GIVEN a /2 signature relabelled /1 (the old format carries no time, so no minimum could be checked)
    doc = document(signed_dir)
    doc["format"] = signing.SIGNATURE_FORMAT_V1
    (signed_dir / SIGNATURE_FILE).write_text(json.dumps(doc))
    with pytest.raises(SignatureError, match="does not match"):
        verify_bundle(Bundle.load(signed_dir), trusted_key(key))


def test_an_old_signature_without_a_time_is_served_only_with_no_minimum(signed_dir, key):
    sign_bundle(signed_dir, key, published_at=None)  # a litelens.signature/1 document, as written before
    assert document(signed_dir)["format"] == "litelens.signature/1"
    verified = verify_bundle(Bundle.load(signed_dir), trusted_key(key))
    assert verified.published_at is None and verified.key
    with pytest.raises(RollbackError, match=r"litelens\.signature/1 signature with no publish time, and a minimum"):
        verify_bundle(Bundle.load(signed_dir), trusted_key(key), minimum=EARLIER)


@pytest.mark.parametrize("value", ["soon", "", 1748779200, None, "2025-06-01T12:00:00.5Z", "2025-06-31T00:00:00Z"])
def test_a_badly_spelled_publish_time_in_a_signature_is_a_signature_error(signed_dir, key, value):
    doc = document(signed_dir)
    doc["published_at"] = value
    (signed_dir / SIGNATURE_FILE).write_text(json.dumps(doc))
    with pytest.raises(SignatureError, match=r"bundle\.sig\.json: published_at .*UTC time") as raised:
        verify_bundle(Bundle.load(signed_dir), trusted_key(key))
    assert len(str(raised.value)) < 200


def test_a_badly_spelled_minimum_is_a_signature_error_not_a_crash(signed_dir, key):
    with pytest.raises(SignatureError, match="the minimum publish time 'tomorrow' is not a UTC time"):
        verify_bundle(Bundle.load(signed_dir), trusted_key(key), minimum="tomorrow")


@pytest.mark.parametrize(
    ("uri", "pinned"),
    [
        ("s3://models/credit/versions/0123abcd", "0123abcd"),
        ("s3://models/credit/versions/0123abcd/", "0123abcd"),
        ("s3://models/credit", None),
        ("s3://models/versions", None),
        ("/srv/models/credit/versions/0123abcd", "0123abcd"),
        ("/srv/models/credit", None),
        ("", None),
    ],
)
def test_which_model_uris_pin_a_version(uri, pinned):
    assert pinned_version(uri) == pinned


def test_load_model_applies_the_minimum_unless_the_uri_pins_that_version(tmp_path, key):
    # GIVEN a bundle signed at PUBLISHED_AT in a local versions/<v> folder, and a later minimum
    version = structural_bundle(tmp_path / "staging").card.version
    folder = tmp_path / "credit" / "versions" / version
    structural_bundle(folder)
    sign_bundle(folder, key)
    public = public_b64(key)
    # THEN the folder pinned by name is served (the deployer chose that one version) ...
    with pytest.raises(BundleError, match=NOT_A_MODEL):
        load_model(str(folder), signing_key=public, min_published_at=LATER)
    # ... and the same bundle reached any other way (a copy: as latest.json would lead to it) is refused
    unpinned = tmp_path / "copy"
    structural_bundle(unpinned)
    sign_bundle(unpinned, key)
    with pytest.raises(RollbackError, match="before the minimum"):
        load_model(str(unpinned), signing_key=public, min_published_at=LATER)
    with pytest.raises(BundleError, match=NOT_A_MODEL):
        load_model(str(unpinned), signing_key=public, min_published_at=PUBLISHED_AT)
    # a pin names a version: a folder named for another version pins nothing
    assert pinned_version(str(tmp_path / "credit" / "versions" / "other")) != version


def test_load_model_refuses_a_minimum_without_a_key(signed_dir):
    with pytest.raises(BundleError, match="minimum publish time needs a signing key"):
        load_model(str(signed_dir), min_published_at=EARLIER)


class _LocalKms:
    """KMS's GetPublicKey and Sign, answered with a local P-256 key."""

    def __init__(self, private_key):
        self.private_key = private_key

    def get_public_key(self, KeyId):  # boto3's argument names
        der = signing.public_key_der(self.private_key.public_key())
        return {"KeyId": KeyId, "KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY", "PublicKey": der}

    def sign(self, KeyId, Message, MessageType, SigningAlgorithm):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return {"KeyId": KeyId, "Signature": self.private_key.sign(Message, ec.ECDSA(hashes.SHA256()))}


def test_the_signer_signs_the_publish_time_it_is_given(signed_dir, key):
    signer = KmsSigner(_LocalKms(key), "arn:aws:kms:us-east-1:111122223333:key/test")
    (signed_dir / SIGNATURE_FILE).write_bytes(signer.sign(Bundle.load(signed_dir).card, LATER))
    assert verify_bundle(Bundle.load(signed_dir), trusted_key(key), minimum=LATER).published_at == LATER
    with pytest.raises(SigningError, match="cannot sign: published_at 'now' is not a UTC time"):
        signer.sign(Bundle.load(signed_dir).card, "now")


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"BundleMinPublishedAt": PUBLISHED_AT}, "rule MinPublishedAtNeedsSigningKey"),
        ({"BundleMinPublishedAt": "2025-06-01", "BundleSigningPublicKey": "MFkw"}, "does not match"),
        ({"BundleMinPublishedAt": PUBLISHED_AT, "BundleSigningPublicKey": "MFkw"}, None),
        ({}, None),
    ],
)
def test_the_template_takes_a_minimum_spelled_as_a_utc_time_and_only_with_a_key(overrides, says):
    from litelens.infra.aws.parameters import parameter_problems
    from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate

    template = SamTemplate.load(DEFAULT_TEMPLATE, parameter_overrides=overrides)
    problems = parameter_problems(template)
    assert (problems == []) if says is None else (len(problems) == 1 and says in problems[0]), problems
    variables = template.data["Globals"]["Function"]["Environment"]["Variables"]
    assert variables[constants.MIN_PUBLISHED_AT] == {"Ref": "BundleMinPublishedAt"}  # both functions read it
