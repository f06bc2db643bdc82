"""Every function in template.yaml points at handler code that exists and defines the handler."""

from __future__ import annotations

import ast
import re

import pytest

from litelens.infra.aws.template import DEFAULT_TEMPLATE, SamTemplate

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


def test_image_function_builds_from_its_dockerfile_with_the_packaged_bundle_arg():
    # GIVEN the explain image: its Dockerfile sits beside the handler and declares every build arg
    # the template passes (PackagedBundle -> LITELENS_BUNDLE, the bundle copied into the image)
    images = [TEMPLATE.function(f) for f in TEMPLATE.function_ids() if TEMPLATE.function(f).package_type == "Image"]
    assert [f.logical_id for f in images] == ["ExplainFunction"]
    for spec in images:
        dockerfile = spec.handler_file.parent / "Dockerfile"
        assert dockerfile.is_file()
        declared = set(re.findall(r"^ARG\s+([A-Za-z_][A-Za-z0-9_]*)", dockerfile.read_text(), re.MULTILINE))
        build_args = TEMPLATE.data["Resources"][spec.logical_id]["Metadata"]["DockerBuildArgs"]
        assert set(build_args) <= declared
        assert build_args == {"LITELENS_BUNDLE": {"Ref": "PackagedBundle"}}
        assert f'CMD ["{spec.handler_file.stem}.{spec.handler_name}"]' in dockerfile.read_text()
