"""`litelens serve` over the whole real template.yaml (predict and explain handlers): every route
the template lists answers, and the client (HTTP and Lambda) and `litelens invoke` work against it."""

from __future__ import annotations

import http.client

import pytest

from litelens.build.bundle import Bundle
from litelens.functions.common import constants
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from litelens.infra.cli import main as litelens_main
from litelens.infra.client import LitelensClient
from litelens.infra.local.serve import Twin
from tests.support.twin_requests import get, lambda_client, post, rows, serving

FAST = {"seed": 0, "nsamples": 100, "num_samples": 200}


@pytest.fixture(scope="module")
def twin(binary_bundle):
    with serving(binary_bundle) as running:  # every function in the template
        yield running


@pytest.fixture(scope="module")
def features(binary_bundle):
    return Bundle.load(binary_bundle).card.features


def test_every_template_route_answers(twin, features, binary_bundle):
    # GIVEN the routes as the template lists them (nothing else knows them)
    routes = SamTemplate.load(DEFAULT_TEMPLATE).routes()
    assert {"/predict", "/explain", "/metadata", "/openapi.json", "/v2/models/{name}/infer"} <= {r.path for r in routes}
    card = Bundle.load(binary_bundle).card
    instances = rows(features, 2)
    tensors = {"inputs": [{"name": "X", "shape": [2, len(features)], "datatype": "FP32", "data": instances}]}
    bodies = {"/v2/models/{name}/infer": tensors, "/explainer/v2/models/{name}/infer": {**tensors, "parameters": FAST}}
    conn = http.client.HTTPConnection(twin.host, twin.api_port, timeout=120)
    for route in routes:
        path = route.path.replace("{name}", card.name).replace("{model}", f"{card.name}:explain")
        if route.method == "GET":
            status, body = get(conn, path)
        else:
            status, body = post(conn, path, bodies.get(route.path, {"instances": instances, "parameters": FAST}))
        # THEN each answers 200 with its own payload
        assert status == 200, (route, body)
        if route.path == "/metadata":
            assert body["features"] == features
        elif route.path == "/v2":
            assert body == {"name": "litelens", "version": body["version"], "extensions": []}
        elif route.path == "/openapi.json":
            # the served document is the one `litelens openapi` writes for the bundle
            assert set(body["paths"]) == {r.path for r in routes}
        elif route.path.endswith("/infer"):
            assert body["model_name"] == card.name and body["outputs"][0]["shape"][0] == 2
        elif route.method == "POST":
            assert len(body["predictions"]) == 2
        if route.path in ("/explain", "/v1/models/{model}"):
            assert len(body["explanations"]) == 2
            assert set(body["explanations"][0]["shap"]["values"]) == set(features)
    conn.close()


def test_explain_over_http_and_lambda_agree(twin, features):
    instances = [dict(zip(features, row, strict=True)) for row in rows(features, 1, seed=3)]
    over_http = LitelensClient(twin.api_url, max_attempts=1)
    over_lambda = LitelensClient(explain_function="ExplainFunction", lambda_client=lambda_client(twin))
    explained = over_http.explain(instances, explainers=["shap", "lime"], seed=0)
    assert explained == over_lambda.explain(instances, explainers=["shap", "lime"], seed=0)
    assert explained["explanations"][0]["lime"]["weights"]


def test_invoke_command_prints_the_explanation_table_and_plots(twin, features, tmp_path, capsys):
    csv_path = tmp_path / "rows.csv"
    lines = [",".join(features)] + [",".join(map(str, r)) for r in rows(features, 2, seed=4)]
    csv_path.write_text("\n".join(lines) + "\n")
    argv = ["invoke", "explain", str(csv_path), "--url", twin.api_url, "--seed", "0", "--output", "table"]
    argv += ["--plot", str(tmp_path / "shap.png")]
    assert litelens_main(argv) == 0
    # (the in-process handlers' JSON log lines share stdout with the table here)
    out = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("{")]
    assert out[0].startswith("instance 0: label=")
    header = next(i for i, line in enumerate(out) if line.startswith("column"))
    assert "SHAP" in out[header] and "LIME weight" in out[header]
    table = out[header + 2 : header + 2 + len(features)]
    assert sorted(line.split()[0] for line in table) == sorted(features)
    shap = [abs(float(line.split()[2])) for line in table]
    assert shap == sorted(shap, reverse=True)  # ordered by |SHAP|
    assert (tmp_path / "shap.png").read_bytes()[:4] == b"\x89PNG"


def test_cors_preflight_answers_without_a_key_as_api_gateway_does(binary_bundle):
    # GIVEN the twin requiring an API key, as the deployed API does by default
    template = SamTemplate.load(DEFAULT_TEMPLATE)
    env = {constants.MODEL_URI: str(binary_bundle)}
    with Twin(
        template, env_overrides=env, api_port=0, lambda_port=None, api_key="k", functions=["PredictFunction"]
    ) as local:
        conn = http.client.HTTPConnection(local.host, local.api_port, timeout=30)
        # WHEN a browser sends the preflight of a POST /predict (no key: browsers never send one)
        conn.request(
            "OPTIONS", "/predict", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        )
        response = conn.getresponse()
        response.read()
        # THEN it gets the template's CORS headers, and the function is not called
        assert response.status == 200
        assert response.getheader("Access-Control-Allow-Origin") == "*"
        assert "X-Api-Key" in response.getheader("Access-Control-Allow-Headers")
        assert "POST" in response.getheader("Access-Control-Allow-Methods")
        # while an OPTIONS on a path the API does not have, and a keyless POST, are refused
        conn.request("OPTIONS", "/nowhere")
        unknown = conn.getresponse()
        unknown.read()
        conn.request("POST", "/predict", body="{}", headers={"Content-Type": "application/json"})
        refused = conn.getresponse()
        refused.read()
        conn.close()
    assert (unknown.status, refused.status) == (403, 403)
