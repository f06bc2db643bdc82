"""moto in server mode on a free 127.0.0.1 port (S3 and KMS on one endpoint), with fake credentials
in the environment; ``signing_key`` makes an asymmetric KMS key there, as `litelens publish --sign-key` takes."""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

MODEL_BUCKET = "models"  # the bucket the integration tests' `s3` fixture creates (tests/integration/conftest.py)
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_s3_server() -> Iterator[str]:
    """Yield the endpoint URL; the environment and the server are restored/stopped afterwards."""
    from moto.server import ThreadedMotoServer

    patch = pytest.MonkeyPatch()
    for key, value in FAKE_CREDENTIALS.items():
        patch.setenv(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        patch.undo()


def empty_s3(endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An S3 client on a reset moto (its backends live in the server's process: every test starts from
    nothing) holding one empty ``bucket``; the loader's own ``boto3.client("s3")`` is pointed there too."""
    import boto3

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return client


def signing_key(endpoint: str, key_spec: str = "ECC_NIST_P256", alias: str | None = None) -> str:
    """The ARN of a new SIGN_VERIFY KMS key (``key_spec``) on moto's server; ``alias``: also named alias/<alias>."""
    import boto3

    kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")
    arn = kms.create_key(KeySpec=key_spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    if alias:
        kms.create_alias(AliasName=f"alias/{alias}", TargetKeyId=arn)
    return arn
