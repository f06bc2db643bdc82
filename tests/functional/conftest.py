"""Fixtures the functional tests of one function share across their files: the predict function's app
per task (``apps``, ``app`` the binary one) and the explain function's (``binary_app``,
``multiclass_app``, ``regression_app``). Each module that asks for one imports its own (module scope),
so a test that tampers with one module's app does not reach another's."""

from __future__ import annotations

import pytest

from tests.support.predict_app import import_explain_app, import_predict_app


@pytest.fixture(scope="module")
def apps(binary_bundle, multiclass_bundle, regression_bundle):
    return {
        "binary": import_predict_app(binary_bundle),
        "multiclass": import_predict_app(multiclass_bundle),
        "regression": import_predict_app(regression_bundle),
    }


@pytest.fixture(scope="module")
def app(apps):
    return apps["binary"]


@pytest.fixture(scope="module")
def binary_app(binary_bundle):
    return import_explain_app(binary_bundle)


@pytest.fixture(scope="module")
def multiclass_app(multiclass_bundle):
    return import_explain_app(multiclass_bundle)


@pytest.fixture(scope="module")
def regression_app(regression_bundle):
    return import_explain_app(regression_bundle)
