"""The OpenAPI document and the code stay one: its routes are template.yaml's, its error codes are
``errors``' constants, its explain parameters are ``request.PARAMETER_KEYS`` with the caps' bounds,
its instances follow the card's schema and the settings' limits, and `litelens openapi` writes it."""

from __future__ import annotations

import json

import jsonschema
import pytest

from litelens.build.bundle.schema import Schema
from litelens.functions.common import errors, inference_v2, openapi
from litelens.functions.common.settings import Settings
from litelens.functions.explain import openapi_explain, request
from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate
from litelens.infra.cli import main as litelens_main
from litelens.infra.openapi import build_document
from tests.support.bundles import MIXED_SCHEMA
from tests.support.structural_bundle import structural_bundle
from tests.unit.test_inference_v2 import card as fake_card


def make_document(card=None, settings: Settings | None = None, caps: request.Caps | None = None) -> dict:
    card = card or fake_card("binary", MIXED_SCHEMA)
    settings = settings or Settings()
    return openapi.document(card, settings, explain=openapi_explain.explain_schemas(card, caps or request.Caps()))


def body_schema(document: dict, method: str, path: str) -> dict:
    return document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


def test_every_template_route_is_in_the_document_and_nothing_else():
    routes = {(r.method, r.path, r.function) for r in SamTemplate.load(DEFAULT_TEMPLATE).routes()}
    assert routes == {(method, path, function) for method, path, function, _ in openapi.ROUTES}
    document = make_document()
    documented = {
        (m.upper(), p, op["x-litelens-function"]) for p, ops in document["paths"].items() for m, op in ops.items()
    }
    assert documented == routes


def test_the_error_codes_are_errors_constants_and_a_new_one_shows_up(monkeypatch):
    codes = {v for k, v in vars(errors).items() if k.startswith("E_")}
    enum = make_document()["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert set(enum) == codes
    monkeypatch.setattr(errors, "E_SOMETHING_NEW", "something_new", raising=False)
    enum = make_document()["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    assert "something_new" in enum


def test_every_explain_parameter_key_is_described_with_the_caps_bounds():
    assert set(openapi_explain.PARAMETER_SCHEMAS) == set(request.PARAMETER_KEYS)
    caps = request.Caps(instances=3, nsamples=500, num_samples=700)
    properties = make_document(caps=caps)["paths"]["/explain"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]["properties"]
    parameters = properties["parameters"]["properties"]
    assert set(parameters) == set(request.PARAMETER_KEYS)
    assert parameters["nsamples"]["anyOf"][0]["maximum"] == 500 and parameters["num_samples"]["maximum"] == 700
    assert parameters["num_features"]["maximum"] == len(MIXED_SCHEMA.names)
    assert parameters["class"]["enum"] == ["good", "bad", "all"]
    assert properties["instances"]["maxItems"] == 3


def test_instances_follow_the_cards_columns_and_the_settings_limits():
    document = make_document(settings=Settings(max_instances=7))
    schema = body_schema(document, "post", "/predict")
    assert schema["properties"]["instances"]["maxItems"] == 7
    validate = jsonschema.Draft202012Validator(schema).is_valid
    row = {"income": 52_000, "score": 3, "applicant_type": "retired", "married": True, "signup": "2021-03-01"}
    assert validate({"instances": [row]})
    assert validate({"instances": [list(row.values())]})
    assert validate({"instances": [{**row, "customer_id": 7}]})  # an excluded column's key is ignored
    assert validate({"inputs": {k: [v] for k, v in row.items()}})
    assert not validate({"instances": [{k: v for k, v in row.items() if k != "score"}]})
    assert not validate({"instances": [{**row, "income": "a lot"}]})
    assert not validate({"instances": [row], "inputs": {}})
    assert not validate({"instances": [row] * 8})
    plain = make_document(fake_card("regression", Schema.numeric(["x", "y"])))
    prediction = plain["paths"]["/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert prediction["properties"]["predictions"]["items"]["required"] == ["value"]


def test_v2_paths_document_the_protocols_error_and_the_bundles_name():
    document = make_document()
    infer = document["paths"]["/v2/models/{name}/infer"]["post"]
    assert infer["parameters"][0]["schema"]["enum"] == ["credit"]
    assert infer["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProtocolError"
    }
    model = document["paths"]["/v1/models/{model}"]["post"]["parameters"][0]["schema"]["enum"]
    assert model == [f"credit:{verb}" for verb in inference_v2.V1_VERBS]
    assert document["paths"]["/predict"]["post"]["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }
    jsonschema.Draft202012Validator.check_schema(body_schema(document, "post", "/v2/models/{name}/infer"))


def test_litelens_openapi_writes_the_document_the_explain_function_builds(tmp_path, capsys):
    bundle = structural_bundle(tmp_path / "tiny")
    out = tmp_path / "openapi.json"
    assert litelens_main(["openapi", "--bundle", str(bundle.path), "-o", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written == build_document(bundle.path)
    assert written["openapi"] == "3.1.0" and written["info"]["version"] == bundle.card.version
    assert litelens_main(["openapi", "--bundle", str(tmp_path / "missing")]) == 2  # bad input, as in inspect
    assert "litelens openapi:" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_explanation_schema_accepts_the_contracts_fields(task):
    card = fake_card(task)
    fields = {
        "shap": {
            "base_value": 0.4,
            "values": {"age": 0.1},
            "output_space": "probability",
            "output": 0.5,
            "additivity_gap": 0.0,
            "nsamples": 10,
            "rest": 0.0,
            "rest_columns": 1,
            "std_errors": {"age": 0.0},
            "relative_error": 0.0,
            "exact": True,
            "target_error": None,
        },
        "warnings": [{"code": "W_SOMETHING", "message": "m"}],
    }
    explanation = fields if task == "regression" else {"class": card.classes[0], **fields}
    validate = jsonschema.Draft202012Validator(openapi_explain.explanation_schema(card)).is_valid
    assert validate(explanation)
    if task != "regression":
        assert validate({"classes": {c: fields for c in card.classes}})
        assert not validate({"class": "no-such-class", **fields})
