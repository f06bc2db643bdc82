"""Every function in template.yaml points at handler code that exists and defines the handler."""

from __future__ import annotations

import ast

import pytest

from litelens.infra.template import DEFAULT_TEMPLATE, SamTemplate

TEMPLATE = SamTemplate.load(DEFAULT_TEMPLATE)


@pytest.mark.parametrize("function", TEMPLATE.function_ids())
def test_handler_file_exists_and_defines_the_handler(function):
    spec = TEMPLATE.function(function)
    assert spec.routes, f"{function} has no Api event"
    assert spec.handler_file.is_file(), f"{function}: {spec.handler_file} missing"
    tree = ast.parse(spec.handler_file.read_text())
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    names |= {
        t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
    }
    names |= {a.asname or a.name for node in tree.body if isinstance(node, ast.ImportFrom) for a in node.names}
    assert spec.handler_name in names, f"{spec.handler_file} defines no {spec.handler_name}"
