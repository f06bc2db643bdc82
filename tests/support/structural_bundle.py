"""A structurally valid bundle without a trained model, for code that never runs the model
(publishing, the twin's CLI): cheap, no TensorFlow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from litelens.build.bundle import CARD_FILE, LIME_STATS_KEYS, Bundle, BundleCard, sha256_file, write_bundle

FEATURES = ["age", "income", "debt_ratio", "tenure"]


# One numeric column's lime stats as build.stats.lime_training_stats writes them: one bin edge, two bins.
NUMERIC_LIME_STATS = {
    "bins": [0.5],
    "means": [0.25, 0.75],
    "stds": [0.1, 0.1],
    "mins": [0.0, 0.5],
    "maxs": [0.5, 1.0],
    "feature_values": [0.0, 1.0],
    "feature_frequencies": [0.5, 0.5],
}


def numeric_lime_stats(n: int) -> dict[str, dict[int, Any]]:
    """Valid lime stats for ``n`` plain numeric columns (``NUMERIC_LIME_STATS`` for each)."""
    return {key: {i: list(NUMERIC_LIME_STATS[key]) for i in range(n)} for key in LIME_STATS_KEYS}


def structural_bundle(path: Path, *, model: bytes = b"not-a-real-model-but-hashed", name: str = "tiny") -> Bundle:
    n = len(FEATURES)
    write_bundle(
        path,
        name=name,
        task="binary",
        features=FEATURES,
        classes=["good", "bad"],
        target="default",
        model=model,
        shap_background=np.arange(2 * n, dtype=np.float64).reshape(2, n),
        shap_weights=np.array([0.5, 0.5]),
        lime_stats=numeric_lime_stats(n),
        metrics={"auc": 0.5},
        quantization="none",
        training={"epochs": 1},
        libraries={"numpy": np.__version__},
        force=True,
    )
    return Bundle.load(path)


def edit_card(bundle_dir: Path, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Edit the card at ``bundle_dir`` by hand (``change`` mutates its JSON); the edited card."""
    card = json.loads((bundle_dir / CARD_FILE).read_text())
    change(card)
    (bundle_dir / CARD_FILE).write_text(json.dumps(card))
    return card


def rehash_card(bundle_dir: Path) -> dict[str, Any]:
    """The card at ``bundle_dir`` re-hashed over the files as they now are (a damaged file with a card an
    unsigned publisher or a broken build would write): its sha256 check passes; the re-hashed card."""
    card = json.loads((bundle_dir / CARD_FILE).read_text())
    card["files"] = {name: sha256_file(bundle_dir / name) for name in card["files"]}
    card["version"] = BundleCard.from_json(card).content_version()
    (bundle_dir / CARD_FILE).write_text(json.dumps(card))
    return card
