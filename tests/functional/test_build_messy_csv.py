"""`litelens build` from a raw messy CSV (``;``, decimal comma, NA cells, text, booleans, a date, an ID):
no hand work, the schema table printed before training, the schema in the card."""

from __future__ import annotations

import pytest

from litelens.build.bundle import Bundle
from litelens.build.data import read_csv
from litelens.infra.cli import main
from tests.support.messy_csv import EXPECTED_KINDS, TARGET, write_messy_csv


@pytest.mark.slow
def test_build_from_a_messy_semicolon_csv(tmp_path, capsys):
    csv = write_messy_csv(tmp_path / "messy.csv", n_rows=400, variant="semicolon")
    out = tmp_path / "bundles" / "messy"
    # WHEN building from the raw file, naming the rare class positive explicitly
    code = main(
        ["build", "--data", str(csv), "--target", TARGET, "--out", str(out), "--epochs", "2", "--positive-class", "yes"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # THEN notes and the schema table come before training, and the card holds the inferred schema
    stdout = captured.out
    assert stdout.index("schema: 9 columns") < stdout.index("training binary MLP")
    assert "note: decimal comma detected" in stdout and "positive class: 'yes'" in stdout
    card = Bundle.load(out).card
    assert {c.name: c.kind for c in card.schema.columns} == EXPECTED_KINDS
    assert card.classes == ["no", "yes"]
    assert card.schema == read_csv(csv, TARGET).schema
