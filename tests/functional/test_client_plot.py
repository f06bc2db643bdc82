"""The explanation figure (`plot_explanation`) of what the real explain function answers over trained
bundles: the SHAP waterfall from the base value to f(x), LIME's panel, one panel per class
(tests/unit/test_client_plot.py: answers made by hand, no model)."""

from __future__ import annotations

import itertools

import pytest
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer

from litelens.infra.client import PlotError, plot_explanation
from litelens.infra.client import plot as plot_module
from tests.support.bundles import FEATURES
from tests.support.figures import all_text, assert_readable, bars, y_labels
from tests.support.predict_app import EXPLAIN_APP, import_function_app

ROWS = [[41, 52000, 0.62, 4], [29, 23000, 0.95, 1]]


# -- answers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binary_answer(binary_bundle):
    """What the real explain function answers for ROWS[0] (every column, today's fields)."""
    app = import_function_app(EXPLAIN_APP, binary_bundle)
    response = app.lambda_handler({"instances": ROWS[:1], "parameters": {"seed": 0, "num_samples": 500}}, None)
    assert "error" not in response, response
    return response


@pytest.fixture(scope="module")
def multiclass_answer(multiclass_bundle):
    app = import_function_app(EXPLAIN_APP, multiclass_bundle)
    request = {"instances": ROWS[:1], "parameters": {"seed": 0, "num_samples": 500, "class": "all"}}
    response = app.lambda_handler(request, None)
    assert "error" not in response, response
    return response


# -- the waterfall ----------------------------------------------------------------------------------


def test_waterfall_of_a_real_answer_runs_from_the_base_to_f_of_x(binary_answer):
    # GIVEN the explain function's answer for one row sent as a list (the columns name its values)
    figure = plot_explanation(binary_answer, 0, instances=ROWS, columns=FEATURES)
    shap = binary_answer["explanations"][0]["shap"]
    (drawn,) = bars(figure, "shap")
    # THEN one bar per column (4 < the default top-k: nothing folded), ordered by |value|, top down
    assert set(drawn) == set(FEATURES)
    labels = y_labels(figure, "shap")[0]
    order = sorted(FEATURES, key=lambda c: -abs(shap["values"][c]))
    assert labels == [f"{c} = {ROWS[0][FEATURES.index(c)]}" for c in order]  # the raw value sent
    # each bar starts where the one below ends: from the base value (bottom) to f(x) (top)
    chain = [drawn[c] for c in reversed(order)]
    assert chain[0].get_x() == pytest.approx(shap["base_value"])
    for below, above in itertools.pairwise(chain):
        assert above.get_x() == pytest.approx(below.get_x() + below.get_width())
    end = chain[-1].get_x() + chain[-1].get_width()
    assert end == pytest.approx(shap["base_value"] + sum(shap["values"].values()))
    assert end == pytest.approx(shap["output"], abs=1e-4)  # up to the additivity gap
    for c, patch in drawn.items():  # signed colours
        expected = plot_module.POSITIVE if shap["values"][c] > 0 else plot_module.NEGATIVE
        assert patch.get_facecolor() == to_rgba(expected)
    # the title names the predicted label and its probability
    prediction = binary_answer["predictions"][0]
    assert f"predicted {prediction['label']} (p = " in figure.get_suptitle()
    assert plot_module.number(prediction["probability"]) in figure.get_suptitle()
    assert f"class {binary_answer['explanations'][0]['class']}" in all_text(figure)
    # no standard errors in today's answer: no error bars
    assert not [c for ax in figure.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert_readable(figure)


def test_lime_panel_has_the_conditions_score_and_local_error(binary_answer):
    figure = plot_explanation(binary_answer, 0, instances=ROWS, columns=FEATURES)
    lime = binary_answer["explanations"][0]["lime"]
    (drawn,) = bars(figure, "lime")
    assert set(drawn) == {w["feature"] for w in lime["weights"]}
    labels = y_labels(figure, "lime")[0]
    by_size = sorted(lime["weights"], key=lambda w: -abs(w["weight"]))
    assert labels == [w["condition"].replace(" ", "") for w in by_size] or labels == [w["condition"] for w in by_size]
    for w in lime["weights"]:
        assert drawn[w["feature"]].get_width() == pytest.approx(w["weight"])
    text = all_text(figure)
    local_error = abs(lime["local_prediction"] - lime["model_prediction"])
    assert f"local error {plot_module.number(local_error)}" in text
    assert f"R² {plot_module.number(lime['score'])}" in text
    assert "agreement: top-4 overlap" in text and "additivity gap" in text


def test_multiclass_names_the_class_and_all_gives_one_panel_per_class(multiclass_answer):
    classes = list(multiclass_answer["explanations"][0]["classes"])
    assert classes == ["low", "medium", "high"]
    figure = plot_explanation(multiclass_answer, 0, instances=ROWS, columns=FEATURES)
    assert len(bars(figure, "shap")) == 3 and len(bars(figure, "lime")) == 3
    titles = [ax.get_title(loc="left") for ax in figure.axes if ax.get_title(loc="left").startswith("SHAP")]
    assert [t.split(":")[0] for t in titles] == [f"SHAP, class {c}" for c in classes]
    for drawn, name in zip(bars(figure, "shap"), classes, strict=True):
        shap = multiclass_answer["explanations"][0]["classes"][name]["shap"]
        assert {c: p.get_width() for c, p in drawn.items()} == pytest.approx(shap["values"])
    assert_readable(figure)
    # one class of the answer, by name
    one = plot_explanation(multiclass_answer, 0, class_name="high")
    assert len(bars(one, "shap")) == 1 and "class high" in all_text(one)
    with pytest.raises(PlotError, match="class 'nope' was not explained"):
        plot_explanation(multiclass_answer, 0, class_name="nope")
