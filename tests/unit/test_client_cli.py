"""`litelens invoke`: reading rows from JSON and CSV, the terminal tables, and one-line errors with exit
code 2. The transport is faked (the twin tests cover the real one; tests/functional/test_client_cli.py
runs the table and the plot on a real explain answer)."""

from __future__ import annotations

import io
import json

import pytest

from litelens.infra.cli import main as litelens_main
from litelens.infra.client import ApiError, TransportError, display, rows


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


def test_prediction_table():
    response = {
        "predictions": [{"probabilities": {"low": 0.2, "medium": 0.7, "high": 0.1}, "label": "medium"}],
        "model": {"name": "m", "version": "v"},
    }
    lines = display.format_predictions(response).splitlines()
    assert lines[0] == "model m version v: 1 predictions"
    assert lines[3].split() == ["0", "medium", "0.7"]


def test_invoke_sends_malformed_columns_unchanged_for_the_server_to_name(fake_send):
    # GIVEN "inputs" that is a list of rows, not {feature: [values]}
    sent, answers = fake_send
    answers.append(ApiError(400, "invalid_inputs", '"inputs" must be an object'))
    # WHEN predicting THEN the server sees it as written (not converted to {1: 2}) and its answer is shown
    assert litelens_main(["invoke", "predict", '{"inputs": [[1, 2]]}']) == 2
    assert sent[0][3] == {"inputs": [[1, 2]]}


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
