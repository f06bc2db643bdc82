"""Signed bundles end to end on moto's server (S3 + KMS on 127.0.0.1): `litelens publish --sign-key`
signs with a KMS key, the functions verify at init, and the class-swap attack (s3:PutObject alone: a
new version folder, a card re-hashed with the two classes swapped, latest.json) is refused."""

from __future__ import annotations

import base64
import json
import shutil

import boto3
import pytest

from litelens.build.bundle import CARD_FILE, SIGNATURE_FILE, Bundle, BundleError, signing
from litelens.build.bundle.versioning import card_version
from litelens.functions.common import constants
from litelens.functions.common.model import load_model
from litelens.infra.aws.publish import PublishError, publish
from litelens.infra.aws.signer import KmsSigner
from litelens.infra.cli import main as litelens_main
from tests.support.moto_s3 import MODEL_BUCKET, signing_key
from tests.support.predict_app import import_predict_app

BUCKET = MODEL_BUCKET  # the `s3` fixture's bucket (tests/integration/conftest.py)
ROW = [[41, 52000, 0.31, 6]]


@pytest.fixture
def kms(endpoint, s3):
    return boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def bundle(binary_bundle, tmp_path):
    """A copy of the trained binary bundle (signing writes bundle.sig.json into the folder)."""
    return shutil.copytree(binary_bundle, tmp_path / "credit")


def _public_key(kms, key) -> str:
    return base64.b64encode(kms.get_public_key(KeyId=key)["PublicKey"]).decode()


def _app(tmp_path, uri, key=None):
    env = {constants.MODEL_CACHE_DIR: str(tmp_path / "cache")}
    if key:
        env[constants.SIGNING_PUBLIC_KEY] = key
    return import_predict_app(uri, **env)


def _label(app, lambda_context):
    return app.lambda_handler({"instances": ROW}, lambda_context)["predictions"][0]["label"]


def _class_swap(s3, bundle_path, prefix) -> str:
    """What an attacker with s3:PutObject on the prefix does: a new version folder holding the same
    files and the genuine signature, a card with the classes swapped and re-hashed, latest.json."""
    card = json.loads((bundle_path / CARD_FILE).read_text())
    card["classes"].reverse()
    card["version"] = card_version(card)
    folder = f"{prefix}/versions/{card['version']}"
    for name in [*card["files"], SIGNATURE_FILE]:
        s3.put_object(Bucket=BUCKET, Key=f"{folder}/{name}", Body=(bundle_path / name).read_bytes())
    s3.put_object(Bucket=BUCKET, Key=f"{folder}/{CARD_FILE}", Body=json.dumps(card).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/latest.json", Body=json.dumps({"version": card["version"]}).encode())
    return card["version"]


def test_the_class_swap_attack_is_refused_when_signing_is_required(
    s3, kms, endpoint, bundle, tmp_path, lambda_context, capsys
):
    key = signing_key(endpoint)
    public = _public_key(kms, key)
    # GIVEN the genuine bundle published signed: served, with or without signing required
    publish(bundle, f"s3://{BUCKET}/credit", s3=s3, signer=KmsSigner(kms, key))
    genuine = _label(_app(tmp_path, f"s3://{BUCKET}/credit", public), lambda_context)
    assert _label(_app(tmp_path, f"s3://{BUCKET}/credit"), lambda_context) == genuine
    # WHEN the attacker swaps the classes in a new version and points latest.json at it
    forged = _class_swap(s3, bundle, "credit")
    # THEN without signing the function serves it and answers the opposite class (the attack works)
    unsigned = _app(tmp_path / "a", f"s3://{BUCKET}/credit")
    assert unsigned.MODEL.card.version == forged and _label(unsigned, lambda_context) != genuine
    # and with signing required the init refuses it, in one log line, and never answers
    capsys.readouterr()
    with pytest.raises(signing.SignatureError, match=f"does not match card version {forged}"):
        _app(tmp_path / "b", f"s3://{BUCKET}/credit", public)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and json.loads(lines[0])["level"] == "ERROR"


def test_an_unsigned_bundle_is_refused_when_signing_is_required(s3, kms, endpoint, bundle, tmp_path):
    public = _public_key(kms, signing_key(endpoint))
    publish(bundle, f"s3://{BUCKET}/credit", s3=s3)
    assert load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path).card.version == Bundle.load(bundle).card.version
    with pytest.raises(BundleError, match=r"not signed: no bundle\.sig\.json"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path, signing_key=public)


