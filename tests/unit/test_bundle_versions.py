"""The card's version is the hash of every card field, and a card in a versions/<v> folder is version <v>."""

from __future__ import annotations

import shutil

import pytest

from litelens.build.bundle import FORMAT, Bundle, BundleError
from litelens.build.bundle.versioning import FORMAT_V1, card_version, legacy_version
from tests.support.structural_bundle import edit_card, structural_bundle


@pytest.fixture
def bundle_dir(tmp_path):
    path = tmp_path / "tiny"
    structural_bundle(path)
    return path


def test_a_new_card_is_versioned_by_every_field(bundle_dir):
    card = Bundle.load(bundle_dir).card
    assert card.format == FORMAT and card.version == card_version(card.to_json()) and len(card.version) == 32
    # every field of the card, whatever it holds, changes the version when it changes
    for key in card.to_json():
        if key == "version":
            continue
        changed = {**card.to_json(), key: {"changed": key}}
        assert card_version(changed) != card.version, key


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.update(name="someone else's model"),
        lambda c: c.update(created_at="2020-01-01T00:00:00Z"),
        lambda c: c["metrics"].update(auc=0.99),
        lambda c: c.update(target="approved"),
        lambda c: c["training"].update(epochs=500),
        lambda c: c["libraries"].update(numpy="0.0.1"),
        lambda c: c.update(extra={"note": "trust me"}),
        lambda c: c.update(input_shape=[None, 99]),
    ],
    ids=["name", "created_at", "metrics", "target", "training", "libraries", "extra", "input_shape"],
)
def test_editing_any_field_breaks_the_version(bundle_dir, change):
    # GIVEN a card edited by hand in a field the litelens.bundle/1 version left out, every file hash still matching
    edit_card(bundle_dir, change)
    # THEN it no longer is its version's content: the loader refuses it
    with pytest.raises(BundleError, match="is not the content hash"):
        Bundle.load(bundle_dir)


def test_a_card_re_hashed_after_an_edit_loads_and_only_a_signature_tells(bundle_dir):
    # the version is integrity, not authenticity: whoever edits a card can re-hash it
    card = edit_card(bundle_dir, lambda c: c.update(name="renamed"))
    edit_card(bundle_dir, lambda c: c.update(version=card_version(card)))
    assert Bundle.load(bundle_dir).card.name == "renamed"


def _as_legacy(path):
    """Rewrite the card as a litelens.bundle/1 card (written before every field was hashed)."""

    def downgrade(c):
        c["format"] = FORMAT_V1
        c["version"] = legacy_version(c["files"], c["task"], c["features"], c["classes"], c["schema"], c["threshold"])

    return edit_card(path, downgrade)


def test_a_legacy_card_still_loads_by_its_own_rule(bundle_dir):
    card = _as_legacy(bundle_dir)
    assert Bundle.load(bundle_dir).card.version == card["version"] and len(card["version"]) == 12
    # its rule leaves the name out (what signing is for) but still covers the files, classes and schema
    edit_card(bundle_dir, lambda c: c.update(name="renamed"))
    assert Bundle.load(bundle_dir).card.name == "renamed"
    edit_card(bundle_dir, lambda c: c.update(classes=["bad", "good"]))
    with pytest.raises(BundleError, match="is not the content hash"):
        Bundle.load(bundle_dir)


def test_an_unknown_format_and_a_version_that_is_no_id_are_refused(bundle_dir):
    edit_card(bundle_dir, lambda c: c.update(version="../" + "x" * 10_000))
    with pytest.raises(BundleError, match=r"is not a version id") as raised:
        Bundle.load(bundle_dir)
    assert len(str(raised.value)) < 300
    edit_card(bundle_dir, lambda c: c.update(format="litelens.bundle/9"))
    with pytest.raises(BundleError, match="unsupported format"):
        Bundle.load(bundle_dir)


def test_a_version_folder_must_hold_its_own_version(bundle_dir, tmp_path):
    version = Bundle.load(bundle_dir).card.version
    # GIVEN copies of a published version folder, one named by its version and one by another
    shutil.copytree(bundle_dir, tmp_path / "m" / "versions" / version)
    shutil.copytree(bundle_dir, tmp_path / "m" / "versions" / "0123456789abcdef")
    assert Bundle.load(tmp_path / "m" / "versions" / version).card.version == version
    with pytest.raises(BundleError, match=f"is version {version}, but its folder is versions/0123456789abcdef"):
        Bundle.load(tmp_path / "m" / "versions" / "0123456789abcdef")
    # a bundle folder elsewhere is named freely
    assert Bundle.load(bundle_dir).card.version == version
