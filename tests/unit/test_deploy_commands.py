"""`litelens deploy`: the sam commands it prints and runs, and what sam reads from them."""

from __future__ import annotations

import argparse
import shlex

import pytest
from samcli.cli.types import CfnParameterOverridesType

from litelens.build.command import CommandError, ExitCode
from litelens.infra.aws import deploy
from litelens.infra.cli import main as litelens_main
from tests.support.structural_bundle import structural_bundle


@pytest.fixture
def bundle(tmp_path, monkeypatch) -> str:
    """A bundle at bundles/credit inside a stand-in repository root (the explain image's Docker context)."""
    monkeypatch.setattr(deploy, "ROOT", tmp_path)
    return str(structural_bundle(tmp_path / "bundles" / "credit").path)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    deploy.add_arguments(parser)
    return parser.parse_args(argv)


def printed_commands(out: str) -> list[tuple[dict[str, str], list[str]]]:
    """(environment assignments, argv) of every `$ ...` line, as a shell would read them."""
    commands = []
    for line in out.splitlines():
        if line.startswith("$ "):
            words = shlex.split(line[2:])
            start = words.index("sam")
            commands.append((dict(w.split("=", 1) for w in words[:start]), words[start:]))
    return commands


def overrides_as_sam_reads_them(command: list[str]) -> dict[str, str]:
    start = command.index("--parameter-overrides") + 1
    end = next((i for i in range(start, len(command)) if command[i].startswith("--")), len(command))
    return CfnParameterOverridesType().convert(tuple(command[start:end]), None, None)


def test_dry_run_prints_build_then_deploy_and_runs_nothing(capsys, bundle):
    argv = [
        "deploy",
        "--dry-run",
        "--bundle",
        bundle,
        "--model-uri",
        "s3://models-bkt/credit/v2",
        "--stage",
        "prod",
        "--region",
        "eu-west-1",
    ]
    argv += ["--image-repository", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/litelens", "--explain-memory", "3008"]
    assert litelens_main(argv) == 0
    (build_env, build), (deploy_env, deploy_cmd) = printed_commands(capsys.readouterr().out)
    # the predict Makefile packages the bundle named by LITELENS_BUNDLE
    assert build_env == {"LITELENS_BUNDLE": bundle} and deploy_env == {}
    assert build[:2] == ["sam", "build"]
    # ... and the explain image gets the same bundle through the template's Docker build arg parameter
    assert overrides_as_sam_reads_them(build) == {"PackagedBundle": "bundles/credit"} and build[-2:] == [
        "--region",
        "eu-west-1",
    ]
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
def test_auth_modes_set_both_auth_parameters_explicitly(auth, expected, bundle):
    # GIVEN an empty ("off") value WHEN sam parses the overrides THEN it still sees the key with ""
    _, deploy_cmd = deploy.commands(parse(["--auth", auth, "--bundle", bundle]))
    params = overrides_as_sam_reads_them(deploy_cmd.argv)
    assert (params["ApiKeyRequired"], params["IamAuthorizer"]) == expected
    assert params["ModelBucket"] == ""  # no --model-uri: the packaged bundle


def test_no_build_and_resolve_image_repos():
    commands = deploy.commands(parse(["--no-build"]))  # no bundle needed: nothing is packaged
    assert len(commands) == 1 and commands[0].argv[1] == "deploy"
    assert "--resolve-image-repos" in commands[0].argv


def test_a_failing_command_stops_the_sequence(bundle):
    ran: list = []
    with pytest.raises(CommandError) as failed:
        deploy.run(parse(["--bundle", bundle]), runner=lambda cmd, env: ran.append(cmd) or 3)
    # one meaning per exit code: sam's own code is in the message, litelens exits 1 (a step failed)
    assert failed.value.exit_code == ExitCode.FAILED and len(ran) == 1 and ran[0][1] == "build"
    assert failed.value.lines == ["`sam build` failed with exit code 3"]


def test_commands_run_in_order_when_they_succeed(capsys, bundle):
    ran: list = []
    runner = lambda cmd, env: ran.append((cmd[1], env)) or 0  # noqa: E731
    assert deploy.run(parse(["--stack-name", "s1", "--bundle", bundle]), runner=runner) == 0
    assert ran == [("build", {"LITELENS_BUNDLE": bundle}), ("deploy", {})]
    assert [argv[:2] for _, argv in printed_commands(capsys.readouterr().out)] == [["sam", "build"], ["sam", "deploy"]]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model-uri", "http://nope"], "is not an s3:// URI"),
        (["--parameter", "NoSuchParameter=1"], "has no parameter(s) NoSuchParameter"),
        (["--parameter", "novalue"], "is not NAME=VALUE"),
        (["--parameter", "ExplainReservedConcurrency=-5"], "ExplainReservedConcurrency=-5 is below its minimum 0"),
        (["--parameter", "AllowUnauthenticated=yes"], "AllowUnauthenticated='yes' is not one of"),
        (["--sam", "/no/such/sam"], "not found: install the AWS SAM CLI"),
        (["--bundle", "/no/such/bundle"], "cannot package the bundle: bundle folder /no/such/bundle does not exist"),
        (["--bundle", "{outside}"], "the bundle must be inside"),
    ],
)
def test_errors_exit_2_with_one_line(capsys, argv, message, bundle, tmp_path_factory):
    outside = structural_bundle(tmp_path_factory.mktemp("elsewhere") / "b").path
    argv = [a.format(outside=outside) for a in argv]
    if "--bundle" not in argv:
        argv = [*argv, "--bundle", bundle]
    assert litelens_main(["deploy", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