def test_signing_an_already_published_version_adds_its_signature(s3, kms, endpoint, bundle, tmp_path):
    key = signing_key(endpoint, alias="litelens-bundles")
    first = publish(bundle, f"s3://{BUCKET}/credit", s3=s3)
    again = publish(bundle, f"s3://{BUCKET}/credit", s3=s3, signer=KmsSigner(kms, "alias/litelens-bundles"))
    assert again.already_published and again.uploaded == [SIGNATURE_FILE] and again.version == first.version
    model = load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path, signing_key=_public_key(kms, key))
    assert model.signed_by == signing.key_fingerprint(kms.get_public_key(KeyId=key)["PublicKey"])
    # a signature of another key in S3 (re-signed by someone else) fails the warm cache's check too
    other = signing_key(endpoint)
    publish(bundle, f"s3://{BUCKET}/credit", s3=s3, signer=KmsSigner(kms, other))
    with pytest.raises(BundleError, match="not the trusted key"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path, signing_key=_public_key(kms, key))


def test_a_pinned_version_folder_must_hold_that_version(s3, bundle, tmp_path):
    # GIVEN a version's objects copied under another version's folder name
    version = publish(bundle, f"s3://{BUCKET}/credit", s3=s3).version
    for name in [*Bundle.load(bundle).card.files, CARD_FILE]:
        s3.put_object(Bucket=BUCKET, Key=f"credit/versions/0123456789abcdef/{name}", Body=(bundle / name).read_bytes())
    # THEN a MODEL_URI pinned to that folder is refused, signing or not
    with pytest.raises(BundleError, match=f"is version {version}, its folder is 0123456789abcdef"):
        load_model(f"s3://{BUCKET}/credit/versions/0123456789abcdef", cache_dir=tmp_path)
    assert load_model(f"s3://{BUCKET}/credit/versions/{version}", cache_dir=tmp_path).card.version == version


def test_cli_publish_sign_key_uploads_a_signature_the_printed_key_verifies(s3, endpoint, bundle, capsys):
    signing_key(endpoint, alias="bundles")
    argv = ["publish", str(bundle), f"s3://{BUCKET}/cli", "--endpoint-url", endpoint, "--sign-key", "alias/bundles"]
    assert litelens_main(argv) == 0
    out = capsys.readouterr().out
    public = out.split("BundleSigningPublicKey=", 1)[1].split()[0]
    version = Bundle.load(bundle).card.version
    remote = s3.get_object(Bucket=BUCKET, Key=f"cli/versions/{version}/{SIGNATURE_FILE}")["Body"].read()
    assert remote == (bundle / SIGNATURE_FILE).read_bytes()
    assert json.loads(remote)["key_id"].startswith("arn:aws:kms:us-east-1:")
    assert signing.verify_bundle(Bundle.load(bundle), signing.public_key(public))


@pytest.mark.parametrize(
    ("key", "message"),
    [("rsa", "is RSA_2048 for SIGN_VERIFY; bundles are signed with an ECC_NIST_P256"), ("missing", "KMS refused")],
)
def test_cli_refuses_a_key_that_cannot_sign_before_uploading(s3, endpoint, bundle, capsys, key, message):
    key_id = signing_key(endpoint, key_spec="RSA_2048") if key == "rsa" else "alias/no-such-key"
    argv = ["publish", str(bundle), f"s3://{BUCKET}/cli", "--endpoint-url", endpoint, "--sign-key", key_id]
    assert litelens_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="cli/")


def test_a_legacy_card_is_not_signed(s3, kms, endpoint, bundle):
    from litelens.build.bundle.versioning import FORMAT_V1, legacy_version

    card = json.loads((bundle / CARD_FILE).read_text())
    card["format"] = FORMAT_V1
    card["version"] = legacy_version(card["files"], card["task"], card["features"], card["classes"], card["schema"])
    (bundle / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(PublishError, match="rebuild the bundle"):
        publish(bundle, f"s3://{BUCKET}/old", s3=s3, signer=KmsSigner(kms, signing_key(endpoint)))
    assert publish(bundle, f"s3://{BUCKET}/old", s3=s3).version == card["version"]  # unsigned, as before
