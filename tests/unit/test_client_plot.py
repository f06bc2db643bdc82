"""The explanation figure (`--plot`, `plot_explanation`): a SHAP waterfall from the base value to f(x)
beside LIME's weights, read off the drawn artists (tests/support/figures.py). Answers here are made by
hand (the optional fields: rest, standard errors, LIME's rest and local error, warnings); the real explain
function's are drawn in tests/functional/test_client_plot.py.
The layout is checked by measuring the rendered text: every text inside the figure, no two tick labels
of an axis overlapping, at 80-character column names and 100 columns."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer

from litelens.infra.cli import main as litelens_main
from litelens.infra.client import LitelensClient, PlotError, plot_explanation
from litelens.infra.client import plot as plot_module
from litelens.infra.client.panels import DEFAULT_TOP_K
from tests.support.figures import all_text, assert_readable, bars, y_labels

LONG = [f"applicant_{i:03d}_" + "monthly_household_expenditure_on_" * 3 for i in range(100)]  # 100 x ~114 chars


# -- answers ----------------------------------------------------------------------------------------


def wide_answer(folded: bool, n: int = 100, k: int = 8, seed: int = 0) -> tuple[dict, dict, dict]:
    """A hand-made answer over ``n`` long-named columns: ``folded`` as the explain function answers with
    num_features=k after this round (k values, ``rest``, standard errors), else every column listed."""
    rng = random.Random(seed)
    names = LONG[:n]
    phi = {c: rng.gauss(0, 0.05) for c in names}
    order = sorted(names, key=lambda c: -abs(phi[c]))
    base = 0.35
    output = base + sum(phi.values())
    shap = {"base_value": base, "output": output, "output_space": "probability", "additivity_gap": 0.0,
            "nsamples": 2248}  # fmt: skip
    if folded:
        shap |= {"values": {c: phi[c] for c in order[:k]}, "rest": sum(phi[c] for c in order[k:]),
                 "rest_columns": n - k, "std_errors": {c: 0.004 for c in order[:k]}, "rest_std_error": 0.01,
                 "relative_error": 0.03, "exact": False, "target_error": None}  # fmt: skip
    else:
        shap["values"] = phi
    weights = [{"feature": c, "condition": f"{c} <= 0.25", "weight": phi[c] * 0.9} for c in order[:k]]
    lime = {"intercept": 0.4, "weights": weights, "score": 0.41, "local_prediction": output + 0.02,
            "model_prediction": output, "num_samples": 5000}  # fmt: skip
    if folded:
        lime |= {"rest": 0.012, "local_error": 0.02, "sampling": "continuous"}
    explanation = {"class": "bad", "shap": shap, "lime": lime,
                   "agreement": {"k": k, "overlap": 6, "spearman": 0.7, "kendall": 0.5}}  # fmt: skip
    if folded:
        explanation["warnings"] = [{"code": "W_NOT_CONVERGED", "message": "the SHAP estimate stopped at the budget"}]
    prediction = {
        "probability": 0.81,
        "label": "bad",
        "warnings": [{"column": names[3], "code": "out_of_range", "message": f"{names[3]} is out of range"}],
    }
    instance = {c: round(rng.uniform(0, 1), 3) for c in names}
    return (
        {"predictions": [prediction], "explanations": [explanation], "model": {"name": "m", "version": "1"}},
        phi,
        instance,
    )


# -- the waterfall ----------------------------------------------------------------------------------


def test_many_long_columns_fold_past_the_default_top_k_and_stay_readable():
    # GIVEN an answer listing 100 columns with 80+ character names (what today's plot drew as 20 clipped bars)
    response, phi, instance = wide_answer(folded=False)
    figure = plot_explanation(response, 0, instances=[instance])
    (drawn,) = bars(figure, "shap")
    order = sorted(phi, key=lambda c: -abs(phi[c]))
    # THEN the default top-k bars, and the other columns folded into one rest bar that sums them
    assert set(drawn) == set(order[:DEFAULT_TOP_K]) | {"rest"}
    assert drawn["rest"].get_width() == pytest.approx(sum(phi[c] for c in order[DEFAULT_TOP_K:]))
    assert y_labels(figure, "shap")[0][-1] == f"{100 - DEFAULT_TOP_K} other columns"
    top = drawn[order[0]]
    assert top.get_x() + top.get_width() == pytest.approx(response["explanations"][0]["shap"]["output"])
    assert_readable(figure)
    # and a top-k asked for is what is shown
    assert len(bars(plot_explanation(response, 0, top_k=3), "shap")[0]) == 4


def test_a_folded_answer_draws_k_bars_the_rest_and_error_bars():
    # GIVEN an answer with num_features=8: 8 values, rest, standard errors (the contract's optional fields)
    response, _, instance = wide_answer(folded=True)
    shap = response["explanations"][0]["shap"]
    figure = plot_explanation(response, 0, instances=[instance])
    (drawn,) = bars(figure, "shap")
    assert set(drawn) == set(shap["values"]) | {"rest"}  # k bars + rest exactly
    assert drawn["rest"].get_width() == pytest.approx(shap["rest"])
    assert drawn["rest"].get_facecolor() == to_rgba(plot_module.REST)
    labels = y_labels(figure, "shap")[0]
    assert labels[-1] == "92 other columns"
    first = max(shap["values"], key=lambda c: abs(shap["values"][c]))
    assert labels[0].startswith(first[:20]) and labels[0].endswith(f"= {plot_module.number(instance[first])}")
    # the cumulative sum ends at f(x) = base + sum(values) + rest
    top = drawn[first]
    assert top.get_x() + top.get_width() == pytest.approx(
        shap["base_value"] + sum(shap["values"].values()) + shap["rest"]
    )
    # error bars: one per bar (rest included), centred on each bar's end, as wide as its standard error
    (container,) = [c for ax in figure.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = container.lines[2][0].get_segments()
    assert len(segments) == 9
    widths = sorted(round(abs(s[1][0] - s[0][0]) / 2, 6) for s in segments)
    assert widths == [0.004] * 8 + [0.01]
    # the right-hand value labels carry value ± standard error
    right = [ax for ax in figure.axes if ax.get_yticklabels() and "±" in ax.get_yticklabels()[0].get_text()]
    assert right
    # LIME's rest, its local error and sampling, and the warnings are printed under the figure
    lime_drawn = bars(figure, "lime")[0]
    assert lime_drawn["rest"].get_width() == pytest.approx(0.012)
    text = all_text(figure)
    assert "local error 0.02" in text and "continuous sampling" in text and "relative error 0.03" in text
    assert "warning: the SHAP estimate stopped at the budget" in text
    assert "input: " + LONG[3][:40] in text.replace("\n", "")
    assert_readable(figure)


def test_png_and_svg_are_written_and_other_formats_refused(tmp_path):
    response, _, instance = wide_answer(folded=True)
    figure = plot_explanation(response, 0, instances=[instance])
    png = plot_module.save_figure(figure, tmp_path / "why.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot_module.save_figure(figure, tmp_path / "why.svg")
    assert ET.parse(svg).getroot().tag.endswith("svg")
    with pytest.raises(PlotError, match=r"\.png or \.svg"):
        plot_module.save_figure(figure, tmp_path / "why.gif")


def test_rows_without_an_explanation_or_attributions_are_refused():
    response, _, _ = wide_answer(folded=True)
    with pytest.raises(PlotError, match="no explanation for instance 3"):
        plot_explanation(response, 3)
    with pytest.raises(PlotError, match="no explanation for instance 0"):
        plot_explanation({"explanations": [None]}, 0)
    with pytest.raises(PlotError, match="no SHAP values or LIME weights"):
        plot_explanation({"explanations": [{"class": "bad", "shap": {"values": {}}}]}, 0)
    with pytest.raises(PlotError, match="at least 1"):
        plot_explanation(response, 0, top_k=0)


def test_invoke_plot_writes_the_figure_by_extension(monkeypatch, tmp_path, capsys):
    response, _, _ = wide_answer(folded=True, n=12, k=5)
    sent = []
    monkeypatch.setattr(LitelensClient, "send", lambda self, route, request: sent.append(request) or response)
    argv = ["invoke", "explain", '{"instances": [{"a": 1}]}', "--url", "http://h:1", "--num-features", "5",
            "--output", "json"]  # fmt: skip
    assert litelens_main([*argv, "--plot", str(tmp_path / "why.svg")]) == 0
    assert ET.parse(tmp_path / "why.svg").getroot().tag.endswith("svg")
    assert litelens_main([*argv, "--plot", str(tmp_path / "why.png")]) == 0
    assert (tmp_path / "why.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    # an extension it cannot write is refused before the request is sent
    assert litelens_main([*argv, "--plot", str(tmp_path / "why.jpg")]) == 2
    assert "--plot writes .png or .svg" in capsys.readouterr().err
    assert len(sent) == 2


def test_labels_of_list_rows_are_named_by_the_metadata(monkeypatch, tmp_path, capsys):
    # GIVEN rows sent as lists: the command asks GET /metadata for the column order
    response, phi, _ = wide_answer(folded=True, n=4, k=4)
    names = list(phi)
    monkeypatch.setattr(LitelensClient, "send", lambda self, route, request: response)
    monkeypatch.setattr(LitelensClient, "metadata", lambda self: {"features": names})
    captured = {}
    real = plot_module.save_figure

    def spy(figure, path):
        captured["figure"] = figure
        return real(figure, path)

    monkeypatch.setattr(plot_module, "save_figure", spy)
    row = [0.5, 1.25, 2, 3]
    argv = ["invoke", "explain", np.array([row]).tolist().__repr__(), "--url", "http://h:1", "--output", "table"]
    assert litelens_main([*argv, "--plot", str(tmp_path / "why.png")]) == 0
    labels = y_labels(captured["figure"], "shap")[0]
    shown = {label[:13]: label.rsplit(" = ", 1)[1] for label in labels[:4]}  # names are cut in the middle
    assert shown == {n[:13]: plot_module.number(v) for n, v in zip(names, row, strict=True)}
    assert "1.25" in capsys.readouterr().out  # the table names them too
