"""`litelens deploy`: the sam commands it prints and runs, and what sam reads from them."""

from __future__ import annotations

import argparse
import shlex

import pytest
from samcli.cli.types import CfnParameterOverridesType

from litelens.infra import deploy
from litelens.infra.cli import main as litelens_main


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    deploy.add_arguments(parser)
    return parser.parse_args(argv)


def printed_commands(out: str) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in out.splitlines() if line.startswith("$ ")]


def overrides_as_sam_reads_them(command: list[str]) -> dict[str, str]:
    start = command.index("--parameter-overrides") + 1
    end = next((i for i in range(start, len(command)) if command[i].startswith("--")), len(command))
    return CfnParameterOverridesType().convert(tuple(command[start:end]), None, None)


def test_dry_run_prints_build_then_deploy_and_runs_nothing(capsys):
    argv = [
        "deploy",
        "--dry-run",
        "--model-uri",
        "s3://models-bkt/credit/v2",
        "--stage",
        "prod",
        "--region",
        "eu-west-1",
    ]
    argv += ["--image-repository", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/litelens", "--explain-memory", "3008"]
    assert litelens_main(argv) == 0
    build, deploy_cmd = printed_commands(capsys.readouterr().out)
    assert build[:2] == ["sam", "build"] and build[-2:] == ["--region", "eu-west-1"]
    assert deploy_cmd[:2] == ["sam", "deploy"]
    assert deploy_cmd[deploy_cmd.index("--template-file") + 1] == ".aws-sam/build/template.yaml"
    assert "CAPABILITY_IAM" in deploy_cmd and "--resolve-s3" in deploy_cmd
    repos = deploy_cmd[deploy_cmd.index("--image-repositories") + 1]
    assert repos == "ExplainFunction=123456789012.dkr.ecr.eu-west-1.amazonaws.com/litelens"
    assert overrides_as_sam_reads_them(deploy_cmd) == {
        "ModelBucket": "models-bkt",
        "ModelPrefix": "credit/v2",
        "StageName": "prod",
        "ApiKeyRequired": "true",
        "IamAuthorizer": "",
        "ExplainMemorySize": "3008",
    }


@pytest.mark.parametrize(
    ("auth", "expected"),
    [("api-key", ("true", "")), ("iam", ("", "AWS_IAM")), ("iam+api-key", ("true", "AWS_IAM"))],
)
def test_auth_modes_set_both_auth_parameters_explicitly(auth, expected):
    # GIVEN an empty ("off") value WHEN sam parses the overrides THEN it still sees the key with ""
    _, deploy_cmd = deploy.commands(parse(["--auth", auth]))
    params = overrides_as_sam_reads_them(deploy_cmd)
    assert (params["ApiKeyRequired"], params["IamAuthorizer"]) == expected
    assert params["ModelBucket"] == ""  # no --model-uri: the packaged bundle


def test_no_build_and_resolve_image_repos():
    commands = deploy.commands(parse(["--no-build"]))
    assert len(commands) == 1 and commands[0][1] == "deploy"
    assert "--resolve-image-repos" in commands[0]


def test_a_failing_command_stops_the_sequence(capsys):
    ran: list = []
    code = deploy.run(parse([]), runner=lambda cmd: ran.append(cmd) or 3)
    assert code == 3 and len(ran) == 1 and ran[0][1] == "build"
    assert "`sam build` failed with exit code 3" in capsys.readouterr().err


def test_commands_run_in_order_when_they_succeed(capsys):
    ran: list = []
    assert deploy.run(parse(["--stack-name", "s1"]), runner=lambda cmd: ran.append(cmd[1]) or 0) == 0
    assert ran == ["build", "deploy"]
    assert capsys.readouterr().out.count("$ sam ") == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model-uri", "http://nope"], "is not an s3:// URI"),
        (["--parameter", "NoSuchParameter=1"], "has no parameter(s) NoSuchParameter"),
        (["--parameter", "novalue"], "is not NAME=VALUE"),
        (["--sam", "/no/such/sam"], "not found: install the AWS SAM CLI"),
    ],
)
def test_errors_exit_2_with_one_line(capsys, argv, message):
    assert litelens_main(["deploy", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
