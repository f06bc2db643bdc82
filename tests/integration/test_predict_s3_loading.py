"""The predict function loading its bundle from S3 (moto's server on loopback): follows latest.json
or a version folder, verifies every sha256, reuses the /tmp cache, and refuses corrupt or missing objects."""

from __future__ import annotations

import json

import pytest

from litelens.build.bundle import CARD_FILE, MODEL_FILE, SHAP_BACKGROUND_FILE, Bundle, BundleError
from litelens.functions.common import constants
from litelens.functions.common.bundle_source import cache_folder, download_s3_bundle
from litelens.functions.common.model import load_model
from litelens.infra.aws.publish import publish
from tests.support.moto_s3 import MODEL_BUCKET
from tests.support.predict_app import import_predict_app

BUCKET = MODEL_BUCKET  # the `s3` fixture's bucket (tests/integration/conftest.py)
ROWS = [[41, 52000, 0.31, 6], [29, 23000, 0.95, 1]]


@pytest.fixture
def published(s3, binary_bundle):
    """s3://models/credit with the binary bundle published under its version and latest.json."""
    result = publish(binary_bundle, f"s3://{BUCKET}/credit", s3=s3)
    return Bundle.load(binary_bundle).card.version, result


class CountingClient:
    def __init__(self, client) -> None:
        self.client, self.keys = client, []

    def get_object(self, **kwargs):
        self.keys.append(kwargs["Key"])
        return self.client.get_object(**kwargs)


def test_handler_serves_the_latest_published_version(published, binary_bundle, tmp_path, lambda_context):
    version, _ = published
    app = import_predict_app(f"s3://{BUCKET}/credit", **{constants.MODEL_CACHE_DIR: str(tmp_path)})
    assert app.MODEL.card.version == version
    assert app.MODEL.bundle.path == cache_folder(tmp_path, BUCKET, f"credit/versions/{version}")
    assert (
        app.MODEL.bundle.path.parent == tmp_path / BUCKET
        and f"credit_versions_{version}-" in app.MODEL.bundle.path.name
    )
    local = import_predict_app(binary_bundle)
    assert app.lambda_handler({"instances": ROWS}, lambda_context) == local.lambda_handler({"instances": ROWS}, None)


def test_a_version_folder_uri_is_served_directly(published, tmp_path):
    version, _ = published
    model = load_model(f"s3://{BUCKET}/credit/versions/{version}/", cache_dir=tmp_path)
    assert model.card.version == version


class GetObjectOnlyClient:
    """What the function's role sees with only s3:GetObject: a missing key is 403 AccessDenied."""

    def __init__(self, client) -> None:
        self.client, self.keys = client, []

    def get_object(self, **kwargs):
        from botocore.exceptions import ClientError

        self.keys.append(kwargs["Key"])
        try:
            return self.client.get_object(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchKey":
                error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
                raise ClientError(error, "GetObject") from None
            raise


def test_without_list_bucket_a_version_folder_and_a_flat_prefix_still_load(published, s3, binary_bundle, tmp_path):
    version, _ = published
    # a version folder: no latest.json lookup at all
    client = GetObjectOnlyClient(s3)
    path = download_s3_bundle(f"s3://{BUCKET}/credit/versions/{version}", tmp_path / "a", client=client)
    assert Bundle.load(path).card.version == version and not any(k.endswith("latest.json") for k in client.keys)
    # a prefix holding the bundle files directly (no latest.json, whose GET is then AccessDenied)
    for file in binary_bundle.iterdir():
        s3.put_object(Bucket=BUCKET, Key=f"flat/{file.name}", Body=file.read_bytes())
    path = download_s3_bundle(f"s3://{BUCKET}/flat", tmp_path / "b", client=GetObjectOnlyClient(s3))
    assert Bundle.load(path).card.version == version
    # a missing object of the bundle is still an error, not "absent"
    with pytest.raises(BundleError, match="AccessDenied"):
        download_s3_bundle(f"s3://{BUCKET}/nothing", tmp_path / "c", client=GetObjectOnlyClient(s3))


@pytest.mark.parametrize("version", [".", "..", "../../x", "a b"])
def test_a_latest_pointer_naming_no_version_is_refused_and_deletes_nothing(published, s3, tmp_path, version):
    real, _ = published
    cached = download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=s3)
    s3.put_object(Bucket=BUCKET, Key="credit/latest.json", Body=json.dumps({"version": version}).encode())
    with pytest.raises(BundleError, match="has no valid version"):
        download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=s3)
    assert Bundle.load(cached).card.version == real


def test_a_bundle_at_the_bucket_root_never_replaces_another_cached_location(published, s3, binary_bundle, tmp_path):
    version, _ = published
    deep = download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=s3)
    for file in binary_bundle.iterdir():
        s3.put_object(Bucket=BUCKET, Key=file.name, Body=file.read_bytes())
    root = download_s3_bundle(f"s3://{BUCKET}", tmp_path, client=s3)
    assert root != deep and deep not in root.parents and root not in deep.parents
    assert Bundle.load(deep).card.version == version


