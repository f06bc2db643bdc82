"""The S3 layout both sides share: what a URI names, where versions and latest.json live."""

from __future__ import annotations

import json

import pytest

from litelens.build.bundle import s3 as layout


def test_reading_accepts_a_bucket_root_and_strips_slashes():
    assert layout.parse_s3_uri("s3://bucket") == ("bucket", "")
    assert layout.parse_s3_uri("s3://bucket/a/b/") == layout.S3Location("bucket", "a/b")
    assert layout.parse_s3_uri("s3://bucket/m/versions/abc") == ("bucket", "m/versions/abc")  # one version


@pytest.mark.parametrize(
    ("uri", "strict", "message"),
    [
        ("http://bucket/p", False, "is not an s3:// URI"),
        ("s3:///p", False, "names no bucket"),
        ("s3://bucket", True, "needs a bucket and a prefix"),
        ("s3://bucket/a/../b", True, "'.' or '..' segment"),
        ("s3://bucket/a//b", True, "empty, '.' or '..' segment"),
        ("s3://bucket/m/versions/abc", True, "names a version folder"),
    ],
)
def test_each_refusal_says_why(uri, strict, message):
    with pytest.raises(layout.S3UriError, match=message.replace(".", r"\.").replace("(", r"\(")):
        layout.parse_s3_uri(uri, strict=strict)


def test_keys_under_a_prefix_or_the_bucket_root():
    assert layout.version_prefix("models/credit", "abc123") == "models/credit/versions/abc123"
    assert layout.version_prefix("", "abc123") == "versions/abc123"
    assert layout.latest_key("models/credit") == "models/credit/latest.json"
    assert layout.latest_key("") == "latest.json"
    assert layout.names_a_version("m/versions/abc") and not layout.names_a_version("versions")


def test_the_pointer_round_trips_and_only_version_ids_are_followed():
    pointer = json.loads(layout.latest_pointer("abc123", "credit", "2024-01-01T00:00:00Z"))
    assert pointer == {"version": "abc123", "name": "credit", "published_at": "2024-01-01T00:00:00Z"}
    assert layout.pointed_version(pointer) == "abc123"
    for bad in (".", "..", "a/b", "", 7, None):
        assert layout.pointed_version({"version": bad}) is None


def test_the_layout_module_needs_no_boto3():
    import subprocess
    import sys

    script = "import sys; sys.modules['boto3'] = None; sys.modules['botocore'] = None\n"
    script += "import litelens.build.bundle.s3"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True).returncode == 0
