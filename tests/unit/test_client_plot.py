"""The explanation figure (`--plot`, `plot_explanation`): a SHAP waterfall from the base value to f(x)
beside LIME's weights, read off the drawn artists. Answers come from the real explain function (today's
fields) and by hand (the optional fields: rest, standard errors, LIME's rest and local error, warnings).
The layout is checked by measuring the rendered text: every text inside the figure, no two tick labels
of an axis overlapping, at 80-character column names and 100 columns."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer
from matplotlib.text import Text

from litelens.infra.cli import main as litelens_main
from litelens.infra.client import LitelensClient, PlotError, plot_explanation
from litelens.infra.client import plot as plot_module
from litelens.infra.client.panels import DEFAULT_TOP_K
from tests.support.bundles import FEATURES
from tests.support.predict_app import EXPLAIN_APP, import_function_app

ROWS = [[41, 52000, 0.62, 4], [29, 23000, 0.95, 1]]
LONG = [f"applicant_{i:03d}_" + "monthly_household_expenditure_on_" * 3 for i in range(100)]  # 100 x ~114 chars


# -- reading a figure back --------------------------------------------------------------------------


def drawn_texts(figure):
    """(renderer, every Text artist drawn with some text): ticks out of view, and labels of hidden axes,
    are skipped, as they are in the file."""
    renderer = FigureCanvasAgg(figure).get_renderer()
    seen = {}
    draw = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen[id(self)] = self
        return draw(self, renderer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Text, "draw", record)
        figure.draw(renderer)
    return renderer, list(seen.values())


def assert_readable(figure):
    """Every drawn text inside the figure; within each axis, no two drawn tick labels overlapping."""
    renderer, drawn = drawn_texts(figure)
    assert len(drawn) > 10
    box = figure.bbox
    for text in drawn:
        extent = text.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, f"{text.get_text()!r} leaves the figure sideways"
        assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, f"{text.get_text()!r} leaves the figure"
    ids = {id(t) for t in drawn}
    for ax in figure.axes:
        for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
            shown = [t for t in labels if id(t) in ids]
            extents = [t.get_window_extent(renderer) for t in shown]
            for i in range(len(extents)):
                for j in range(i + 1, len(extents)):
                    a, b = extents[i], extents[j]
                    overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
                    overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
                    assert overlap_x <= 0.5 or overlap_y <= 0.5, (shown[i].get_text(), shown[j].get_text())


def bars(figure, kind):
    """{column or 'rest': patch} of the drawn bars of ``kind`` (shap, lime), per panel in drawing order."""
    panels = []
    for ax in figure.axes:
        found = {p.get_gid().split(":", 1)[1]: p for p in ax.patches if (p.get_gid() or "").startswith(kind + ":")}
        if found:
            panels.append(found)
    return panels


def y_labels(figure, kind):
    """The left tick labels of each ``kind`` panel, top to bottom, unwrapped."""
    out = []
    for ax in figure.axes:
        if any((p.get_gid() or "").startswith(kind + ":") for p in ax.patches):
            ticks = sorted(zip(ax.get_yticks(), ax.get_yticklabels(), strict=True), key=lambda t: -t[0])
            out.append([label.get_text().replace("\n", "") for _, label in ticks])
    return out


def all_text(figure):
    return "\n".join(t.get_text() for t in drawn_texts(figure)[1])


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
