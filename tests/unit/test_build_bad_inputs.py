"""`litelens build` refuses every bad input with one line naming the column/row, exit 2, nothing written.

All of these fail during validation, before TensorFlow is imported: fast, no training.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from litelens.build.data import BuildInputError, read_csv
from litelens.infra.cli import main

GOOD_HEADER = "age,income,debt_ratio,label"


def _csv(tmp_path: Path, text: str, name: str = "train.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _rows(n: int, label=lambda i: i % 2) -> str:
    return "\n".join(f"{20 + i % 50},{30000 + 250 * i},{(i % 7) / 10},{label(i)}" for i in range(n))


def _build(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["build", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


CASES = {
    "missing file": (None, ["--target", "label"], "does not exist"),
    "missing target column": (GOOD_HEADER + "\n" + _rows(40), ["--target", "nope"], "no target column 'nope'"),
    "non-numeric column": (
        GOOD_HEADER + "\n" + _rows(5) + "\n33,abc,0.1,1\n" + _rows(30),
        ["--target", "label"],
        "row 7, column 'income': 'abc' is not a number",
    ),
    "row number counts blank lines": (
        GOOD_HEADER + "\n\n" + _rows(3) + "\n\n\n33,x,0.1,1\n" + _rows(30),
        ["--target", "label"],
        "row 8, column 'income'",
    ),
    "underscore number": (
        GOOD_HEADER + "\n" + _rows(3) + "\n33,1_000,0.1,1\n" + _rows(30),
        ["--target", "label"],
        "'1_000' is not a number",
    ),
    "infinite class label": (
        GOOD_HEADER + "\n" + _rows(3) + "\n33,1000,0.1,inf\n" + _rows(30),
        ["--target", "label", "--task", "binary"],
        "row 5: 'inf' is not a class label",
    ),
    "infinity among text labels": (
        GOOD_HEADER + "\n" + _rows(30, lambda i: ["yes", "no"][i % 2]) + "\n33,1000,0.1,-Infinity\n",
        ["--target", "label"],
        "row 32: '-Infinity' is not a class label",
    ),
    "regression target beyond float32": (
        GOOD_HEADER + "\n" + _rows(30, lambda i: i / 3) + "\n33,1000,0.1,1e39\n",
        ["--target", "label", "--task", "regression"],
        "row 32: 1e39 is too large for float32",
    ),
    "ragged row": (GOOD_HEADER + "\n" + _rows(2) + "\n33,4000\n", ["--target", "label"], "row 4: 2 cells"),
    "single class": (GOOD_HEADER + "\n" + _rows(40, lambda i: 1), ["--target", "label"], "single class ('1')"),
    "too few rows": (GOOD_HEADER + "\n" + _rows(12), ["--target", "label"], "too few rows for the split"),
    "unknown task": (
        GOOD_HEADER + "\n" + _rows(40),
        ["--target", "label", "--task", "ranking"],
        "unknown task 'ranking'",
    ),
    "binary with three classes": (
        GOOD_HEADER + "\n" + _rows(60, lambda i: "abc"[i % 3]),
        ["--target", "label", "--task", "binary"],
        "has 3 classes but --task binary needs exactly 2",
    ),
    "multiclass with two classes": (
        GOOD_HEADER + "\n" + _rows(60),
        ["--target", "label", "--task", "multiclass"],
        "has 2 classes but --task multiclass needs 3 or more",
    ),
    "regression on text labels": (
        GOOD_HEADER + "\n" + _rows(60, lambda i: "ab"[i % 2]),
        ["--target", "label", "--task", "regression"],
        "row 2: 'a' is not a number",
    ),
    "duplicate column": (
        "age,income,age,label\n" + _rows(40),
        ["--target", "label"],
        "column 'age' appears twice",
    ),
    "header only": (GOOD_HEADER + "\n", ["--target", "label"], "has a header but no rows"),
    "bad quantization": (GOOD_HEADER + "\n" + _rows(40), ["--target", "label", "--quantize", "int4"], "int4"),
    "bad hidden sizes": (GOOD_HEADER + "\n" + _rows(40), ["--target", "label", "--hidden", "128,x"], "--hidden"),
    "zero learning rate": (
        GOOD_HEADER + "\n" + _rows(40),
        ["--target", "label", "--learning-rate", "0"],
        "learning rate",
    ),
    "NaN metric drop": (
        GOOD_HEADER + "\n" + _rows(40),
        ["--target", "label", "--max-metric-drop", "nan"],
        "max metric drop must be a finite number",
    ),
    "negative seed": (GOOD_HEADER + "\n" + _rows(40), ["--target", "label", "--seed", "-1"], "seed must be between"),
    "zero patience": (GOOD_HEADER + "\n" + _rows(40), ["--target", "label", "--patience", "0"], "patience"),
    "bad validation split": (
        GOOD_HEADER + "\n" + _rows(40),
        ["--target", "label", "--validation-split", "1.5"],
        "validation split",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    text, args, expected = CASES[case]
    data = tmp_path / "absent.csv" if text is None else _csv(tmp_path, text)
    out = tmp_path / "bundles" / "model"
    # WHEN building from the bad input
    code, stdout, stderr = _build(capsys, "--data", str(data), "--out", str(out), *args)
    # THEN: exit 2, one line on stderr that says what is wrong and where, and no bundle or temp folder
    assert code == 2, stdout + stderr
    assert expected in stderr, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("litelens build: error: ")
    assert "Traceback" not in stderr
    assert not out.exists()
    assert not (tmp_path / "bundles").exists() or not any((tmp_path / "bundles").iterdir())


def test_existing_bundle_is_not_overwritten_without_force(tmp_path, capsys):
    data = _csv(tmp_path, GOOD_HEADER + "\n" + _rows(40))
    out = tmp_path / "model"
    out.mkdir()
    (out / "bundle.json").write_text("{}")
    code, _, stderr = _build(capsys, "--data", str(data), "--target", "label", "--out", str(out))
    assert code == 2 and "already exists (use --force" in stderr
    assert (out / "bundle.json").read_text() == "{}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "give --data CSV with --target COLUMN, or --demo"),
        (["--data", "x.csv"], "--data needs --target"),
        (["--demo", "iris"], "unknown demo 'iris'"),
        (["--demo", "breast_cancer", "--data", "x.csv"], "either --data or --demo"),
        (["--demo", "breast_cancer", "--task", "regression"], "is a binary dataset, not regression"),
        (["--demo", "synthetic", "--rows", "0"], "--rows must be a positive number"),
    ],
)
def test_bad_source_options(args, expected, tmp_path, capsys):
    code, _, stderr = _build(capsys, *args, "--out", str(tmp_path / "m"))
    assert code == 2 and expected in stderr, stderr


def test_validation_needs_no_tensorflow(tmp_path):
    # GIVEN a fresh interpreter that runs the build command on a bad CSV (a missing target column)
    csv = tmp_path / "data.csv"
    csv.write_text(GOOD_HEADER + "\n" + _rows(40))
    script = (
        "import sys\n"
        "from litelens.infra.cli import main\n"
        f"code = main(['build', '--data', {str(csv)!r}, '--target', 'nope', '--out', {str(tmp_path / 'm')!r}])\n"
        "loaded = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(code, ','.join(loaded) or '-')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    # THEN it refuses the file without ever importing TensorFlow or Keras (bad input answers instantly)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].split() == ["2", "-"], result.stdout + result.stderr[-2000:]


@pytest.mark.parametrize(
    ("labels", "task", "classes"),
    [
        (["0", "1"] * 20, "binary", ["0", "1"]),
        (["yes", "no"] * 20, "binary", ["no", "yes"]),
        (["a", "b", "c"] * 20, "multiclass", ["a", "b", "c"]),
        (["1", "2", "3", "10"] * 15, "multiclass", ["1", "2", "3", "10"]),
        ([str(0.5 * i) for i in range(60)], "regression", None),
        ([str(i) for i in range(60)], "regression", None),
    ],
)
def test_task_inference_from_the_target(labels, task, classes, tmp_path):
    body = "\n".join(f"{i},{i * 2},{lab}" for i, lab in enumerate(labels))
    data = read_csv(_csv(tmp_path, "a,b,y\n" + body), "y")
    assert (data.task, data.classes, data.task_inferred) == (task, classes, True)
    assert data.features == ["a", "b"] and data.X.shape == (len(labels), 2)


def test_numeric_labels_are_classes_by_value(tmp_path):
    # "1", "1.0" and "01" are one class; sorting and naming by value
    body = "\n".join(f"{i},{i * 2},{lab}" for i, lab in enumerate(["0", "1", "1.0", "01", "0.0"] * 12))
    data = read_csv(_csv(tmp_path, "a,b,y\n" + body), "y")
    assert (data.task, data.classes) == ("binary", ["0", "1"])
    assert data.y.tolist()[:5] == [0, 1, 1, 1, 0]


def test_big_integer_labels_stay_distinct(tmp_path):
    labels = ["9007199254740992", "9007199254740993", "5"] * 20
    body = "\n".join(f"{i},{i * 2},{lab}" for i, lab in enumerate(labels))
    data = read_csv(_csv(tmp_path, "a,b,y\n" + body), "y", "multiclass")
    assert data.classes == ["5", "9007199254740992", "9007199254740993"]


def test_a_data_path_too_long_is_one_line(tmp_path, capsys):
    code, _, stderr = _build(capsys, "--data", "d" * 300 + ".csv", "--target", "y", "--out", str(tmp_path / "m"))
    assert code == 2 and "cannot read" in stderr and stderr.count("\n") == 1


def test_inferred_task_is_printed(tmp_path, capsys):
    # A too-small file fails at the split, after the task has been inferred and printed.
    data = _csv(tmp_path, GOOD_HEADER + "\n" + _rows(12, lambda i: "xyz"[i % 3]))
    code, stdout, stderr = _build(capsys, "--data", str(data), "--target", "label", "--out", str(tmp_path / "m"))
    assert code == 2 and "too few rows" in stderr
    assert "task: multiclass (inferred from the target" in stdout


def test_read_csv_error_is_a_value_error_for_api_users(tmp_path):
    # a text cell no longer fails by itself (it makes the column categorical); every problem is one line
    with pytest.raises(BuildInputError, match="single class") as raised:
        read_csv(_csv(tmp_path, "a,b,y\n1,x,0\n"), "y")
    assert raised.value.problems[1].startswith("no column is left for the model")


def test_a_folder_is_not_a_data_file(tmp_path, capsys):
    code, _, stderr = _build(capsys, "--data", str(tmp_path), "--target", "y", "--out", str(tmp_path / "m"))
    assert code == 2 and "is not a file" in stderr


def test_not_utf8_is_read_as_cp1252_with_a_note(tmp_path):
    data = tmp_path / "latin1.csv"
    labels = ["\xe9t\xe9", "hiver"]
    rows = "".join(f"{i % 5},{i % 3},{labels[i % 2]}\n" for i in range(40))
    data.write_bytes(("a,b,y\n" + rows).encode("latin-1"))
    dataset = read_csv(data, "y")
    assert dataset.classes == ["hiver", "\xe9t\xe9"]
    assert any("not UTF-8: read as cp1252" in note for note in dataset.notes)
