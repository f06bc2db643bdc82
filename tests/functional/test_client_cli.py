"""`litelens invoke` on what the real explain function answers over a trained bundle: the explanation
table, the plot, and the requests sent for it (tests/unit/test_client_cli.py: the rest, no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from litelens.infra.cli import main as litelens_main
from litelens.infra.client import PlotError, display, plot_explanation
from tests.support.predict_app import EXPLAIN_APP, import_function_app

FEATURES = ["age", "income", "debt_ratio", "tenure"]
ROWS = [[41, 52000, 0.62, 4], [29, 23000, 0.95, 1]]


@pytest.fixture(scope="module")
def explain_response(binary_bundle):
    """What the real explain function answers for ROWS (top-2, so LIME leaves two features blank), the
    second row filtered out by explain_if: generated, so it cannot drift from the server."""
    app = import_function_app(EXPLAIN_APP, binary_bundle)
    p = app.MODEL.predict_batch(np.asarray(ROWS, dtype=np.float32))[:, 0].tolist()
    assert p[0] != p[1]
    middle = (p[0] + p[1]) / 2  # a bound that keeps row 0 and drops row 1
    explain_if = {"min_probability": middle} if p[0] > p[1] else {"max_probability": middle}
    request = {"instances": ROWS, "parameters": {"num_features": 2, "explain_if": explain_if}}
    response = app.lambda_handler(request, None)
    assert "error" not in response, response
    return response


def test_explanation_table_is_sorted_by_absolute_shap(explain_response):
    text = display.format_explanations(explain_response, ROWS, FEATURES)  # rows sent as lists: named by the columns
    lines = text.splitlines()
    first = explain_response["predictions"][0]
    explanation = explain_response["explanations"][0]
    shap, lime = explanation["shap"]["values"], {w["feature"]: w for w in explanation["lime"]["weights"]}
    assert lines[0].startswith(f"instance 0: label={first['label']} p=")
    assert float(lines[0].rsplit("p=", 1)[1]) == pytest.approx(first["probability"], abs=1e-4)
    assert lines[1] == f"  explaining class {explanation['class']}"
    assert "shap.additivity_gap=" in lines[2] and "lime.score=" in lines[2] and "agreement.overlap=" in lines[2]
    assert lines[3].split() == ["column", "value", "SHAP", "LIME", "weight", "LIME", "condition"]
    shown = list(shap) + [f for f in lime if f not in shap]  # SHAP's top-2 and LIME's top-2
    body = [line.split() for line in lines[5 : 5 + len(shown)]]
    # THEN one row per column either method kept, largest |SHAP| first, with the instance's value beside it,
    # and SHAP's other columns summed in one last row
    assert [row[0] for row in body] == sorted(shown, key=lambda f: -abs(shap.get(f, 0.0)))
    rest = explanation["shap"]["rest"]
    assert lines[5 + len(shown)].split() == [
        "(other",
        str(explanation["shap"]["rest_columns"]),
        "columns)",
        display._fmt(rest),
    ]
    assert len(lime) == 2
    for name, value, *cells in body:
        assert float(value) == ROWS[0][FEATURES.index(name)]
        if name in shap:
            assert float(cells.pop(0)) == pytest.approx(shap[name], rel=1e-3, abs=1e-4)
        if name in lime:
            assert float(cells[0]) == pytest.approx(lime[name]["weight"], rel=1e-3, abs=1e-4)
            assert " ".join(cells[1:]) == lime[name]["condition"]
        else:
            assert cells == []  # no LIME weight: left blank
    assert f"instance 1: label={explain_response['predictions'][1]['label']} p=" in text
    assert "filtered out by explain_if" in text


def test_plot_writes_a_png_with_the_bars(explain_response, tmp_path):
    from litelens.infra.client.plot import save_figure

    figure = plot_explanation(explain_response, 0, instances=ROWS[:1], columns=FEATURES)
    out = save_figure(figure, tmp_path / "shap.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotError, match="no explanation for instance 1"):
        plot_explanation(explain_response, 1)
    with pytest.raises(PlotError, match="no explanation for instance 5"):
        plot_explanation(explain_response, 5)


def test_invoke_explain_end_to_end_with_plot(explain_response, fake_send, tmp_path, capsys):
    sent, answers = fake_send
    answers.append(explain_response)
    rows = tmp_path / "rows.csv"
    rows.write_text("age,income,debt_ratio,tenure\n41,52000,0.62,4\n1,2,3,4\n")
    argv = ["invoke", "explain", str(rows), "--url", "http://h:1", "--api-key", "k", "--explainers", "shap,lime"]
    argv += ["--seed", "7", "--nsamples", "300", "--output", "table", "--plot", str(tmp_path / "p.png")]
    assert litelens_main(argv) == 0
    url, key, route, request = sent[0]
    assert (url, key, route) == ("http://h:1", "k", "explain")
    assert request["parameters"] == {"explainers": ["shap", "lime"], "nsamples": 300, "seed": 7}
    assert request["instances"][0] == {"age": 41.0, "income": 52000.0, "debt_ratio": 0.62, "tenure": 4.0}
    captured = capsys.readouterr()
    assert "debt_ratio" in captured.out and "LIME weight" in captured.out
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_invoke_with_columnar_inputs_sends_them_for_predict_and_explain(explain_response, fake_send, tmp_path, capsys):
    # GIVEN a request file in the columnar form
    sent, answers = fake_send
    columns = {"age": [41, 29], "income": [52000, 23000], "debt_ratio": [0.62, 0.1], "tenure": [4, 1]}
    path = tmp_path / "columns.json"
    path.write_text(json.dumps({"inputs": columns}))
    answers += [{"predictions": [{"value": 1}, {"value": 2}]}, explain_response]
    # WHEN predicting and explaining from it
    assert litelens_main(["invoke", "predict", str(path), "--output", "json"]) == 0
    assert litelens_main(["invoke", "explain", str(path), "--output", "table", "--num-features", "2"]) == 0
    # THEN both send the columns (no empty instances) and the table shows the row's values
    assert sent[0][2:] == ("predict", {"inputs": columns})
    assert sent[1][2:] == ("explain", {"inputs": columns, "parameters": {"num_features": 2}})
    # THEN a named column's value is the one sent for it (columnar inputs name every value)
    shown = next(iter(explain_response["explanations"][0]["shap"]["values"]))
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(shown + " "))
    assert float(row.split()[1]) == columns[shown][0]


def test_invoke_explain_puts_explain_if_and_output_space_in_parameters(explain_response, fake_send, tmp_path):
    sent, answers = fake_send
    answers += [explain_response, explain_response]
    argv = ["invoke", "explain", "[[1, 2, 3, 4]]", "--output", "json"]
    assert litelens_main([*argv, "--explain-if", '{"min_probability": 0.8}', "--output-space", "log_odds"]) == 0
    assert sent[0][3] == {
        "instances": [[1, 2, 3, 4]],
        "parameters": {"output_space": "log_odds", "explain_if": {"min_probability": 0.8}},
    }
    # a request file with explain_if at the top level (where the server rejects it) is moved into parameters
    legacy = {"instances": [[1, 2, 3, 4]], "explain_if": {"labels": ["bad"]}, "parameters": {"seed": 1}}
    assert litelens_main(["invoke", "explain", json.dumps(legacy), "--output", "json"]) == 0
    assert sent[1][3] == {"instances": [[1, 2, 3, 4]], "parameters": {"seed": 1, "explain_if": {"labels": ["bad"]}}}


def test_unknown_top_level_keys_reach_the_server_to_be_named(explain_response, fake_send):
    sent, answers = fake_send
    answers += [{"predictions": []}, explain_response]
    typo = {"instances": [[1, 2, 3, 4]], "paramters": {"seed": 1}}
    assert litelens_main(["invoke", "predict", json.dumps(typo), "--output", "json"]) == 0
    assert litelens_main(["invoke", "explain", json.dumps(typo), "--output", "json"]) == 0
    assert [request for *_, request in sent] == [typo, typo]
