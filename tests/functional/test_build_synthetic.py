"""The synthetic demo bundle recovers its documented additive truth (the ground for explanation-accuracy tests)."""

from __future__ import annotations

import numpy as np
import pytest

from litelens.build import synthetic
from litelens.build.bundle import Bundle
from litelens.build.export import tflite_predict

pytestmark = pytest.mark.slow


def _model_logit(bundle: Bundle, X: np.ndarray) -> np.ndarray:
    p = np.clip(tflite_predict(bundle.model_bytes(), X).ravel(), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def test_synthetic_bundle_card(synthetic_bundle):
    card = Bundle.load(synthetic_bundle).card
    assert card.features == synthetic.FEATURE_NAMES and card.task == "binary"
    assert card.classes == synthetic.CLASSES and card.target == synthetic.TARGET
    rows, weights = Bundle.load(synthetic_bundle).shap_background()
    assert rows.shape == (10, 100) and np.isclose(weights.sum(), 1)


def test_trained_logit_tracks_the_true_logit_on_held_out_rows(synthetic_bundle):
    # GIVEN rows the model never saw (another seed)
    X, _, _ = synthetic.make_synthetic(n_rows=5000, seed=12345)
    model = _model_logit(Bundle.load(synthetic_bundle), X)
    # THEN the model's log-odds follow the true additive logit closely
    r = np.corrcoef(model, synthetic.true_logit(X))[0, 1]
    assert r >= 0.96, r


def test_noise_features_barely_move_the_model_and_strong_ones_do(synthetic_bundle):
    bundle = Bundle.load(synthetic_bundle)
    X, _, _ = synthetic.make_synthetic(n_rows=2000, seed=7)
    base = _model_logit(bundle, X)

    def effect(j: int) -> float:
        shifted = X.copy()
        shifted[:, j] = np.random.default_rng(j).permutation(shifted[:, j])
        return float(np.mean(np.abs(_model_logit(bundle, shifted) - base)))

    strong = [effect(j) for j in range(4)]
    noise = [effect(j) for j in range(20, 100, 8)]
    assert min(strong) > 5 * max(noise), (strong, noise)
