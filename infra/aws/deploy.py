"""`litelens deploy`: ``sam build`` + ``sam deploy`` of template.yaml with the right parameters.

It turns a few litelens-level choices (where the model lives, stage, auth mode, memory sizes,
the ECR repository of the explain image) into the template's parameter overrides, prints every
command before running it (``--dry-run`` prints only), and passes every auth parameter
explicitly: for an existing stack, ``sam deploy`` would otherwise keep the previous values.
The explain function is a container image, so ``sam build`` needs Docker (as does any SAM image
build); ``--no-build`` deploys an earlier build. Exit codes: 2 for what it was given (a parameter the
template refuses, no ``sam``), 1 when ``sam build`` or ``sam deploy`` fails (its own code is in the
message).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from litelens.build.bundle import Bundle, BundleError
from litelens.build.command import CommandError, ExitCode
from litelens.infra.aws.parameters import check_parameters
from litelens.infra.aws.publish import PublishError, parse_s3_uri
from litelens.infra.aws.template import DEFAULT_TEMPLATE, ROOT, SamTemplate, TemplateError
from litelens.infra.cli import name_values

BUILD_DIR = ".aws-sam/build"
# The bundle packaged with the functions: the predict Makefile reads this variable during
# `sam build`; the explain image gets the template's PackagedBundle parameter as a Docker build arg
# (a path inside the repository, its Docker context).
PACKAGED_BUNDLE_VAR = "LITELENS_BUNDLE"
PACKAGED_BUNDLE_PARAMETER = "PackagedBundle"
DEMO_BUNDLE_PATH = "bundles/demo"  # what `make run` builds, relative to the repository root


class Command(NamedTuple):
    argv: list[str]
    env: dict[str, str]  # set on top of the caller's environment

    def shell(self) -> str:
        prefix = "".join(f"{k}={shlex.quote(v)} " for k, v in self.env.items())
        return prefix + shlex.join(self.argv)


# --auth -> (ApiKeyRequired, IamAuthorizer); SAM reads both at transform time, "" means off.
AUTH_MODES = {
    "api-key": ("true", ""),
    "iam": ("", "AWS_IAM"),
    "iam+api-key": ("true", "AWS_IAM"),
}


def _sam_value(value: str) -> str:
    """A --parameter-overrides entry value: SAM reads a bare ``Key=`` as no entry at all."""
    return value if value else '""'


def parameter_overrides(args: argparse.Namespace, template: SamTemplate) -> dict[str, str]:
    params: dict[str, str] = {}
    if args.model_uri:
        params["ModelBucket"], params["ModelPrefix"] = parse_s3_uri(args.model_uri)
    else:
        params["ModelBucket"] = ""  # the bundle packaged with the functions
    params["StageName"] = args.stage
    params["ApiKeyRequired"], params["IamAuthorizer"] = AUTH_MODES[args.auth]
    if args.predict_memory is not None:
        params["PredictMemorySize"] = str(args.predict_memory)
    if args.explain_memory is not None:
        params["ExplainMemorySize"] = str(args.explain_memory)
    params.update(name_values(args.parameter, "--parameter"))
    unknown = sorted(set(params) - set(template.parameters))
    if unknown:
        raise ValueError(f"template {args.template} has no parameter(s) {', '.join(unknown)}")
    # What CloudFormation would refuse (values, Rules) is refused here, before a build.
    check_parameters(SamTemplate(template.data, root=template.root, parameter_overrides=params))
    return params


def packaged_bundle(args: argparse.Namespace) -> Path:
    """The bundle `sam build` packages (the functions serve it when no --model-uri is given)."""
    path = Path(args.bundle).resolve() if args.bundle else ROOT / DEMO_BUNDLE_PATH
    try:
        Bundle.load(path)
    except BundleError as exc:
        hint = "" if args.bundle else " (run `make run` to build the demo bundle, or pass --bundle PATH)"
        raise ValueError(f"cannot package the bundle: {exc}{hint}") from None
    if not path.is_relative_to(ROOT):
        raise ValueError(
            f"cannot package {path}: the explain image's Docker build context is the repository, "
            f"so the bundle must be inside {ROOT} (e.g. copy it under bundles/)"
        )
    return path


def commands(args: argparse.Namespace) -> list[Command]:
    """The sam commands to run, in order."""
    template = SamTemplate.load(args.template)
    params = parameter_overrides(args, template)
    common: list[str] = []
    if args.region:
        common += ["--region", args.region]
    if args.profile:
        common += ["--profile", args.profile]
    out: list[Command] = []
    if not args.no_build:
        bundle = packaged_bundle(args)
        build = [args.sam, "build", "--template-file", args.template, "--build-dir", args.build_dir]
        build += ["--parameter-overrides", f"{PACKAGED_BUNDLE_PARAMETER}={bundle.relative_to(ROOT).as_posix()}"]
        out.append(Command(build + common, {PACKAGED_BUNDLE_VAR: str(bundle)}))
    deploy = [args.sam, "deploy", "--template-file", str(Path(args.build_dir) / "template.yaml")]
    deploy += ["--stack-name", args.stack_name, "--capabilities", "CAPABILITY_IAM"]
    deploy += ["--no-fail-on-empty-changeset"]
    if not args.confirm_changeset:
        deploy += ["--no-confirm-changeset"]
    deploy += ["--s3-bucket", args.s3_bucket] if args.s3_bucket else ["--resolve-s3"]
    image_functions = [f.logical_id for f in template.functions() if f.package_type == "Image"]
    if image_functions:
        if args.image_repository:
            deploy += ["--image-repositories", *(f"{name}={args.image_repository}" for name in image_functions)]
        else:
            deploy += ["--resolve-image-repos"]
    deploy += ["--parameter-overrides", *(f"{k}={_sam_value(v)}" for k, v in params.items())]
    out.append(Command(deploy + common, {}))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", default="litelens", help="CloudFormation stack (default: %(default)s)")
    parser.add_argument("--template", "-t", default=str(DEFAULT_TEMPLATE), help="SAM template")
    parser.add_argument(
        "--model-uri", help="s3://bucket/prefix published with `litelens publish` (default: the packaged bundle)"
    )
    parser.add_argument("--bundle", help=f"bundle to package with the functions (default: {DEMO_BUNDLE_PATH})")
    parser.add_argument("--stage", default="v1", help="API stage name (default: %(default)s)")
    parser.add_argument("--auth", choices=sorted(AUTH_MODES), default="api-key", help="API auth (default: %(default)s)")
    parser.add_argument("--predict-memory", type=int, help="predict function memory, MB")
    parser.add_argument("--explain-memory", type=int, help="explain function memory, MB")
    parser.add_argument(
        "--image-repository", help="ECR repository URI for the explain image (default: let SAM create one)"
    )
    parser.add_argument("--s3-bucket", help="bucket for the deployment artifacts (default: let SAM manage one)")
    parser.add_argument("--region", help="AWS region")
    parser.add_argument("--profile", help="AWS profile")
    parser.add_argument("--parameter", action="append", metavar="NAME=VALUE", help="any other template parameter")
    parser.add_argument("--build-dir", default=BUILD_DIR, help="sam build output (default: %(default)s)")
    parser.add_argument("--no-build", action="store_true", help="deploy the existing build")
    parser.add_argument("--confirm-changeset", action="store_true", help="let sam ask before executing the change set")
    parser.add_argument("--sam", default="sam", help="the sam executable (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands without running them")


def _subprocess(argv: Sequence[str], env: Mapping[str, str]) -> int:
    return subprocess.run(list(argv), env={**os.environ, **env}, check=False).returncode


def run(args: argparse.Namespace, runner: Callable[[Sequence[str], Mapping[str, str]], int] | None = None) -> int:
    try:
        planned = commands(args)
    except (ValueError, TemplateError, PublishError) as exc:
        raise CommandError(str(exc)) from exc
    if not args.dry_run and runner is None and shutil.which(args.sam) is None:
        raise CommandError(f"{args.sam!r} not found: install the AWS SAM CLI (pip install aws-sam-cli)")
    run_command = runner or _subprocess
    for command in planned:
        print(f"$ {command.shell()}", flush=True)
        if args.dry_run:
            continue
        code = run_command(command.argv, command.env)
        if code != 0:
            name = " ".join(command.argv[:2])
            raise CommandError(f"`{name}` failed with exit code {code}", exit_code=ExitCode.FAILED)
    return ExitCode.OK
