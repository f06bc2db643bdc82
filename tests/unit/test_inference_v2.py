"""The Open Inference Protocol codec: V2 tensors -> the body the instance parser reads -> the same batch
as /predict's, outputs -> tensors, every mistake a 4xx naming it; the router answers those below the
protocol's paths as {"error": "..."}, body decoding's included."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import numpy as np
import pytest

from litelens.build.bundle.schema import Schema
from litelens.functions.common import inference_v2 as v2
from litelens.functions.common import instances
from litelens.functions.common.errors import ClientError
from tests.support.bundles import MIXED_SCHEMA
from tests.support.responses import decoded

NUMERIC = Schema.numeric(["age", "income"])


def card(task: str = "binary", schema: Schema = NUMERIC) -> SimpleNamespace:
    classes = {"binary": ("good", "bad"), "multiclass": ("low", "mid", "high"), "regression": None}[task]
    return SimpleNamespace(name="credit", version="v7", task=task, classes=classes, schema=schema)


def batch_of(body: dict, schema: Schema = NUMERIC):
    rows, requested = v2.request_body(body, schema, max_rows=100)
    return instances.parse_instances(rows, schema, 100), requested


def test_one_input_per_column_is_the_columnar_batch_predict_reads():
    body = {
        "inputs": [
            {"name": "income", "shape": [2], "datatype": "FP64", "data": [50_000.0, 60_000.0]},
            {"name": "age", "shape": [2, 1], "datatype": "INT64", "data": [[30], [40]]},
        ]
    }
    batch, requested = batch_of(body)
    expected = instances.parse_instances({"instances": [[30, 50_000.0], [40, 60_000.0]]}, NUMERIC, 100)
    np.testing.assert_array_equal(batch.X, expected.X)
    assert requested is None


def test_one_fp32_matrix_is_rows_in_column_order_flat_or_nested():
    flat = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [30, 50_000, 40, 60_000]}]}
    nested = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[30, 50_000], [40, 60_000]]}]}
    expected = instances.parse_instances({"instances": [[30, 50_000], [40, 60_000]]}, NUMERIC, 100)
    for body in (flat, nested):
        np.testing.assert_array_equal(batch_of(body)[0].X, expected.X)


def test_mixed_columns_take_bytes_bool_and_null_like_the_pandas_codec():
    n = 2
    data = {
        "income": ("FP64", [52_000.0, None]),
        "score": ("INT64", [3, 5]),
        "applicant_type": ("BYTES", ["retired", "astronaut"]),
        "married": ("BOOL", [True, False]),
        "signup": ("BYTES", ["2021-03-01", "2022-01-15"]),
    }
    body = {"inputs": [{"name": k, "shape": [n], "datatype": t, "data": d} for k, (t, d) in data.items()]}
    batch, _ = batch_of(body, MIXED_SCHEMA)
    rows = [dict(zip(data, values, strict=True)) for values in zip(*(d for _, d in data.values()), strict=True)]
    expected = instances.parse_instances({"instances": rows}, MIXED_SCHEMA, 100)
    np.testing.assert_array_equal(batch.X, expected.X)
    assert batch.warnings == expected.warnings and batch.warnings[1]  # imputed income, unknown category


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"inputs": []}, 400, "non-empty list"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [1]}], "extra": 1}, 400, "'extra'"),
        ({"inputs": [{"name": "age", "shape": [2], "datatype": "FP64", "data": [1]}]}, 400, "shape holds 2"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "FP99", "data": [1]}]}, 400, "datatype"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [1.5]}]}, 400, "integers"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "BYTES", "data": ["1"]}]}, 400, "numeric column"),
        ({"inputs": [{"name": "age", "shape": ["1"], "datatype": "FP64", "data": [1]}]}, 400, "shape"),
        ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}, 400, "3 columns"),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": ["a", "b"]}]}, 400, "numeric"),
        ({"inputs": [{"name": "x", "shape": [101, 2], "datatype": "FP32", "data": []}]}, 400, "limit is 100"),
        ({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [[[1, 2]]]}]}, 400, "nested"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [1]}]}, 400, "missing column"),
        ({"inputs": [{"name": "age", "shape": [1], "datatype": "FP64", "data": [1]}] * 2}, 400, "twice"),
        (
            {"inputs": [{"name": "age", "shape": [0], "datatype": "FP16", "data": [], "parameters": [None]}]},
            400,
            "object",
        ),
    ],
)
def test_every_mistake_is_a_4xx_naming_it(body, status, words):
    with pytest.raises(ClientError) as raised:
        batch_of(body)
    assert raised.value.status == status and words in raised.value.message, raised.value.message


def test_a_model_name_other_than_the_bundles_is_a_404():
    v2.check_model(card(), "credit")
    with pytest.raises(ClientError) as raised:
        v2.check_model(card(), "other")
    assert raised.value.status == 404 and "'credit'" in raised.value.message


def test_outputs_per_task_and_the_requested_ones_in_their_order():
    binary = [{"probability": 0.25, "label": "good"}, {"probability": 0.75, "label": "bad", "warnings": [{"c": 1}]}]
    tensors = {t["name"]: t for t in v2.output_tensors(card("binary"), binary, None)}
    assert tensors["probability"] == {"name": "probability", "datatype": "FP64", "shape": [2], "data": [0.25, 0.75]}
    assert tensors["label"]["data"] == ["good", "bad"] and tensors["label"]["datatype"] == "BYTES"
    assert json.loads(tensors["warnings"]["data"][1]) == [{"c": 1}] and tensors["warnings"]["data"][0] == "[]"
    multi = [{"probabilities": {"low": 0.2, "mid": 0.3, "high": 0.5}, "label": "high"}]
    (probabilities,) = v2.output_tensors(card("multiclass"), multi, ["probabilities"])
    assert probabilities["shape"] == [1, 3] and probabilities["data"] == [0.2, 0.3, 0.5]
    (value,) = v2.output_tensors(card("regression"), [{"value": 3.5}], None)
    assert value == {"name": "value", "datatype": "FP64", "shape": [1], "data": [3.5]}
    v2.check_outputs(card("binary"), ["label", "probability"])
    with pytest.raises(ClientError, match="'value'"):
        v2.check_outputs(card("binary"), ["value"])
    with pytest.raises(ClientError, match="explanations"):
        v2.check_outputs(card("binary"), ["explanations"])
    v2.check_outputs(card("binary"), ["explanations"], explainer=True)


def test_the_explainer_outputs_each_rows_explanation_as_json_text():
    tensors = v2.output_tensors(card("regression"), [{"value": 1.0}, {"value": 2.0}], None, [{"shap": {}}, None])
    assert tensors[-1] == {"name": "explanations", "datatype": "BYTES", "shape": [2], "data": ['{"shap": {}}', "null"]}


def test_kserve_v1_verbs_split_at_the_last_colon():
    assert v2.v1_verb("credit:predict") == ("credit", "predict")
    assert v2.v1_verb("a:b:explain") == ("a:b", "explain")
    for bad in ("credit", "credit:train", ""):
        with pytest.raises(ClientError) as raised:
            v2.v1_verb(bad)
        assert raised.value.status == 404


def test_explain_parameters_pass_on_without_the_protocols_own_flags():
    body = {"parameters": {"binary_data_output": False, "explain": True, "seed": 3}}
    assert v2.explain_parameters(body) == {"seed": 3}
    with pytest.raises(ClientError, match="explainer"):
        v2.refuse_explain(body)


def test_model_metadata_names_one_input_per_column():
    meta = v2.model_metadata(card("binary", MIXED_SCHEMA))
    assert [i["name"] for i in meta["inputs"]] == MIXED_SCHEMA.names
    assert {i["name"]: i["datatype"] for i in meta["inputs"]}["applicant_type"] == "BYTES"
    assert [o["name"] for o in meta["outputs"]] == ["probability", "label", "warnings"]


def test_the_router_answers_protocol_paths_in_the_protocols_error_shape(load_event, lambda_context):
    from litelens.functions.common.observability import JsonLogger
    from litelens.functions.common.routing import Router
    from litelens.functions.common.settings import Settings

    def infer(request):
        v2.check_model(card(), request.path_parameters["name"])
        raise ClientError(413, "body_too_large", "body of 7 MB is over 6 MB")

    router = Router(
        {("POST", "/v2/models/{name}/infer"): infer, ("POST", "/predict"): infer},
        direct_route=("POST", "/predict"),
        logger=JsonLogger("test", stream=io.StringIO()),
        settings=Settings(),
        protocol_paths=v2.PROTOCOL_PATHS,
    )
    event = load_event("predict_rest_v1")

    def answer(path, **changes):
        return decoded(router.handle({**event, "path": path, "resource": path, **changes}, lambda_context))

    # GIVEN a V2 path: the model name is the path parameter, every 4xx is {"error": "..."}
    assert answer("/v2/models/credit/infer") == (413, {"error": "body of 7 MB is over 6 MB"})
    status, body = answer("/v2/models/other/infer")
    assert status == 404 and set(body) == {"error"} and "'credit'" in body["error"]
    # an undecodable body too (it fails before any route runs)
    status, body = answer("/v2/models/credit/infer", body="%%%", isBase64Encoded=True)
    assert status == 400 and set(body) == {"error"} and "base64" in body["error"]
    # while litelens's own routes keep their envelope
    status, body = answer("/predict", body="%%%", isBase64Encoded=True)
    assert status == 400 and body["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("explainer", [False, True])
def test_an_output_named_twice_is_a_400_not_an_answer_repeated(explainer):
    # GIVEN the amplification attack: one output requested 40,000 times
    with pytest.raises(ClientError) as raised:
        v2.check_outputs(card("binary"), ["label"] * 40_000, explainer=explainer)
    # THEN a 400 with the stable code, naming the output and how often it came
    assert raised.value.status == 400 and raised.value.code == "invalid_instances"
    assert "'label' 40000 times" in raised.value.message
    # and unknown names keep their code, listed once each and at most five
    with pytest.raises(ClientError) as raised:
        v2.check_outputs(card("binary"), [f"x{i}" for i in range(9)] * 2, explainer=explainer)
    assert raised.value.code == "invalid_instances" and "and 4 more" in raised.value.message


def test_server_metadata_names_the_server_and_the_package_version():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert v2.server_metadata() == {"name": "litelens", "version": pyproject["project"]["version"], "extensions": []}
