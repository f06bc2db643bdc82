"""`litelens invoke`: reading rows from JSON and CSV, the terminal tables, writing the plot, and
one-line errors with exit code 2. The transport is faked (the twin tests cover the real one)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from litelens.infra.cli import main as litelens_main
from litelens.infra.client import ApiError, LitelensClient, PlotError, TransportError, display, plot_explanation, rows
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


def test_json_forms_become_a_request(tmp_path):
    assert rows.read_request('{"instances": [[1, 2]]}') == {"instances": [[1, 2]]}
    assert rows.read_request("[[1, 2], [3, 4]]") == {"instances": [[1, 2], [3, 4]]}
    assert rows.read_request('{"age": 3}') == {"instances": [{"age": 3}]}
    assert rows.read_request('{"inputs": {"age": [1]}}') == {"inputs": {"age": [1]}}
    path = tmp_path / "rows.json"
    path.write_text('[{"age": 1}]')
    assert rows.read_request(str(path)) == {"instances": [{"age": 1}]}


def test_csv_header_names_the_features(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("age,income,debt_ratio,tenure\n41,52000,0.3,4\n\n29,31000,0.55,1\n")
    assert rows.read_request(str(path)) == {
        "instances": [
            {"age": 41.0, "income": 52000.0, "debt_ratio": 0.3, "tenure": 4.0},
            {"age": 29.0, "income": 31000.0, "debt_ratio": 0.55, "tenure": 1.0},
        ]
    }
    assert rows.read_request("-", stdin=io.StringIO("a,b\n1,2\n")) == {"instances": [{"a": 1.0, "b": 2.0}]}
    assert rows.read_request("-", stdin=io.StringIO("[[1]]")) == {"instances": [[1]]}


def test_csv_cells_keep_text_and_empty_is_null(tmp_path):
    # a raw row: a category, a boolean word, a date, an empty cell (missing); the server's schema reads them
    path = tmp_path / "rows.csv"
    path.write_text("income,applicant_type,married,signup,score\n52000, self-employed ,yes,2021-06-01,\n")
    assert rows.read_request(str(path)) == {
        "instances": [
            {
                "income": 52000.0,
                "applicant_type": "self-employed",
                "married": "yes",
                "signup": "2021-06-01",
                "score": None,
            }
        ]
    }
    assert rows.read_request("-", stdin=io.StringIO("a,b\nnan,inf\n")) == {"instances": [{"a": "nan", "b": "inf"}]}


def test_tables_show_raw_values_and_each_rows_warnings():
    warning = {"column": "applicant_type", "code": "unknown_category", "message": "applicant_type = 'student' ..."}
    response = {
        "predictions": [
            {"probability": 0.7, "label": "bad", "warnings": [warning]},
            {"probability": 0.2, "label": "good"},
        ],
        "model": {"name": "m", "version": "v"},
        "explanations": [{"class": "bad", "shap": {"values": {"applicant_type": 0.3, "income": -0.1}}}, None],
    }
    lines = display.format_predictions(response).splitlines()
    assert lines[1].split() == ["#", "label", "probability", "warnings"]
    assert lines[3].split() == ["0", "bad", "0.7", "applicant_type", "unknown_category"]
    assert lines[4].split() == ["1", "good", "0.2"]
    text = display.format_explanations(response, [{"applicant_type": "student", "income": None}, {}])
    assert "  warning: applicant_type = 'student' ..." in text
    assert any(line.split()[:2] == ["applicant_type", "student"] for line in text.splitlines())
    assert any(line.split()[:2] == ["income", "null"] for line in text.splitlines())


@pytest.mark.parametrize(
    ("text", "suffix", "message"),
    [
        ("age,income\n41\n", ".csv", "CSV line 2: 1 values for 2 columns"),
        ("age,age\n1,2\n", ".csv", "must name every column once"),
        ("age,income\n", ".csv", "header but no rows"),
        ("", ".csv", "CSV input is empty"),
        ('{"instances": [1,', ".json", "not valid JSON"),
        ('"just a string"', ".json", "must be a request object"),
    ],
)
def test_unreadable_rows_are_input_errors(tmp_path, text, suffix, message):
    path = tmp_path / f"rows{suffix}"
    path.write_text(text)
    with pytest.raises(rows.InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rows.read_request(str(path))


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


def test_prediction_table():
    response = {
        "predictions": [{"probabilities": {"low": 0.2, "medium": 0.7, "high": 0.1}, "label": "medium"}],
        "model": {"name": "m", "version": "v"},
    }
    lines = display.format_predictions(response).splitlines()
    assert lines[0] == "model m version v: 1 predictions"
    assert lines[3].split() == ["0", "medium", "0.7"]


def test_plot_writes_a_png_with_the_bars(explain_response, tmp_path):
    from litelens.infra.client.plot import save_figure

    figure = plot_explanation(explain_response, 0, instances=ROWS[:1], columns=FEATURES)
    out = save_figure(figure, tmp_path / "shap.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotError, match="no explanation for instance 1"):
        plot_explanation(explain_response, 1)
    with pytest.raises(PlotError, match="no explanation for instance 5"):
        plot_explanation(explain_response, 5)


@pytest.fixture
def fake_send(monkeypatch):
    """Replace the HTTP transport: record what would be sent, answer from a queue."""
    sent: list = []
    answers: list = []

    def send(self, route, request):
        sent.append((self.url, self.api_key, route, request))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(LitelensClient, "send", send)
    monkeypatch.setattr(LitelensClient, "predict", lambda self, instances=None, inputs=None: send(
        self, "predict", {"instances": instances} if inputs is None else {"inputs": inputs}))  # fmt: skip
    return sent, answers


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


def test_invoke_sends_malformed_columns_unchanged_for_the_server_to_name(fake_send):
    # GIVEN "inputs" that is a list of rows, not {feature: [values]}
    sent, answers = fake_send
    answers.append(ApiError(400, "invalid_inputs", '"inputs" must be an object'))
    # WHEN predicting THEN the server sees it as written (not converted to {1: 2}) and its answer is shown
    assert litelens_main(["invoke", "predict", '{"inputs": [[1, 2]]}']) == 2
    assert sent[0][3] == {"inputs": [[1, 2]]}


def test_unknown_top_level_keys_reach_the_server_to_be_named(explain_response, fake_send):
    sent, answers = fake_send
    answers += [{"predictions": []}, explain_response]
    typo = {"instances": [[1, 2, 3, 4]], "paramters": {"seed": 1}}
    assert litelens_main(["invoke", "predict", json.dumps(typo), "--output", "json"]) == 0
    assert litelens_main(["invoke", "explain", json.dumps(typo), "--output", "json"]) == 0
    assert [request for *_, request in sent] == [typo, typo]


def test_invoke_predict_prints_json_when_piped(fake_send, capsys):
    _, answers = fake_send
    answers.append({"predictions": [{"value": 2.5}], "model": {"name": "r", "version": "1"}})
    assert litelens_main(["invoke", "predict", "[[1, 2, 3, 4]]"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"] == [{"value": 2.5}]


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (ApiError(400, "missing_feature", "instance 0: missing feature 'age'"), 2, "400 missing_feature: instance 0"),
        (ApiError(403, "gateway", "Forbidden"), 2, "403 gateway: Forbidden"),
        (ApiError(503, "gateway", "Service Unavailable"), 1, "503 gateway"),
        (TransportError("POST http://h/predict: Connection refused (after 5 attempts)"), 1, "Connection refused"),
    ],
)
def test_service_errors_are_one_line(fake_send, capsys, answer, code, message):
    _, answers = fake_send
    answers.append(answer)
    assert litelens_main(["invoke", "predict", "[[1]]"]) == code
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["invoke", "predict"], "predict needs rows"),
        (["invoke", "predict", "/no/such/file.json"], "cannot read /no/such/file.json"),
        (["invoke", "predict", "[[1]]", "--plot", "x.png"], "--plot needs `explain`"),
        (["invoke", "explain", "[[1]]", "--nsamples", "lots"], "--nsamples must be a number"),
        (["invoke", "explain", "[[1]]", "--explain-if", "{oops"], "--explain-if is not valid JSON"),
        (["invoke", "explain", "[[1]]", "--explain-if", "[0.8]"], "--explain-if must be a JSON object"),
        (["invoke", "predict", "[[1]]", "--retries", "-1"], "--retries must be 0 or more"),
        (["invoke", "predict", '{"instances": [[1]], "inputs": {"a": [1]}}'], "instances or inputs, not both"),
        (["invoke", "explain", '{"instances": [[1]], "parameters": [1]}'], '"parameters" in the input must be'),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    assert litelens_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
