"""publish -> load from S3: a bundle published with `litelens publish` to moto's S3 server is
served by the real predict handler through the twin, with MODEL_URI coming from the template's
ModelBucket/ModelPrefix parameters, and answers exactly like the local bundle."""

from __future__ import annotations

import http.client
import json

import numpy as np

from litelens.build.bundle import Bundle
from litelens.functions.common import constants
from litelens.infra.aws.publish import publish, s3_client
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from litelens.infra.local.serve import Twin
from tests.support.bundles import credit_rows
from tests.support.moto_s3 import moto_s3_server


def ask(twin: Twin, method: str, path: str, body=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=60)
    try:
        headers = {} if body is None else {"Content-Type": "application/json"}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_published_bundle_is_served_from_s3_like_the_local_one(binary_bundle, tmp_path):
    card = Bundle.load(binary_bundle).card
    instances = credit_rows(16, seed=5).astype(np.float64).round(3).tolist()
    local = Twin(
        SamTemplate.load(DEFAULT_TEMPLATE),
        env_overrides={constants.MODEL_URI: str(binary_bundle)},
        api_port=0,
        lambda_port=None,
        functions=["PredictFunction"],
    )
    with local:
        status, expected = ask(local, "POST", "/predict", {"instances": instances})
    assert status == 200

    with moto_s3_server() as endpoint:
        s3 = s3_client(endpoint)
        s3.create_bucket(Bucket="litelens-models")
        # GIVEN the bundle published, and the template pointed at it by its own parameters
        publish(binary_bundle, "s3://litelens-models/credit/risk", s3=s3)
        template = SamTemplate.load(
            DEFAULT_TEMPLATE, parameter_overrides={"ModelBucket": "litelens-models", "ModelPrefix": "credit/risk"}
        )
        assert template.environment("PredictFunction")[constants.MODEL_URI] == "s3://litelens-models/credit/risk"
        env = {"AWS_ENDPOINT_URL_S3": endpoint, constants.MODEL_CACHE_DIR: str(tmp_path / "cache")}
        # WHEN the predict function starts from that environment
        with Twin(template, env_overrides=env, api_port=0, lambda_port=None, functions=["PredictFunction"]) as remote:
            function = remote.functions["PredictFunction"]
            assert function.handler is not None, function.init_error
            status_meta, metadata = ask(remote, "GET", "/metadata")
            status, got = ask(remote, "POST", "/predict", {"instances": instances})
    # THEN it serves the published version and the same predictions
    assert status_meta == 200 and metadata["version"] == card.version
    assert status == 200 and got["predictions"] == expected["predictions"]
