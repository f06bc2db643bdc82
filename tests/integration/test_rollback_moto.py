"""Rollback protection end to end on moto's server (S3 + KMS on 127.0.0.1): two versions published signed
by `litelens publish --sign-key` an hour apart, the minimum set to the second's publish time, and
latest.json pointed back at the first (what s3:PutObject on the prefix alone allows): the predict
function's init refuses it in one log line; a MODEL_URI pinning the first version's folder serves it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil

import boto3
import pytest

from litelens.build.bundle import CARD_FILE, Bundle
from litelens.build.bundle.signing import RollbackError
from litelens.build.bundle.versioning import card_version
from litelens.functions.common import constants
from litelens.infra.aws.publish import publish
from litelens.infra.aws.signer import KmsSigner
from litelens.infra.cli import main as litelens_main
from tests.support.moto_s3 import MODEL_BUCKET, signing_key
from tests.support.predict_app import import_predict_app

BUCKET = MODEL_BUCKET  # the `s3` fixture's bucket (tests/integration/conftest.py)
URI = f"s3://{BUCKET}/credit"
V1_AT = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
V2_AT = V1_AT + dt.timedelta(hours=1)
V2_TEXT = "2025-06-01T13:00:00Z"


@pytest.fixture
def kms(endpoint, s3):
    return boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def versions(binary_bundle, tmp_path):
    """Two bundles of the trained model with different cards (v2 renamed, so re-hashed): two versions."""
    v1 = shutil.copytree(binary_bundle, tmp_path / "v1")
    v2 = shutil.copytree(binary_bundle, tmp_path / "v2")
    card = json.loads((v2 / CARD_FILE).read_text())
    card["name"] = f"{card['name']}-v2"
    card["version"] = card_version(card)
    (v2 / CARD_FILE).write_text(json.dumps(card))
    return v1, v2


def _app(tmp_path, uri, public, minimum=""):
    env = {constants.MODEL_CACHE_DIR: str(tmp_path / "cache"), constants.SIGNING_PUBLIC_KEY: public}
    if minimum:
        env[constants.MIN_PUBLISHED_AT] = minimum
    return import_predict_app(uri, **env)


def _publish_both(s3, kms, key, versions):
    v1, v2 = (
        publish(path, URI, s3=s3, signer=KmsSigner(kms, key), clock=lambda at=at: at).version
        for path, at in zip(versions, (V1_AT, V2_AT), strict=True)
    )
    return v1, v2


def _point_latest_at(s3, version):
    """The attack: latest.json rewritten to name an older, genuinely signed version."""
    s3.put_object(Bucket=BUCKET, Key="credit/latest.json", Body=json.dumps({"version": version}).encode())


def test_a_rollback_of_latest_json_to_an_older_signed_version_fails_the_init(
    s3, kms, endpoint, versions, tmp_path, capsys
):
    key = signing_key(endpoint)
    public = base64.b64encode(kms.get_public_key(KeyId=key)["PublicKey"]).decode()
    v1, v2 = _publish_both(s3, kms, key, versions)
    # GIVEN v2 live and the minimum set to its publish time: served
    assert _app(tmp_path, URI, public, V2_TEXT).MODEL.card.version == v2
    # WHEN the attacker points latest.json back at v1
    _point_latest_at(s3, v1)
    # THEN with no minimum the signature alone lets the rollback through (the attack works) ...
    assert _app(tmp_path / "a", URI, public).MODEL.card.version == v1
    # ... and with the minimum the init refuses it, in one log line, and never answers
    capsys.readouterr()
    with pytest.raises(RollbackError, match=f"card version {v1} was signed as published at 2025-06-01T12:00:00Z"):
        _app(tmp_path / "b", URI, public, V2_TEXT)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["level"] == "ERROR" and f"before the minimum {V2_TEXT}" in record["error"]


def test_a_model_uri_pinning_the_older_version_serves_it_and_a_re_signature_rolls_back(
    s3, kms, endpoint, versions, tmp_path, capsys
):
    key = signing_key(endpoint)
    public = base64.b64encode(kms.get_public_key(KeyId=key)["PublicKey"]).decode()
    v1, _ = _publish_both(s3, kms, key, versions)
    # GIVEN the deployer names v1's folder in MODEL_URI: an explicit pin, the minimum does not apply
    pinned = _app(tmp_path, f"{URI}/versions/{v1}", public, V2_TEXT)
    assert pinned.MODEL.card.version == v1 and pinned.MODEL.pinned
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    verified = [r for r in records if r["message"] == "bundle signature verified"]
    assert verified and verified[0]["pinned"] is True and verified[0]["published_at"] == "2025-06-01T12:00:00Z"
    # and the key holder rolls back on purpose by signing v1 again (a new publish time), no pin needed
    later = V2_AT + dt.timedelta(minutes=5)
    again = publish(versions[0], URI, s3=s3, signer=KmsSigner(kms, key), clock=lambda: later)
    assert again.already_published and again.version == v1
    served = _app(tmp_path / "c", URI, public, V2_TEXT)
    assert served.MODEL.card.version == v1 and served.MODEL.published_at == "2025-06-01T13:05:00Z"


def test_cli_publish_prints_the_minimum_that_refuses_anything_older(s3, endpoint, versions, capsys):
    signing_key(endpoint, alias="bundles")
    argv = ["publish", str(versions[0]), URI, "--endpoint-url", endpoint, "--sign-key", "alias/bundles"]
    assert litelens_main(argv) == 0
    minimum = capsys.readouterr().out.split("BundleMinPublishedAt=", 1)[1].split()[0]
    signed = json.loads((versions[0] / "bundle.sig.json").read_text())
    latest = json.loads(s3.get_object(Bucket=BUCKET, Key="credit/latest.json")["Body"].read())
    assert signed["published_at"] == minimum == latest["published_at"]
    assert signed["version"] == latest["version"] == Bundle.load(versions[0]).card.version
