"""template.yaml, the single source of functions, routes and environment, checked against the
code and against least privilege; and what SAM makes of its auth parameters."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from litelens.functions.common import constants, events, openapi
from litelens.functions.common.settings import Settings
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate, load_template

TEMPLATE = SamTemplate.load(DEFAULT_TEMPLATE)
RESOURCES = TEMPLATE.data["Resources"]
ENV_NAMES = {value for name, value in vars(constants).items() if name.isupper() and isinstance(value, str)}


def walk(value: Any):
    """Every dict nested anywhere in value."""
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def test_one_rest_api_carries_every_route():
    apis = [n for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Api"]
    assert apis == ["LitelensApi"]
    routes = {(r.method, r.path, r.function) for r in TEMPLATE.routes()}
    assert {
        ("POST", "/predict", "PredictFunction"),
        ("GET", "/metadata", "PredictFunction"),
        ("POST", "/explain", "ExplainFunction"),
        ("POST", "/v2/models/{name}/infer", "PredictFunction"),
        ("POST", "/v1/models/{model}", "ExplainFunction"),
    } <= routes
    assert routes == {(method, path, function) for method, path, function, _ in openapi.ROUTES}
    for name in TEMPLATE.function_ids():
        for event in RESOURCES[name]["Properties"]["Events"].values():
            assert event["Type"] == "Api" and event["Properties"]["RestApiId"] == {"Ref": "LitelensApi"}


def test_functions_packaging_as_the_build_expects():
    predict = RESOURCES["PredictFunction"]
    assert predict["Properties"]["CodeUri"] == "functions/predict/"
    assert predict["Properties"]["Handler"] == "app.lambda_handler"
    assert predict["Properties"]["Runtime"] == "python3.12"
    assert predict["Metadata"] == {"BuildMethod": "makefile"}
    assert TEMPLATE.data["Globals"]["Function"]["Architectures"] == ["x86_64"]
    explain = RESOURCES["ExplainFunction"]
    assert explain["Properties"]["PackageType"] == "Image"
    assert explain["Properties"]["ImageConfig"]["Command"] == ["app.lambda_handler"]
    assert explain["Metadata"]["Dockerfile"] == "functions/explain/Dockerfile"
    p, e = TEMPLATE.function("PredictFunction"), TEMPLATE.function("ExplainFunction")
    assert e.memory_size > p.memory_size and e.timeout > p.timeout
    assert e.timeout <= 29  # API Gateway's integration timeout
    assert p.handler_file.as_posix().endswith("functions/predict/app.py")
    assert e.handler_file.as_posix().endswith("functions/explain/app.py")


def test_every_parameter_has_a_default_that_satisfies_its_own_constraints():
    for name, spec in TEMPLATE.parameters.items():
        assert "Default" in spec, name
        default = str(spec["Default"])
        if "AllowedValues" in spec:
            assert default in [str(v) for v in spec["AllowedValues"]], name
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], default), name
        if spec["Type"] == "Number":
            assert spec.get("MinValue", float("-inf")) <= float(default) <= spec.get("MaxValue", float("inf")), name


def test_environment_variable_names_are_the_constants_modules():
    for name in TEMPLATE.function_ids():
        env = TEMPLATE.environment(name)
        unknown = sorted(set(env) - ENV_NAMES)
        assert not unknown, f"{name}: {unknown} not defined in functions/common/constants.py"
        assert constants.MODEL_URI in env


def test_model_uri_is_packaged_by_default_and_s3_when_a_bucket_is_given():
    assert TEMPLATE.environment("PredictFunction")[constants.MODEL_URI] == ""
    s3 = SamTemplate.load(DEFAULT_TEMPLATE, parameter_overrides={"ModelBucket": "bkt", "ModelPrefix": "m/credit"})
    for name in s3.function_ids():
        assert s3.environment(name)[constants.MODEL_URI] == "s3://bkt/m/credit"


def test_no_wildcard_iam_actions_and_s3_read_only_on_the_model_prefix():
    statements = [d for d in walk(TEMPLATE.data) if "Effect" in d and "Action" in d]
    assert statements, "expected the S3 read statement"
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in a for a in actions), statement
        assert actions == ["s3:GetObject"]
        assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ModelBucket}/${ModelPrefix}/*"}
    for name in TEMPLATE.function_ids():
        policies = RESOURCES[name]["Properties"]["Policies"]
        # the statement exists only when the model is on S3
        assert [p["Fn::If"][0] for p in policies] == ["UseS3Model"], name
        assert policies[0]["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def test_tracing_logs_and_outputs():
    assert TEMPLATE.data["Globals"]["Function"]["Tracing"] == "Active"
    assert RESOURCES["LitelensApi"]["Properties"]["TracingEnabled"] is True
    for name, group in (("PredictFunction", "PredictLogGroup"), ("ExplainFunction", "ExplainLogGroup")):
        assert RESOURCES[name]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": group}
        assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    outputs = TEMPLATE.data["Outputs"]
    assert {"ApiUrl", "PredictFunctionArn", "ExplainFunctionArn", "ApiKeyId"} <= set(outputs)
    assert outputs["ApiKeyId"]["Condition"] == "UseApiKey"


def _sam_transform(overrides: dict[str, str]) -> dict[str, Any]:
    """What SAM makes of the template (in-process: the translator sam validate and CloudFormation use)."""
    from samtranslator.translator.transform import transform

    data = copy.deepcopy(load_template(DEFAULT_TEMPLATE))
    # Artifacts that exist only after `sam build`/`sam package`.
    data["Resources"]["PredictFunction"]["Properties"]["CodeUri"] = "s3://artifacts/predict.zip"
    data["Resources"]["ExplainFunction"]["Properties"]["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/e:1"

    class NoManagedPolicies:
        def load(self):
            return {}

    return transform(data, overrides, NoManagedPolicies())


@pytest.fixture
def aws_region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")


@pytest.mark.parametrize(
    ("overrides", "security"),
    [
        ({}, [{"api_key": []}]),
        ({"ApiKeyRequired": "", "IamAuthorizer": "AWS_IAM"}, [{"AWS_IAM": []}]),
        ({"IamAuthorizer": "AWS_IAM"}, [{"AWS_IAM": []}, {"api_key": []}]),
    ],
)
def test_sam_applies_the_auth_mode_to_every_route(aws_region, overrides, security):
    out = _sam_transform(overrides)["Resources"]
    paths = out["LitelensApi"]["Properties"]["Body"]["paths"]
    # SAM's own API definition has exactly the documented routes (OpenAPI paths, {name} parameters)
    assert set(paths) == {path for _, path, _, _ in openapi.ROUTES}
    for path, methods in paths.items():
        for method, operation in methods.items():
            if method == "options":
                continue  # the CORS preflight: open by design (see the test below)
            got = operation.get("security", [])
            assert sorted(map(str, got)) == sorted(map(str, security)), (path, method, got)


def test_sam_builds_the_usage_plan_with_throttle_and_quota(aws_region):
    # SAM resolves the Auth block's parameters when it expands the template: defaults, or overrides
    out = _sam_transform({})["Resources"]
    plan = out["LitelensApiUsagePlan"]["Properties"]
    assert plan["Throttle"] == {"RateLimit": 50, "BurstLimit": 100}
    assert plan["Quota"] == {"Limit": 100000, "Period": "DAY"}
    custom = _sam_transform({"ThrottleRateLimit": "7", "QuotaPerDay": "900"})["Resources"]
    assert custom["LitelensApiUsagePlan"]["Properties"]["Throttle"]["RateLimit"] == "7"
    assert custom["LitelensApiUsagePlan"]["Properties"]["Quota"]["Limit"] == "900"
    assert out["LitelensApiApiKey"]["Type"] == "AWS::ApiGateway::ApiKey"
    for role in (r for r in out.values() if r["Type"] == "AWS::IAM::Role"):
        for statement in walk(role["Properties"].get("Policies", [])):
            if "Action" in statement:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert all("*" not in a for a in actions)


@pytest.mark.parametrize(
    "overrides", [{}, {"ApiKeyRequired": "", "IamAuthorizer": "AWS_IAM"}, {"IamAuthorizer": "AWS_IAM"}]
)
def test_cors_preflight_needs_no_credentials_and_matches_the_functions_headers(aws_region, overrides):
    # GIVEN what SAM makes of the template's Cors in every auth mode
    paths = _sam_transform(overrides)["Resources"]["LitelensApi"]["Properties"]["Body"]["paths"]
    preflight = TEMPLATE.cors_preflight_headers()
    # what the functions send with the template's default origin (Settings' default when unset)
    sent_by_functions = events.response_headers(Settings().cors_origin)
    answers = {k: v for k, v in sent_by_functions.items() if k.startswith("Access-Control-")}
    assert TEMPLATE.resolve({"Ref": "CorsOrigin"}) == constants.CORS_ORIGIN_DEFAULT
    for path in paths:
        options = paths[path]["options"]
        # THEN a browser's preflight (no key, no signature) reaches API Gateway's mock answer
        assert "security" not in options and options["x-amazon-apigateway-integration"]["type"] == "mock"
        # with the headers the functions' own answers carry
        parameters = options["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
        sent = {name.rsplit(".", 1)[1] for name in parameters}
        assert sent == set(preflight)
    assert {k: v for k, v in preflight.items() if k in answers} == answers
