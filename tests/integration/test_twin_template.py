"""What the local twin takes from the template, over stand-in handlers: its routes (all, or a chosen
subset's), each function's environment with parameter and environment overrides, short-form tags,
and the process environment put back when it stops."""

from __future__ import annotations

import json
import os

import pytest
from botocore.exceptions import ClientError

from litelens.infra.aws.template import SamTemplate
from litelens.infra.local.serve import Twin
from tests.support.twin_requests import call, lambda_client


def test_routes_are_exactly_the_templates_api_events(twin):
    assert [(r.method, r.path, r.function) for _, r in twin.routes] == [
        ("POST", "/echo", "EchoFunction"),
        ("GET", "/items/{id}", "EchoFunction"),
        ("GET", "/boom", "EchoFunction"),
        ("GET", "/bad", "EchoFunction"),
        ("GET", "/slow", "EchoFunction"),
        ("GET", "/image", "ImageFunction"),
        ("GET", "/broken", "BrokenFunction"),
    ]


def test_environment_comes_from_the_template_per_function(twin):
    _, _, raw = call(twin, "POST", "/echo", body="{}")
    assert json.loads(raw)["import_env"] == {
        "GREETING": "hello",
        "MODE": "hello-on",
        "WHO": "echo",
        "REGION_SEEN": "us-east-1",
    }
    # the image function (also app.py) is its own module with its own environment
    _, _, raw = call(twin, "GET", "/image")
    image = json.loads(raw)
    assert image["who"] == "image" and image["module"].startswith("_litelens_twin_ImageFunction")


def test_parameter_overrides_and_env_overrides(template_dir):
    template = SamTemplate.load(template_dir / "template.yaml", parameter_overrides={"Flag": "off", "Greeting": "hi"})
    with Twin(template, env_overrides={"WHO": "override"}, api_port=0, lambda_port=None) as local:
        _, _, raw = call(local, "POST", "/echo", body="{}")
    assert json.loads(raw)["import_env"] == {
        "GREETING": "hi",
        "MODE": "",
        "WHO": "override",
        "REGION_SEEN": "us-east-1",
    }


def test_unknown_parameter_override_is_an_error(template_dir):
    with pytest.raises(ValueError, match="unknown template parameter"):
        SamTemplate.load(template_dir / "template.yaml", parameter_overrides={"Nope": "1"})


def test_environment_is_restored_after_stop(template_dir):
    before = (os.environ.get("GREETING"), os.environ.get("WHO"))
    template = SamTemplate.load(template_dir / "template.yaml", parameter_overrides={"Greeting": "restore-check"})
    with Twin(template, api_port=0, lambda_port=None):
        assert os.environ["GREETING"] == "restore-check"  # shared by every function: kept while serving
        assert os.environ.get("WHO") == before[1]  # differs per function: only set around each import
    assert (os.environ.get("GREETING"), os.environ.get("WHO")) == before


def test_template_short_form_tags_are_read(template_dir):
    template = SamTemplate.load(template_dir / "template.yaml")
    assert template.environment("EchoFunction")["MODE"] == "hello-on"
    assert template.stage_name() == "test"


def test_serving_a_subset_of_functions_drops_the_other_routes(template_dir):
    template = SamTemplate.load(template_dir / "template.yaml")
    with Twin(template, api_port=0, lambda_port=0, functions=["ImageFunction"]) as local:
        assert list(local.functions) == ["ImageFunction"]
        assert call(local, "GET", "/image")[0] == 200
        assert call(local, "POST", "/echo", body="{}")[0] == 404
        with pytest.raises(ClientError, match="ResourceNotFoundException"):
            lambda_client(local).invoke(FunctionName="EchoFunction", Payload=b"{}")
    with pytest.raises(ValueError, match=r"no function.*NopeFunction"):
        Twin(template, functions=["NopeFunction"])
