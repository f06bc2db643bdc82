"""template.yaml, the single source of functions, routes and environment, checked against the
code and against least privilege; and what SAM makes of its auth parameters."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from litelens.functions.common import constants, events, openapi
from litelens.functions.common.settings import Settings
from litelens.infra.aws.parameters import parameter_problems
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from tests.support.sam import sam_transform as _sam_transform

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
    found = [d for d in walk(TEMPLATE.data) if "Effect" in d and "Action" in d]
    # Trust policies (who may assume a role) apart: the only one lets API Gateway write its logs.
    trusts = [s for s in found if "Principal" in s]
    assert trusts == [
        {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    statements = [s for s in found if "Principal" not in s]
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


# -- deploy safety: concurrency, access log, authentication rules, parameter constraints ---------


@pytest.mark.parametrize(
    ("function", "parameter", "default"),
    [("PredictFunction", "PredictReservedConcurrency", 50), ("ExplainFunction", "ExplainReservedConcurrency", 10)],
)
def test_reserved_concurrency_bounds_each_function_and_zero_leaves_it_unreserved(function, parameter, default):
    reserved = {"R": RESOURCES[function]["Properties"]["ReservedConcurrentExecutions"]}
    assert TEMPLATE.parameters[parameter]["Default"] == default
    assert TEMPLATE.resolve(reserved) == {"R": str(default)}
    unreserved = SamTemplate.load(DEFAULT_TEMPLATE, parameter_overrides={parameter: "0"})
    # 0 drops the property (Lambda's own 0 would throttle every call)
    assert unreserved.resolve(reserved) == {}


def test_the_stage_access_log_is_one_json_object_naming_who_what_and_how_it_ended():
    setting = RESOURCES["LitelensApi"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    text = setting["Format"]
    # API Gateway substitutes each $context variable; messageString comes quoted, the rest inside quotes
    sample = re.sub(r"\$context\.error\.messageString", '"an \\\\"error\\\\""', text)
    record = json.loads(re.sub(r"\$context\.[A-Za-z.]+", "value", sample))
    assert {
        "requestId", "ip", "caller", "user", "requestTime", "httpMethod", "resourcePath", "status", "protocol",
        "responseLength", "integrationLatency", "apiKeyId",
    } <= set(record)  # fmt: skip
    assert "\n" not in text  # one line per request
    assert '$context.identity.apiKey"' not in text  # the key's id, never the key
    group = RESOURCES["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}


@pytest.mark.parametrize(("choice", "created"), [("create", True), ("existing", False)])
def test_the_account_logging_role_is_created_only_when_asked_and_outlives_the_stack(choice, created):
    template = SamTemplate.load(DEFAULT_TEMPLATE, parameter_overrides={"ApiGatewayLogsRole": choice})
    for name in ("ApiGatewayAccount", "ApiGatewayLogsRoleResource"):
        resource = RESOURCES[name]
        assert template.condition(resource["Condition"]) is created
        # API Gateway's setting is per account and region: deleting the stack must not break other APIs
        assert resource["DeletionPolicy"] == "Retain" and resource["UpdateReplacePolicy"] == "Retain"
    assert RESOURCES["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLogsRoleResource", "Arn"]
    }
    # the log group (which the stage needs) waits for the account setting when this stack makes it
    tags = {t["Key"]: t["Value"] for t in RESOURCES["ApiAccessLogGroup"]["Properties"]["Tags"]}
    assert tags["litelens:apigateway-logs-role"]["Fn::If"][1] == {"Ref": "ApiGatewayAccount"}


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, False),
        ({"ApiKeyRequired": "", "IamAuthorizer": "AWS_IAM"}, False),
        ({"IamAuthorizer": "AWS_IAM"}, False),
        ({"ApiKeyRequired": "", "IamAuthorizer": ""}, True),
        ({"ApiKeyRequired": "", "IamAuthorizer": "", "AllowUnauthenticated": "true"}, False),
    ],
)
def test_rules_refuse_an_api_without_authentication_unless_explicitly_allowed(overrides, refused):
    problems = parameter_problems(SamTemplate.load(DEFAULT_TEMPLATE, parameter_overrides=overrides))
    if refused:
        assert len(problems) == 1 and "RequireAuthentication" in problems[0], problems
        assert "AllowUnauthenticated=true" in problems[0]
    else:
        assert problems == []


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("AllowUnauthenticated", "", "is not one of"),
        ("AllowUnauthenticated", "yes", "is not one of"),
        ("ApiKeyRequired", "false", "is not one of"),
        ("ApiGatewayLogsRole", "", "is not one of"),
        ("PredictReservedConcurrency", "-1", "below its minimum"),
        ("ExplainReservedConcurrency", "", "is not a number"),
        ("CorsOrigin", "https://a.example'; x", "does not match"),
        ("AccessLogRetentionDays", "2", "is not one of"),
    ],
)
def test_parameter_values_outside_their_constraints_are_refused(name, value, says):
    problems = parameter_problems(SamTemplate.load(DEFAULT_TEMPLATE, parameter_overrides={name: value}))
    assert len(problems) == 1 and problems[0].startswith(name) and says in problems[0], problems


def test_every_string_parameter_is_constrained_so_a_typo_or_empty_value_is_not_taken_silently():
    for name, spec in TEMPLATE.parameters.items():
        if spec["Type"] == "String":
            assert "AllowedValues" in spec or "AllowedPattern" in spec, name


def test_sam_keeps_the_rules_concurrency_and_access_log(aws_region):
    out = _sam_transform({})
    assert "RequireAuthentication" in out["Rules"]
    stage = out["Resources"]["LitelensApiStage"]["Properties"]
    assert stage["AccessLogSetting"] == RESOURCES["LitelensApi"]["Properties"]["AccessLogSetting"]
    for name in ("PredictFunction", "ExplainFunction"):
        assert "ReservedConcurrentExecutions" in out["Resources"][name]["Properties"]
