"""Clients we did not write, against `litelens serve` over the real template.yaml: Triton's
``tritonclient.http`` and KServe's ``InferenceRESTClient`` (Open Inference Protocol V2, KServe V1)
read metadata, check readiness and get the same predictions as ``POST /predict``."""

from __future__ import annotations

import http.client
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton

from litelens.build.bundle import Bundle
from tests.support.twin_requests import post, rows, serving

REPO = Path(__file__).resolve().parents[2]
KSERVE_PYTHON = REPO / ".venv-kserve" / "bin" / "python"
KSERVE_SCRIPT = REPO / "tests" / "clients" / "kserve_client.py"
# Few samples: these tests prove the route and the tensors, not the attributions' accuracy.
FAST_EXPLAIN = {"nsamples": 100, "num_samples": 200, "seed": 0}


@pytest.fixture(scope="module")
def twin(binary_bundle):
    with serving(binary_bundle) as running:
        yield running


@pytest.fixture(scope="module")
def card(binary_bundle):
    return Bundle.load(binary_bundle).card


def predict(twin, instances) -> list[dict]:
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=120)
    status, body = post(conn, "/predict", {"instances": instances})
    conn.close()
    assert status == 200, body
    return body["predictions"]


def column_inputs(names, X: np.ndarray, datatype: str = "FP64") -> list[triton.InferInput]:
    inputs = []
    for j, name in enumerate(names):
        tensor = triton.InferInput(name, [len(X)], datatype)
        tensor.set_data_from_numpy(X[:, j].astype(np.float64 if datatype == "FP64" else np.float32), binary_data=False)
        inputs.append(tensor)
    return inputs


def test_tritonclient_reads_metadata_readiness_and_the_predictions_of_predict(twin, card):
    # GIVEN Triton's HTTP client pointed at the twin, and /predict's answer for the same rows
    client = triton.InferenceServerClient(url=f"{twin.host}:{twin.api_port}")
    X = np.asarray(rows(card.features, 5, seed=11))
    expected = predict(twin, X.tolist())
    # WHEN it checks the server and the model and reads the metadata
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(card.name)
    metadata = client.get_model_metadata(card.name)
    assert metadata["name"] == card.name and metadata["versions"] == [card.version]
    assert [i["name"] for i in metadata["inputs"]] == card.schema.names
    # THEN infer with one input per column gives /predict's probabilities and labels
    outputs = [triton.InferRequestedOutput(name, binary_data=False) for name in ("probability", "label")]
    result = client.infer(card.name, column_inputs(card.schema.names, X), outputs=outputs)
    np.testing.assert_allclose(result.as_numpy("probability"), [p["probability"] for p in expected], rtol=0, atol=0)
    assert [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("label")] == [
        p["label"] for p in expected
    ]
    # and so does one FP32 matrix [n, n_columns]
    matrix = triton.InferInput("X", list(X.shape), "FP32")
    matrix.set_data_from_numpy(X.astype(np.float32), binary_data=False)
    result = client.infer(card.name, [matrix], outputs=outputs[:1])
    np.testing.assert_allclose(result.as_numpy("probability"), [p["probability"] for p in expected], atol=1e-6)
    assert result.get_output("label") is None  # only the requested output
    # and a wrong model name is the protocol's 404
    with pytest.raises(triton.InferenceServerException) as raised:
        client.get_model_metadata("no-such-model")
    assert "not found" in str(raised.value)
    client.close()


def test_tritonclient_gets_the_attributions_from_the_explainer(twin, card):
    # GIVEN the explainer's V2 server below /explainer
    client = triton.InferenceServerClient(url=f"{twin.host}:{twin.api_port}/explainer")
    X = np.asarray(rows(card.features, 2, seed=12))
    # WHEN it infers with explain options as request parameters
    result = client.infer(card.name, column_inputs(card.schema.names, X), parameters=FAST_EXPLAIN)
    # THEN the predictions are /predict's and each row's attributions come as JSON text
    expected = predict(twin, X.tolist())
    np.testing.assert_allclose(result.as_numpy("probability"), [p["probability"] for p in expected], atol=0)
    explanations = [json.loads(t) for t in result.as_numpy("explanations")]
    assert [e["class"] for e in explanations] == [p["label"] for p in expected]
    assert all(set(e["shap"]["values"]) == set(card.schema.names) for e in explanations)
    client.close()


def test_tritonclient_sends_strings_and_booleans_as_bytes_and_bool(mixed_bundle):
    # GIVEN a model over numeric, categorical, boolean and date columns
    card = Bundle.load(mixed_bundle).card
    values = {
        "income": ("FP64", np.array([52_000.0, 81_000.0])),
        "score": ("INT64", np.array([3, 5], dtype=np.int64)),
        "applicant_type": ("BYTES", np.array(["retired", "employed"], dtype=object)),
        "married": ("BOOL", np.array([True, False])),
        "signup": ("BYTES", np.array(["2021-03-01", "2022-01-15"], dtype=object)),
    }
    assert list(values) == card.schema.names
    instances = [{name: array.tolist()[i] for name, (_, array) in values.items()} for i in range(2)]
    with serving(mixed_bundle, functions=["PredictFunction"]) as running:
        expected = predict(running, instances)
        client = triton.InferenceServerClient(url=f"{running.host}:{running.api_port}")
        inputs = []
        for name, (datatype, array) in values.items():
            tensor = triton.InferInput(name, [2], datatype)
            tensor.set_data_from_numpy(array, binary_data=False)
            inputs.append(tensor)
        requested = [triton.InferRequestedOutput("probability", binary_data=False)]
        result = client.infer(card.name, inputs, outputs=requested)
        client.close()
    # THEN the pandas-codec layout gives /predict's answer for the same rows as objects
    np.testing.assert_allclose(result.as_numpy("probability"), [p["probability"] for p in expected], atol=0)


def test_kserve_inference_rest_client_v2_and_v1_agree_with_predict(twin, card):
    # GIVEN KServe's SDK in its own venv (its pins clash with TensorFlow's; `make kserve-venv` builds it)
    assert KSERVE_PYTHON.exists(), f"{KSERVE_PYTHON} is missing: run `make kserve-venv`"
    X = rows(card.features, 3, seed=13)
    request = {"columns": card.schema.names, "rows": X, "parameters": FAST_EXPLAIN}
    # WHEN its InferenceRESTClient runs V2 health, readiness and infer, then V1 :predict and :explain
    done = subprocess.run(
        [str(KSERVE_PYTHON), str(KSERVE_SCRIPT), twin.api_url, card.name],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    # THEN every answer agrees with /predict
    expected = predict(twin, X)
    assert answer["live"] is True and answer["ready"] is True and answer["model_ready"] is True
    assert answer["v2_outputs"]["probability"] == [p["probability"] for p in expected]
    assert answer["v2_outputs"]["label"] == [p["label"] for p in expected]
    assert answer["v1_predict"]["predictions"] == expected
    assert answer["v1_explain"]["predictions"] == expected
    assert [e["class"] for e in answer["v1_explain"]["explanations"]] == [p["label"] for p in expected]
