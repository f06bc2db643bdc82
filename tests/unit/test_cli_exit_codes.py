"""Every `litelens` command ends the same way: a ``CommandError`` caught in ``cli.main``, its lines on
stderr after ``litelens NAME: ``, and one of three exit codes with one meaning each (``ExitCode``:
0 done, 1 the command ran and found a problem, 2 usage or bad input)."""

from __future__ import annotations

import ast
import sys
import types
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from litelens.build.bundle import MODEL_FILE, BundleError
from litelens.build.command import CommandError, ExitCode
from litelens.build.export import ExportError
from litelens.build.problems import BuildInputError, BuildProblems
from litelens.infra import cli
from litelens.infra.aws.deploy import Command
from litelens.infra.aws.publish import PublishError, RemoteMismatch
from litelens.infra.aws.template import TemplateError
from litelens.infra.client import TransportError
from tests.support.structural_bundle import structural_bundle

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("build", "explain", "functions", "infra")


def test_the_exit_codes_have_one_meaning_each():
    assert {code.name: int(code) for code in ExitCode} == {"OK": 0, "FAILED": 1, "USAGE": 2}


def test_no_module_defines_exit_codes_of_its_own():
    # the codes are ExitCode's alone: no module-level EXIT_* constant beside them
    own = []
    for path in sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            own += [f"{path.relative_to(ROOT)}: {t.id}" for t in targets if isinstance(t, ast.Name)]
    assert [name for name in own if name.split(": ")[1].startswith("EXIT")] == []


def test_argparse_usage_errors_exit_with_the_usage_code(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["inspect", "--no-such-option", "b"])
    assert exited.value.code == ExitCode.USAGE and "unrecognized arguments" in capsys.readouterr().err


@pytest.fixture
def fake_command(monkeypatch):
    """A subcommand `fake` whose run() does what the test sets as ``module.behaviour``."""
    module = types.ModuleType("fake_litelens_command")
    module.add_arguments = lambda parser: None
    module.run = lambda args: module.behaviour()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake", (module.__name__, "a command for the tests"))
    return module


def test_main_prints_each_line_of_a_command_error_and_returns_its_code(fake_command, capsys):
    def behaviour():
        print("what it did before it stopped")
        raise CommandError("error: first", "error: second", exit_code=ExitCode.FAILED)

    fake_command.behaviour = behaviour
    assert cli.main(["fake"]) == 1
    out, err = capsys.readouterr()
    assert out == "what it did before it stopped\n"
    assert err == "litelens fake: error: first\nlitelens fake: error: second\n"


@pytest.mark.parametrize(("returned", "code"), [(None, 0), (ExitCode.OK, 0), (ExitCode.FAILED, 1)])
def test_main_returns_what_run_returns(fake_command, capsys, returned, code):
    fake_command.behaviour = lambda: returned
    assert cli.main(["fake"]) == code and capsys.readouterr().err == ""


def test_a_command_error_is_a_usage_error_unless_it_says_otherwise():
    assert CommandError("bad option").exit_code == ExitCode.USAGE
    assert str(CommandError("one", "two")) == "one\ntwo"


