"""`litelens publish` against a real S3 API: moto's server mode on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json

import pytest

from litelens.build.bundle import CARD_FILE, MODEL_FILE, S3_LATEST_POINTER
from litelens.infra.aws import publish as publish_mod
from litelens.infra.cli import main as litelens_main
from tests.support.moto_s3 import moto_s3_server
from tests.support.structural_bundle import structural_bundle


@pytest.fixture(scope="module")
def moto_s3():
    """(endpoint_url, client) of a moto S3 server on a free loopback port, with fake credentials."""
    with moto_s3_server() as endpoint:
        yield endpoint, publish_mod.s3_client(endpoint)


@pytest.fixture
def bucket(moto_s3, request):
    _, s3 = moto_s3
    name = "litelens-" + hashlib.sha1(request.node.name.encode()).hexdigest()[:10]
    s3.create_bucket(Bucket=name)
    return name


def _get(s3, bucket, key) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_publish_uploads_every_file_under_its_version_and_latest_last(moto_s3, bucket, tmp_path):
    # GIVEN a bundle WHEN published THEN every file lands under versions/<version>/ byte for byte
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    result = publish_mod.publish(bundle.path, f"s3://{bucket}/models/credit", s3=s3)
    version = bundle.card.version
    assert result.version == version and not result.already_published
    for name in [*bundle.card.files, CARD_FILE]:
        assert _get(s3, bucket, f"models/credit/versions/{version}/{name}") == (bundle.path / name).read_bytes()
    assert result.uploaded[-1] == CARD_FILE  # the card goes last within the version
    latest = json.loads(_get(s3, bucket, f"models/credit/{S3_LATEST_POINTER}"))
    assert latest["version"] == version and latest["name"] == "tiny" and latest["published_at"].endswith("Z")


def test_republishing_identical_content_uploads_nothing_and_moves_latest(moto_s3, bucket, tmp_path):
    _, s3 = moto_s3
    first = structural_bundle(tmp_path / "a", model=b"model-one")
    second = structural_bundle(tmp_path / "b", model=b"model-two")
    publish_mod.publish(first.path, f"s3://{bucket}/m", s3=s3)
    publish_mod.publish(second.path, f"s3://{bucket}/m", s3=s3)
    assert json.loads(_get(s3, bucket, "m/latest.json"))["version"] == second.card.version
    # WHEN the first version is published again (a rollback) THEN nothing is uploaded, latest moves back
    again = publish_mod.publish(first.path, f"s3://{bucket}/m", s3=s3)
    assert again.already_published and again.uploaded == []
    assert json.loads(_get(s3, bucket, "m/latest.json"))["version"] == first.card.version


def test_an_existing_version_with_other_content_is_never_overwritten(moto_s3, bucket, tmp_path):
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3, update_latest=False)
    key = f"m/versions/{bundle.card.version}/{MODEL_FILE}"
    s3.put_object(Bucket=bucket, Key=key, Body=b"tampered")
    # WHEN the same version is published again THEN it is refused and the remote object is untouched
    with pytest.raises(publish_mod.PublishError, match=r"already exists with different content.*model\.tflite"):
        publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3)
    assert _get(s3, bucket, key) == b"tampered"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="m/latest.json")


def test_an_interrupted_upload_is_resumed_keeping_intact_files(moto_s3, bucket, tmp_path):
    # GIVEN a version whose upload stopped part-way: some files there, one truncated, no bundle.json
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    target = f"m/versions/{bundle.card.version}/"
    names = sorted(bundle.card.files)
    s3.put_object(Bucket=bucket, Key=target + names[0], Body=(bundle.path / names[0]).read_bytes())
    s3.put_object(Bucket=bucket, Key=target + names[1], Body=(bundle.path / names[1]).read_bytes()[:3])
    # WHEN publishing again
    result = publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3)
    # THEN the intact file is kept, the rest (the truncated one included) uploaded, the card last
    assert not result.already_published
    assert result.uploaded == [*names[1:], CARD_FILE]
    for name in [*names, CARD_FILE]:
        assert _get(s3, bucket, target + name) == (bundle.path / name).read_bytes()
    assert json.loads(_get(s3, bucket, "m/latest.json"))["version"] == bundle.card.version


def test_an_incomplete_version_with_foreign_files_is_refused(moto_s3, bucket, tmp_path):
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    s3.put_object(Bucket=bucket, Key=f"m/versions/{bundle.card.version}/notes.txt", Body=b"mine")
    with pytest.raises(publish_mod.PublishError, match=r"not in this bundle \(notes\.txt\)"):
        publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3)


def test_a_folder_marker_in_the_version_is_not_a_foreign_file(moto_s3, bucket, tmp_path):
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    s3.put_object(Bucket=bucket, Key=f"m/versions/{bundle.card.version}/", Body=b"")
    assert publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3).uploaded[-1] == CARD_FILE


@pytest.mark.parametrize("prefix", ["team/versions/prod", "a/../b", "a//b"])
def test_prefixes_the_functions_would_misread_are_refused(moto_s3, bucket, tmp_path, prefix):
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    with pytest.raises(publish_mod.PublishError, match=r"versions/<name>|segment"):
        publish_mod.publish(bundle.path, f"s3://{bucket}/{prefix}", s3=s3)


def test_a_corrupt_download_after_upload_stops_before_latest(moto_s3, bucket, tmp_path, monkeypatch):
    # GIVEN S3 returning other bytes than were sent WHEN publishing THEN it fails and latest.json is not written
    _, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    monkeypatch.setattr(publish_mod, "_remote_sha256", lambda *_a: "0" * 64)
    with pytest.raises(publish_mod.PublishError, match="sha256 after upload"):
        publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="m/latest.json")


def test_cli_publishes_and_reports(moto_s3, bucket, tmp_path, capsys):
    endpoint, _ = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    assert litelens_main(["publish", str(bundle.path), f"s3://{bucket}/cli", "--endpoint-url", endpoint]) == 0
    out = capsys.readouterr().out
    assert f"s3://{bucket}/cli/versions/{bundle.card.version}/" in out
    assert "sha256 verified" in out


def test_cli_exits_1_when_s3_holds_other_content_or_does_not_answer(moto_s3, bucket, tmp_path, capsys, monkeypatch):
    # GIVEN a published version whose model was changed on S3 since
    endpoint, s3 = moto_s3
    bundle = structural_bundle(tmp_path / "b")
    publish_mod.publish(bundle.path, f"s3://{bucket}/m", s3=s3, update_latest=False)
    s3.put_object(Bucket=bucket, Key=f"m/versions/{bundle.card.version}/{MODEL_FILE}", Body=b"tampered")
    # WHEN it is published again THEN the command ran and found a mismatch: 1, as `litelens inspect`
    assert litelens_main(["publish", str(bundle.path), f"s3://{bucket}/m", "--endpoint-url", endpoint]) == 1
    assert "already exists with different content" in capsys.readouterr().err
    # WHEN nothing listens at the endpoint THEN the service failed: 1, as `litelens invoke`
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    argv = ["publish", str(bundle.path), f"s3://{bucket}/m", "--endpoint-url", "http://127.0.0.1:9"]
    assert litelens_main(argv) == 1
    err = capsys.readouterr().err
    assert "Could not connect" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{bundle}", "not-an-s3-uri"], "is not an s3:// URI"),
        (["{bundle}", "s3://only-bucket"], "needs a bucket and a prefix"),
        (["{missing}", "s3://{bucket}/m"], "does not exist"),
        (["{corrupt}", "s3://{bucket}/m"], "failed verification"),
        (["{bundle}", "s3://no-such-bucket-here/m"], "NoSuchBucket"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(moto_s3, bucket, tmp_path, capsys, args, message):
    endpoint, _ = moto_s3
    good = structural_bundle(tmp_path / "good").path
    corrupt = structural_bundle(tmp_path / "corrupt").path
    (corrupt / MODEL_FILE).write_bytes(b"changed after build")
    values = {"bundle": good, "missing": tmp_path / "nope", "corrupt": corrupt, "bucket": bucket}
    argv = ["publish", *(a.format(**values) for a in args), "--endpoint-url", endpoint]
    assert litelens_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
