"""What CloudFormation refuses before it deploys anything: parameter values outside their
constraints (``AllowedValues``, ``AllowedPattern``, ``MinValue``/``MaxValue``) and failed ``Rules``
assertions (e.g. an API with no authentication unless ``AllowUnauthenticated=true``).

``parameter_problems(template)`` checks a ``SamTemplate``'s parameter values (defaults, then
overrides) the way CloudFormation would, so ``litelens deploy`` refuses them before running
``sam build``; the twin and the tests use it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from litelens.infra.aws.template import SamTemplate, TemplateError

MAX_QUOTED_CHARS = 60


def _quoted(value: str) -> str:
    shown = value if len(value) <= MAX_QUOTED_CHARS else value[:MAX_QUOTED_CHARS] + "..."
    return repr(shown) + ("" if len(value) <= MAX_QUOTED_CHARS else f" ({len(value)} characters)")


def _constraint_problem(name: str, spec: Mapping[str, Any], value: str) -> str | None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        return f"{name}={_quoted(value)} is not one of {', '.join(repr(str(v)) for v in allowed)}"
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), value):
        return f"{name}={_quoted(value)} does not match {pattern}"
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return f"{name}={_quoted(value)} is not a number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return f"{name}={value} is below its minimum {spec['MinValue']}"
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return f"{name}={value} is above its maximum {spec['MaxValue']}"
    return None


def _rule_problems(template: SamTemplate) -> list[str]:
    problems = []
    for rule_name, rule in (template.data.get("Rules") or {}).items():
        condition = rule.get("RuleCondition")
        if condition is not None and not template.resolve(condition):
            continue
        for assertion in rule.get("Assertions") or []:
            if not template.resolve(assertion["Assert"]):
                description = " ".join(str(assertion.get("AssertDescription", "assertion failed")).split())
                problems.append(f"rule {rule_name}: {description}")
    return problems


def parameter_problems(template: SamTemplate) -> list[str]:
    """Every reason CloudFormation would refuse these parameter values (empty: none)."""
    problems = []
    for name, spec in template.parameters.items():
        if name not in template.parameter_values:
            problems.append(f"{name} has no default: pass a value for it")
            continue
        problem = _constraint_problem(name, spec, template.parameter_values[name])
        if problem:
            problems.append(problem)
    if problems:  # rules read the values: judge them only once the values themselves are valid
        return problems
    return _rule_problems(template)


def check_parameters(template: SamTemplate) -> None:
    """Raise ``TemplateError`` naming every problem ``parameter_problems`` finds."""
    problems = parameter_problems(template)
    if problems:
        raise TemplateError("the template refuses these parameters: " + "; ".join(problems))
