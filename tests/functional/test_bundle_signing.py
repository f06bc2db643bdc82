"""Signed bundles served: the predict function serves a trained bundle only once the configured public
key's signature is on its card, and says why not in one log line at init (tests/unit/test_bundle_signing.py
checks the signatures without a model)."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

from litelens.build.bundle import signing
from litelens.build.bundle.signing import SignatureError
from litelens.functions.common import constants
from tests.support.predict_app import import_predict_app
from tests.support.signing import new_key, public_b64, sign_bundle


@pytest.fixture(scope="module")
def key():
    return new_key()


def test_a_signed_bundle_is_served_and_an_unsigned_one_fails_the_init_in_one_line(
    binary_bundle, tmp_path, key, capsys, lambda_context
):
    shutil.copytree(binary_bundle, tmp_path / "b")
    env = {constants.SIGNING_PUBLIC_KEY: public_b64(key)}
    # GIVEN signing required: an unsigned bundle fails the init with one JSON log line, and never answers
    with pytest.raises(SignatureError):
        import_predict_app(tmp_path / "b", **env)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["level"] == "ERROR" and "not signed" in record["error"]
    # WHEN the publisher signs it: served, the key named in the log
    sign_bundle(tmp_path / "b", key)
    app = import_predict_app(tmp_path / "b", **env)
    assert app.MODEL.signed_by == signing.key_fingerprint(base64.b64decode(public_b64(key)))
    assert "bundle signature verified" in capsys.readouterr().out
    answer = app.lambda_handler({"instances": [[41, 52000, 0.31, 6]]}, lambda_context)
    assert len(answer["predictions"]) == 1 and answer["model"]["version"] == app.MODEL.card.version