def _client_error(status: int, code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


def _raise(error: BaseException):
    def raising(*_args, **_kwargs):
        raise error

    return raising


BUILD = ["build", "--demo", "synthetic", "--out", "{tmp}/out"]
PUBLISH = ["publish", "{tmp}/b", "s3://bucket/models"]
# (argv, what to replace with what, the exit code, a line of stderr)
CASES = {
    "build: every problem of the input": (
        BUILD, {"litelens.build.cli:config_from_args": _raise(BuildProblems(["p1", "p2"]))},
        ExitCode.USAGE, "litelens build: error: p1\nlitelens build: error: p2\n",
    ),
    "build: one bad input": (
        BUILD, {"litelens.build.cli:config_from_args": _raise(BuildInputError("--rows must be"))},
        ExitCode.USAGE, "litelens build: error: --rows must be\n",
    ),
    "build: an output folder in the way": (
        BUILD, {"litelens.build.cli:config_from_args": _raise(BundleError("already exists"))},
        ExitCode.USAGE, "litelens build: error: already exists\n",
    ),
    "build: the export failed": (
        BUILD, {"litelens.build.cli:config_from_args": _raise(ExportError("converter said no"))},
        ExitCode.FAILED, "litelens build: converter said no\n",
    ),
    "inspect: not a bundle": (["inspect", "{tmp}/nothing"], {}, ExitCode.USAGE, "litelens inspect: error: "),
    "inspect: a file that does not match": (
        ["inspect", "{tmp}/corrupt"], {}, ExitCode.FAILED, "problem(s): the bundle does not match bundle.json",
    ),
    "inspect --json: a file that does not match": (["inspect", "--json", "{tmp}/corrupt"], {}, ExitCode.FAILED, ""),
    "publish: a bad destination": (
        PUBLISH, {"litelens.infra.aws.publish:publish": _raise(PublishError("not an s3:// URI"))},
        ExitCode.USAGE, "litelens publish: not an s3:// URI\n",
    ),
    "publish: other content already published": (
        PUBLISH, {"litelens.infra.aws.publish:publish": _raise(RemoteMismatch("already exists with different"))},
        ExitCode.FAILED, "litelens publish: already exists with different\n",
    ),
    "publish: S3 refuses the caller (4xx)": (
        PUBLISH, {"litelens.infra.aws.publish:publish": _raise(_client_error(404, "NoSuchBucket"))},
        ExitCode.USAGE, "litelens publish: S3 refused: NoSuchBucket: m\n",
    ),
    "publish: S3 fails (5xx)": (
        PUBLISH, {"litelens.infra.aws.publish:publish": _raise(_client_error(503, "SlowDown"))},
        ExitCode.FAILED, "litelens publish: S3 refused: SlowDown: m\n",
    ),
    "publish: S3 does not answer": (
        PUBLISH, {"litelens.infra.aws.publish:publish": _raise(EndpointConnectionError(endpoint_url="http://h:1"))},
        ExitCode.FAILED, 'Could not connect to the endpoint URL: "http://h:1"',
    ),
    "publish: no credentials": (
        PUBLISH, {"litelens.infra.aws.publish:publish": _raise(NoCredentialsError())},
        ExitCode.USAGE, "Unable to locate credentials",
    ),
    "deploy: a parameter the template refuses": (
        ["deploy"], {"litelens.infra.aws.deploy:commands": _raise(TemplateError("below its minimum"))},
        ExitCode.USAGE, "litelens deploy: below its minimum\n",
    ),
    "deploy: sam failed": (
        ["deploy", "--sam", sys.executable],
        {"litelens.infra.aws.deploy:commands": lambda args: [Command(["sam", "build"], {})],
         "litelens.infra.aws.deploy:_subprocess": lambda argv, env: 2},
        ExitCode.FAILED, "litelens deploy: `sam build` failed with exit code 2\n",
    ),
    "invoke: an explanation that cannot be drawn": (
        ["invoke", "explain", '{"instances": [{"a": 1}]}', "--url", "http://h:1", "--output", "json",
         "--plot", "{tmp}/why.png", "--instance", "3"],
        {"litelens.infra.client.api:LitelensClient.send": lambda self, route, request: {"explanations": []}},
        ExitCode.USAGE, "litelens invoke: no explanation for instance 3 to plot (0 returned)\n",
    ),
    "invoke: the service cannot be reached": (
        ["invoke", "predict", "[[1]]", "--url", "http://h:1"],
        {"litelens.infra.client.api:LitelensClient.send": _raise(TransportError("Connection refused"))},
        ExitCode.FAILED, "litelens invoke: Connection refused\n",
    ),
    "serve: a template it cannot read": (
        ["serve"], {"litelens.infra.local.serve:SamTemplate.load": _raise(TemplateError("unknown tag !Nope"))},
        ExitCode.USAGE, "litelens serve: unknown tag !Nope\n",
    ),
    "openapi: a bundle it cannot read": (
        ["openapi", "--bundle", "{tmp}/nothing"], {}, ExitCode.USAGE, "litelens openapi: bundle folder",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("argv", "patches", "code", "stderr"), CASES.values(), ids=CASES.keys())
def test_each_command_maps_its_errors_to_one_exit_code(monkeypatch, tmp_path, capsys, argv, patches, code, stderr):
    corrupt = structural_bundle(tmp_path / "corrupt").path
    (corrupt / MODEL_FILE).write_bytes(b"changed after build")
    for target, replacement in patches.items():
        module, _, attribute = target.partition(":")
        owner, _, name = attribute.rpartition(".")
        obj = __import__(module, fromlist=["_"])
        monkeypatch.setattr(getattr(obj, owner) if owner else obj, name, replacement)
    assert cli.main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == code
    lines = capsys.readouterr().err.splitlines(keepends=True)
    assert stderr in "".join(lines) and len(lines) == max(stderr.count("\n"), 1 if stderr else 0)
    assert all(line.startswith(f"litelens {argv[0]}: ") for line in lines)
