"""A structurally valid bundle without a trained model, for code that never runs the model
(publishing, the twin's CLI): cheap, no TensorFlow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from litelens.build.bundle import CARD_FILE, LIME_STATS_KEYS, Bundle, write_bundle

FEATURES = ["age", "income", "debt_ratio", "tenure"]


def structural_bundle(path: Path, *, model: bytes = b"not-a-real-model-but-hashed", name: str = "tiny") -> Bundle:
    n = len(FEATURES)
    per_feature = {"feature_values": [0.0, 1.0], "feature_frequencies": [0.5, 0.5], "bins": [0.5]}
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
        lime_stats={key: {i: per_feature.get(key, 0.5 + i) for i in range(n)} for key in LIME_STATS_KEYS},
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
