"""The project's skeleton: imports resolve to our folders, the CLI lists its commands, the
interpreter is found in the documented order."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from litelens.build.bundle import tflite
from litelens.infra import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["build", "explain", "infra", "functions"])
def test_litelens_packages_are_the_top_level_folders(package):
    module = __import__(f"litelens.{package}", fromlist=["_"])
    assert Path(module.__file__).resolve().parent == ROOT / package


def test_pypa_build_name_is_not_shadowed_by_our_folder():
    # GIVEN our build/ folder WHEN something imports `build` THEN it is never our folder.
    found = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; s = u.find_spec('build'); print(s and s.origin)"],
        capture_output=True,
        text=True,
        cwd="/",
        check=True,
    ).stdout.strip()
    assert not found.startswith(str(ROOT / "build"))


def test_help_lists_every_subcommand(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("build", "inspect", "serve", "invoke", "bench", "publish", "deploy"):
        assert f"    {name}" in out


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "litelens"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    assert "publish" in out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def _fake_module(name: str, monkeypatch, *, has_interpreter: bool = True) -> type:
    cls = type(f"Interpreter_{name}", (), {})
    module = types.ModuleType(name)
    if has_interpreter:
        module.Interpreter = cls
    monkeypatch.setitem(sys.modules, name, module)
    return cls


def test_interpreter_prefers_ai_edge_litert(monkeypatch):
    first = _fake_module("fake_litert", monkeypatch)
    _fake_module("fake_tflite_runtime", monkeypatch)
    found, name = tflite.interpreter_class(("fake_litert", "fake_tflite_runtime"))
    assert (found, name) == (first, "fake_litert")


def test_interpreter_falls_back_in_order(monkeypatch):
    # GIVEN litert missing and a module without Interpreter WHEN looking up THEN the next one wins.
    monkeypatch.setitem(sys.modules, "fake_missing", None)  # None in sys.modules -> ImportError
    _fake_module("fake_broken", monkeypatch, has_interpreter=False)
    third = _fake_module("fake_tf_lite", monkeypatch)
    found, name = tflite.interpreter_class(("fake_missing", "fake_broken", "fake_tf_lite"))
    assert (found, name) == (third, "fake_tf_lite")


def test_interpreter_unavailable_names_every_attempt(monkeypatch):
    monkeypatch.setitem(sys.modules, "fake_a", None)
    monkeypatch.setitem(sys.modules, "fake_b", None)
    with pytest.raises(tflite.InterpreterUnavailable, match=r"fake_a.*fake_b"):
        tflite.interpreter_class(("fake_a", "fake_b"))


def test_default_order_is_litert_then_tflite_runtime_then_tensorflow():
    assert tflite.INTERPRETER_MODULES == (
        "ai_edge_litert.interpreter",
        "tflite_runtime.interpreter",
        "tensorflow.lite",
    )


def test_real_interpreter_is_ai_edge_litert():
    _cls, name = tflite.interpreter_class()
    assert name == "ai_edge_litert.interpreter"


def test_predict_requirements_match_the_lock():
    from litelens.infra import locks

    assert locks.PREDICT_REQUIREMENTS.read_text() == locks.predict_requirements(), "run `make lock`"


def test_predict_runtime_holds_only_litert_and_numpy_families():
    from litelens.infra import locks

    names = {pin.split("==")[0].lower() for pin in locks.exported_pins()}
    assert {"ai-edge-litert", "numpy"} <= names
    assert not names & {"tensorflow", "tensorflow-cpu", "shap", "lime", "scikit-learn", "pandas", "scipy", "keras"}


def test_every_shipped_pin_carries_the_locked_hashes():
    from litelens.infra import locks

    hashes = locks.locked_hashes()
    for path, pins in (
        (locks.PREDICT_REQUIREMENTS, locks.exported_pins()),
        (locks.EXPLAIN_REQUIREMENTS, locks.explain_pins()),
    ):
        text = path.read_text()
        for pin in pins:
            name, _, version = pin.partition("==")
            digests = hashes[(locks._name(name), version)]
            # THEN pip's --require-hashes accepts exactly the files uv.lock recorded, nothing else
            assert digests and all(f"--hash={d}" in text for d in digests), pin
    for build in ("functions/predict/Makefile", "functions/explain/Dockerfile"):
        assert "--require-hashes" in (locks.ROOT / build).read_text()