def test_warm_start_reuses_the_verified_cache(published, s3, tmp_path):
    version, _ = published
    first = CountingClient(s3)
    path = download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=first)
    assert len(first.keys) == 2 + len(Bundle.load(path).card.files)  # latest.json, bundle.json, every file
    again = CountingClient(s3)
    assert download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=again) == path
    assert again.keys == ["credit/latest.json", f"credit/versions/{version}/{CARD_FILE}"]


def test_a_damaged_cache_is_downloaded_again(published, s3, tmp_path):
    path = download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=s3)
    (path / MODEL_FILE).write_bytes(b"tampered")
    again = CountingClient(s3)
    assert download_s3_bundle(f"s3://{BUCKET}/credit", tmp_path, client=again) == path
    assert any(key.endswith(MODEL_FILE) for key in again.keys)
    assert Bundle.load(path).verify() == []


def test_corrupted_object_fails_init_and_leaves_no_cache(published, s3, tmp_path, capsys):
    version, _ = published
    # GIVEN a model object changed after publishing
    s3.put_object(Bucket=BUCKET, Key=f"credit/versions/{version}/{MODEL_FILE}", Body=b"corrupted model bytes")
    # WHEN the function starts
    with pytest.raises(BundleError, match=f"{MODEL_FILE} is corrupt: sha256"):
        import_predict_app(f"s3://{BUCKET}/credit", **{constants.MODEL_CACHE_DIR: str(tmp_path)})
    # THEN init fails with one clear log line, and nothing half-downloaded is left to be reused
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["level"] == "ERROR" and "corrupt" in lines[0]
    assert not cache_folder(tmp_path, BUCKET, f"credit/versions/{version}").exists()
    assert not list((tmp_path / BUCKET).iterdir())  # no temporary folder either


def test_missing_object_fails_init(published, s3, tmp_path):
    version, _ = published
    s3.delete_object(Bucket=BUCKET, Key=f"credit/versions/{version}/{SHAP_BACKGROUND_FILE}")
    with pytest.raises(BundleError, match=f"{SHAP_BACKGROUND_FILE} is missing"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path)


def test_missing_prefix_names_both_places_it_looked(s3, tmp_path):
    with pytest.raises(BundleError, match=r"neither latest\.json nor bundle\.json"):
        load_model(f"s3://{BUCKET}/nothing-here", cache_dir=tmp_path)


def test_latest_pointing_at_a_missing_version(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="credit/latest.json", Body=json.dumps({"version": "0123456789ab"}).encode())
    with pytest.raises(BundleError, match="points at version 0123456789ab"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path)


def test_latest_and_card_versions_must_agree(published, s3, tmp_path):
    version, _ = published
    card = json.loads(s3.get_object(Bucket=BUCKET, Key=f"credit/versions/{version}/{CARD_FILE}")["Body"].read())
    s3.put_object(Bucket=BUCKET, Key="other/latest.json", Body=json.dumps({"version": "fedcba987654"}).encode())
    s3.put_object(Bucket=BUCKET, Key=f"other/versions/fedcba987654/{CARD_FILE}", Body=json.dumps(card).encode())
    with pytest.raises(BundleError, match=f"is version {version}, latest.json says fedcba987654"):
        load_model(f"s3://{BUCKET}/other", cache_dir=tmp_path)


def test_malformed_latest_pointer(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="credit/latest.json", Body=b"{not json")
    with pytest.raises(BundleError, match=r"latest\.json is not valid JSON"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path)


def test_missing_bucket_is_a_bundle_error(s3, tmp_path):
    with pytest.raises(BundleError, match="cannot read s3://no-such-bucket/"):
        load_model("s3://no-such-bucket/credit", cache_dir=tmp_path)


def test_an_oversized_pointer_or_card_is_refused_before_it_is_read(s3, published, tmp_path):
    # GIVEN a 1 MB latest.json (the cap is 64 KiB): refused by its size, not parsed
    version, _ = published
    s3.put_object(
        Bucket=BUCKET, Key="credit/latest.json", Body=b" " * (1 << 20) + json.dumps({"version": version}).encode()
    )
    with pytest.raises(BundleError, match=r"latest\.json is 1048.* bytes; the loader reads at most 65536"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path)
    # and a card nested 100,000 deep is a BundleError, not a RecursionError
    s3.put_object(Bucket=BUCKET, Key="deep/bundle.json", Body=b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(BundleError, match="nested too deeply"):
        load_model(f"s3://{BUCKET}/deep", cache_dir=tmp_path)


def test_a_bundle_over_its_size_cap_is_refused_while_streaming(s3, published, tmp_path, monkeypatch):
    # GIVEN a cap smaller than the published model file
    from litelens.functions.common import bundle_source

    monkeypatch.setattr(bundle_source, "MAX_FILE_BYTES", 1000)
    with pytest.raises(BundleError, match=r"model.tflite is .*bytes; the loader reads at most 1000"):
        load_model(f"s3://{BUCKET}/credit", cache_dir=tmp_path)
    # THEN nothing half-downloaded is left to be served
    assert not list(tmp_path.rglob(MODEL_FILE))
