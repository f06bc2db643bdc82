"""Reading a messy CSV: dialect and encoding sniffing, column kinds, overrides, every problem in one run.

Nothing here trains a model (tests/functional/test_build_messy_csv.py builds one end to end).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from litelens.build.bundle.schema import CATEGORICAL, DATE, NUMERIC, UNKNOWN
from litelens.build.cli import describe
from litelens.build.columns import MAX_LEVELS, Overrides
from litelens.build.data import read_csv
from litelens.build.problems import BuildInputError, BuildProblems
from tests.support.messy_csv import EXPECTED_EXCLUDED, EXPECTED_KINDS, TARGET, messy_columns, write_messy_csv


def _csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _kinds(dataset) -> dict[str, str]:
    return {c.name: c.kind for c in dataset.schema.columns}


@pytest.mark.parametrize("variant", ["plain", "semicolon", "latin1", "index", "bom"])
def test_every_variant_of_the_messy_csv_reads_to_the_same_schema_and_rows(variant, tmp_path):
    plain = read_csv(write_messy_csv(tmp_path / "plain.csv"), TARGET)
    # WHEN reading the same data in another dialect, encoding or with a saved index
    dataset = read_csv(write_messy_csv(tmp_path / f"{variant}.csv", variant=variant), TARGET)
    # THEN the same kinds, exclusions, levels and column-space rows
    assert _kinds(dataset) == EXPECTED_KINDS
    assert {e.name: e.reason.split(":")[0] for e in dataset.schema.excluded} == EXPECTED_EXCLUDED
    assert dataset.schema == plain.schema
    np.testing.assert_array_equal(dataset.X, plain.X)
    assert dataset.classes == ["no", "yes"] and dataset.y.tolist() == plain.y.tolist()
    notes = " ".join(dataset.notes)
    expected_note = {"semicolon": "decimal comma", "latin1": "not UTF-8: read as cp1252", "index": "DataFrame index"}
    assert expected_note.get(variant, "excluded") in notes


def test_messy_columns_in_column_space(tmp_path):
    dataset = read_csv(write_messy_csv(tmp_path / "m.csv", n_rows=300, seed=3), TARGET)
    schema, Z = dataset.schema, dataset.X
    cells = messy_columns(300, 3)
    col = {c.name: j for j, c in enumerate(schema.columns)}
    married = schema.columns[col["married"]]
    assert married.boolean and married.levels in (("no", "yes"), ("no", "Yes"), ("No", "Yes"), ("N", "Y"), ("no", "Y"))
    truth = [c.lower().startswith("y") for c in cells["married"]]
    assert Z[:, col["married"]].tolist() == [float(t) for t in truth]
    active = schema.columns[col["active"]]
    assert active.boolean and active.levels == ("0", "1")
    region = schema.columns[col["region_code"]]
    assert region.levels == tuple(str(i) for i in range(1, 13))  # codes keep their numeric order
    applicant = schema.columns[col["applicant_type"]]
    assert applicant.missing and "employé" in applicant.levels
    assert Z[cells["applicant_type"].index(""), col["applicant_type"]] == applicant.missing_code
    age = schema.columns[col["age"]]
    assert (
        age.missing and age.integer and np.isnan(Z[:, col["age"]]).sum() == sum(c in ("", "NA") for c in cells["age"])
    )
    score = schema.columns[col["score"]]
    assert score.kind == NUMERIC and (score.min, score.max) == (1, 6)
    signup = schema.columns[col["signup"]]
    first = next(i for i, c in enumerate(cells["signup"]) if c)
    assert schema.display(col["signup"], Z[first, col["signup"]]) == cells["signup"][first]
    assert signup.kind == DATE and signup.missing


@pytest.mark.parametrize(
    ("cells", "kind", "detail"),
    [
        (["0", "1"] * 20, CATEGORICAL, ("0", "1")),
        (["3", "7"] * 20, CATEGORICAL, ("3", "7")),
        ([str(1 + i % 6) for i in range(40)], NUMERIC, None),
        (["T", "f", "t", "F"] * 10, CATEGORICAL, ("f", "T")),  # the most frequent spelling, ties: first seen
        (["yes", "n", "Y", "no"] * 10, CATEGORICAL, None),
        (["2024-01-01T10:00:00", "2024-03-01 12:30"] * 20, DATE, None),
        (["1,5", "2,5"] * 20, CATEGORICAL, None),  # a decimal comma needs ; (or --decimal ,)
        ([f"{i * 0.5}" for i in range(40)], NUMERIC, None),
    ],
)
def test_inference_rules(cells, kind, detail, tmp_path):
    text = "x,other,y\n" + "".join(f'"{c}",{i % 4},{i % 2}\n' for i, c in enumerate(cells))
    dataset = read_csv(_csv(tmp_path, text), "y")
    column = dataset.schema.columns[0]
    assert column.kind == kind
    if detail is not None:
        assert column.levels == detail


@pytest.mark.parametrize(
    ("name", "cells", "reason"),
    [
        ("x", ["same"] * 40, "constant"),
        ("x", [""] * 20 + ["NA", "null", "N/A", "none", "NaN"] * 4, "empty"),
        ("ref", [f"r{i}" for i in range(40)], "ID-like: a different text"),
        ("n", [str(1000 + 3 * i) for i in range(120)], "ID-like: a different whole number"),
        ("customerId", [str(i % 3) for i in range(40)], "ID-like: named"),
        ("uuid", [f"u{i % 5}" for i in range(40)], "ID-like: named"),
        (
            "comment",
            [f"word {i}" if i % 2 else "same" for i in range(200)],
            "free text: 101 distinct values in 200 rows",
        ),
    ],
)
def test_exclusion_rules(name, cells, reason, tmp_path):
    text = f"{name},other,y\n" + "".join(f"{c},{i % 4},{i % 2}\n" for i, c in enumerate(cells))
    dataset = read_csv(_csv(tmp_path, text), "y")
    excluded = {e.name: e.reason for e in dataset.schema.excluded}
    assert excluded[name].startswith(reason), excluded
    assert any(name in note and "excluded" in note for note in dataset.notes)


def test_levels_beyond_the_cap_read_as_unknown_with_a_note(tmp_path):
    values = [f"city{i % 80}" for i in range(400)]  # 80 levels, 5 rows each: not free text
    text = "city,other,y\n" + "".join(f"{c},{i % 4},{i % 2}\n" for i, c in enumerate(values))
    dataset = read_csv(_csv(tmp_path, text), "y")
    column = dataset.schema.columns[0]
    assert len(column.levels) == MAX_LEVELS
    assert (dataset.X[:, 0] == UNKNOWN).sum() == 30 * 5
    assert any("50 most frequent of 80 levels" in note for note in dataset.notes)


def test_overrides(tmp_path):
    path = write_messy_csv(tmp_path / "m.csv")
    overrides = Overrides(categorical=("score",), numeric=("region_code",), drop=("age",))
    dataset = read_csv(path, TARGET, overrides=overrides)
    kinds = _kinds(dataset)
    assert kinds["score"] == CATEGORICAL and kinds["region_code"] == NUMERIC and "age" not in kinds
    assert {e.name: e.reason for e in dataset.schema.excluded}["age"] == "dropped (--drop)"
    assert dataset.schema.columns[dataset.features.index("score")].levels == ("1", "2", "3", "4", "5", "6")
    # forcing a kind skips the ID-like rule
    forced = read_csv(path, TARGET, overrides=Overrides(categorical=("customer_id",)))
    assert _kinds(forced)["customer_id"] == CATEGORICAL


def test_an_override_naming_no_column_lists_the_columns(tmp_path):
    with pytest.raises(BuildProblems) as raised:
        read_csv(write_messy_csv(tmp_path / "m.csv"), TARGET, overrides=Overrides(drop=("agee",), numeric=(TARGET,)))
    assert raised.value.problems[0].startswith("--numeric default: that is the target")
    assert raised.value.problems[1].startswith("--drop agee: no such column (columns: customer_id, age, income")


def test_every_problem_of_a_file_in_one_run(tmp_path):
    # GIVEN a file with a bad number, a bad date, a ragged row, an unknown override and no target column
    rows = [f"{20 + i % 30},2024-01-{1 + i % 28:02d},{i % 2}" for i in range(60)]
    rows[5] = "abc,2024-01-01,1"
    rows[9] = "30,2024-13-45,0"
    rows[20] = "30,2024-01-01"
    path = _csv(tmp_path, "age,signup,label\n" + "\n".join(rows) + "\n")
    # WHEN reading it
    with pytest.raises(BuildProblems) as raised:
        read_csv(path, "target", overrides=Overrides(categorical=("nope",)))
    problems = raised.value.problems
    # THEN every problem is one line, with the file's line numbers
    assert len(problems) == 5, problems
    text = "\n".join(problems)
    assert "row 22: 2 cells, the header has 3" in text
    assert "--categorical nope: no such column" in text
    assert "no target column 'target'" in text
    assert "row 7, column 'age': 'abc' is not a number" in text
    assert "column 'signup': 1 cells are not ISO dates like 2024-03-01 (row 11: '2024-13-45')" in text


def test_rows_without_a_target_are_left_out_with_a_note(tmp_path):
    rows = [f"{i % 7},{i % 3},{'' if i in (3, 8) else i % 2}" for i in range(40)]
    dataset = read_csv(_csv(tmp_path, "a,b,y\n" + "\n".join(rows) + "\n,,\n"), "y")
    assert len(dataset.y) == 38 and dataset.X.shape == (38, 2)
    assert any("3 rows have no 'y' value and are left out (row 5, 10, 42)" in n for n in dataset.notes)


def test_positive_class_default_chosen_and_unknown(tmp_path):
    path = write_messy_csv(tmp_path / "m.csv")
    default = read_csv(path, TARGET)
    assert default.classes == ["no", "yes"]
    assert "positive class: 'yes'" in describe(default)
    chosen = read_csv(path, TARGET, positive_class="no")
    assert chosen.classes == ["yes", "no"] and (chosen.y == 1 - default.y).all()
    with pytest.raises(
        BuildInputError, match=r"--positive-class 'maybe' is not a class of 'default' \(classes: no, yes"
    ):
        read_csv(path, TARGET, positive_class="maybe")


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a\tb\ty\n1\t2\t0\n", "\t"),
        ("a|b|y\n1|2|0\n", "|"),
        ("a;b;y\n", ";"),  # the header is the only evidence
        ('a,"b;c",y\n1,2,0\n', ","),
    ],
)
def test_delimiter_sniffing(text, delimiter, tmp_path):
    from litelens.build.problems import Problems
    from litelens.build.table import read_table

    table = read_table(_csv(tmp_path, text), Problems())
    assert table.dialect.delimiter == delimiter and len(table.names) == 3


def test_dialect_options_override_the_sniffing(tmp_path):
    rows = "".join(f"{i % 5};{i % 3},5;{i % 2}\n" for i in range(40))
    path = _csv(tmp_path, "a;b;y\n" + rows)
    assert read_csv(path, "y").schema.columns[1].kind == NUMERIC  # 0,5 -> 0.5
    as_text = read_csv(path, "y", decimal=".")
    assert as_text.schema.columns[1].kind == CATEGORICAL
    one_column = _csv(tmp_path, "a;b,y\n" + "".join(f"{i % 5};x,{i % 2}\n" for i in range(40)), "c.csv")
    assert read_csv(one_column, "y", delimiter=",").features == ["a;b"]
    with pytest.raises(BuildInputError, match="--encoding 'klingon' is not a known text encoding"):
        read_csv(path, "y", encoding="klingon")


def test_non_utf8_past_the_sample_falls_back(tmp_path):
    rows = "".join(f"{i % 7},caf{'é' if i == 4000 else 'e'},{i % 2}\n" for i in range(4001))
    path = tmp_path / "late.csv"
    path.write_bytes(("a,b,y\n" + rows).encode("cp1252"))
    dataset = read_csv(path, "y")
    assert "café" in dataset.schema.columns[1].levels
    assert any("read as cp1252" in note for note in dataset.notes)


def test_unnamed_column_that_is_no_index_is_named(tmp_path):
    rows = "".join(f"{i % 3},{i % 5},{i % 2}\n" for i in range(40))
    dataset = read_csv(_csv(tmp_path, ",b,y\n" + rows), "y")
    assert dataset.features == ["column_1", "b"]
    assert any("column 1 has no name" in note for note in dataset.notes)


def test_schema_table_is_part_of_the_description(tmp_path):
    text = describe(read_csv(write_messy_csv(tmp_path / "m.csv"), TARGET))
    lines = text.splitlines()
    assert any(line.split()[:2] == ["married", "categorical"] and "(boolean)" in line for line in lines)
    assert any(line.split()[:3] == ["customer_id", "excluded", "ID-like:"] for line in lines)
    assert any(line.split()[:2] == ["signup", "date"] and ".." in line for line in lines)
