"""The bundle card's integrity (`litelens inspect`, Bundle.load) and where a bundle may be written."""

from __future__ import annotations

import re
import stat

import pytest

from litelens.build.bundle import CARD_FILE, LIME_STATS_FILE, MODEL_FILE, Bundle, BundleError, check_output_dir
from litelens.infra.cli import main
from tests.support.structural_bundle import edit_card, numeric_lime_stats, structural_bundle


@pytest.fixture
def bundle_dir(tmp_path):
    path = tmp_path / "bundles" / "tiny"
    structural_bundle(path)
    return path


def inspect(capsys, *args):
    code = main(["inspect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the card against its content -----------------------------------------------------------------


def test_an_intact_bundle_inspects_clean_and_mentions_unlisted_files(bundle_dir, capsys):
    (bundle_dir / "notes.txt").write_text("mine")
    code, out, err = inspect(capsys, str(bundle_dir))
    assert code == 0, err
    assert "not in the card (ignored by the functions): notes.txt" in out
    assert Bundle.load(bundle_dir).verify() == []


def test_an_edited_schema_no_longer_matches_the_version(bundle_dir, capsys):
    # GIVEN a card whose feature order was edited by hand (every file hash still matches)
    edit_card(bundle_dir, lambda card: card["features"].reverse())
    # WHEN inspecting and loading it
    code, out, _ = inspect(capsys, str(bundle_dir))
    # THEN the version no longer is the content hash: exit 1 naming it, and the functions refuse it
    assert code == 1 and "MISMATCH: bundle.json version" in out and "content hash" in out
    with pytest.raises(BundleError, match="content hash"):
        Bundle.load(bundle_dir)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda card: card.update(features=7), "features must be list"),
        (lambda card: card.update(features=["a", 2, "c", "d"]), "features must be a list of strings"),
        (lambda card: card.update(classes="good,bad"), "classes must be list or null"),
        (lambda card: card.update(metrics=[]), "metrics must be dict"),
        (lambda card: card.update(name=None), "name must be str"),
        (lambda card: card["files"].pop(LIME_STATS_FILE), "files must list exactly"),
        (lambda card: card["files"].update({"../../etc/passwd": "0" * 64}), "files must list exactly"),
        (lambda card: card["files"].update({MODEL_FILE: "not-a-digest"}), "is not a sha256 hex digest"),
        (lambda card: card.update(task="ranking"), "unknown task 'ranking'"),
        (lambda card: card.pop("version"), "missing field(s) version"),
    ],
    ids=["features int", "feature int", "classes str", "metrics list", "name null", "file missing", "path escape",
         "bad digest", "task", "no version"],
)  # fmt: skip
def test_a_malformed_card_is_one_line_exit_2(bundle_dir, capsys, change, words):
    edit_card(bundle_dir, change)
    code, out, err = inspect(capsys, str(bundle_dir))
    assert code == 2, out + err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err
    with pytest.raises(BundleError):
        Bundle.load(bundle_dir)


def test_written_bundles_are_readable_by_others(bundle_dir):
    mode = stat.S_IMODE(bundle_dir.stat().st_mode)
    assert mode & 0o055 == 0o055, oct(mode)  # group and others may list and enter (mkdtemp makes 0700)


# --- where a bundle may be written -----------------------------------------------------------------


def test_output_checks(tmp_path, monkeypatch, bundle_dir):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_text("meow")
    (tmp_path / "empty").mkdir()
    cases = {
        "a_file": "is a file, not a bundle folder",
        "a_file/model": "is a file: cannot create",
        "photos": "already exists (use --force",
        str(bundle_dir): "already exists (use --force",
    }
    for out, words in cases.items():
        with pytest.raises(BundleError, match=re.escape(words)):
            check_output_dir(out, force=False)
    forced = {
        "photos": "is not a litelens bundle and not empty",
        ".": "is the current directory or holds it",
        str(tmp_path.parent): "is the current directory or holds it",
    }
    for out, words in forced.items():
        with pytest.raises(BundleError, match=re.escape(words)):
            check_output_dir(out, force=True)
    # what --force may replace: an earlier bundle or an empty folder; a new path needs no force
    assert check_output_dir(bundle_dir, force=True) == bundle_dir.resolve()
    assert check_output_dir("empty", force=True) == (tmp_path / "empty").resolve()
    assert check_output_dir("bundles/new", force=False) == (tmp_path / "bundles" / "new").resolve()


def test_build_refuses_a_bad_out_before_training_and_touches_nothing(tmp_path, monkeypatch, capsys):
    # GIVEN a valid CSV and a working directory full of the user's files
    monkeypatch.chdir(tmp_path)
    rows = "\n".join(f"{i},{i * 3 % 7},{i % 2}" for i in range(60))
    (tmp_path / "train.csv").write_text("a,b,label\n" + rows)
    for out in (".", "train.csv"):
        # WHEN building into the current directory with --force, or into a file
        code = main(["build", "--data", "train.csv", "--target", "label", "--out", out, "--force", "--epochs", "1"])
        captured = capsys.readouterr()
        # THEN exit 2 with one line, before any training output, and every file still there
        assert code == 2, captured
        assert captured.err.startswith("litelens build: error: ") and captured.err.count("\n") == 1
        assert "epoch" not in captured.out.lower()
        assert (tmp_path / "train.csv").read_text().startswith("a,b,label")


def test_force_never_deletes_what_is_not_the_bundle(tmp_path, bundle_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # GIVEN an earlier bundle that also holds the user's training data and notes
    (bundle_dir / "train.csv").write_text("a,y\n1,0\n")
    (bundle_dir / "notes").mkdir()
    # THEN --force refuses to replace it, naming what it would delete
    with pytest.raises(BundleError, match=r"holds files that are not part of its bundle \(notes, train\.csv\)"):
        check_output_dir(bundle_dir, force=True)
    # AND a folder whose bundle.json is someone else's (not a litelens card) is not a bundle
    other = tmp_path / "webapp"
    other.mkdir()
    (other / CARD_FILE).write_text('{"name": "some npm thing"}')
    (other / "model.tflite").write_text("x")
    with pytest.raises(BundleError, match="is not a litelens bundle"):
        check_output_dir(other, force=True)


@pytest.mark.parametrize("out", ["~no_such_user_litelens/x", "loop/x", "x" * 300])
def test_unusable_output_paths_are_bundle_errors(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(BundleError, match="cannot use"):
        check_output_dir(out, force=True)


def test_inspect_of_a_file_or_a_too_deep_card_is_unreadable_exit_2(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = inspect(capsys, str(tmp_path / "afile"))
    assert code == 2 and "is a file, not a bundle folder" in err
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / CARD_FILE).write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = inspect(capsys, str(deep))
    assert code == 2 and "unreadable card" in err and err.count("\n") == 1
    code, _, err = inspect(capsys, "y" * 300)
    assert code == 2 and "unreadable card" in err


def test_non_string_classes_give_a_bundle_that_verifies(tmp_path):
    import numpy as np

    from litelens.build.bundle import write_bundle

    card = write_bundle(
        tmp_path / "b", name="ints", task="binary", features=["a", "b"], classes=[0, 1], target="y", model=b"m",
        shap_background=np.zeros((1, 2)), shap_weights=np.ones(1),
        lime_stats=numeric_lime_stats(2),
        metrics={}, quantization="none", training={}, libraries={},
    )  # fmt: skip
    assert card.classes == ["0", "1"]
    assert Bundle.load(tmp_path / "b").card.version == card.version
