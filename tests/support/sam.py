"""What SAM makes of template.yaml, in-process: the translator `sam validate` and CloudFormation run."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from litelens.infra.aws.template import DEFAULT_TEMPLATE, load_template

# Artifacts that exist only after `sam build`/`sam package`.
PACKAGED_CODE_URI = "s3://artifacts/predict.zip"
PACKAGED_IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/e:1"


class _NoManagedPolicies:
    """The translator's managed-policy map, empty: the template names no managed policy by name."""

    def load(self) -> dict[str, str]:
        return {}


def sam_transform(overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The expanded (plain CloudFormation) template for these parameter overrides. Needs an AWS
    region in the environment (no call is made)."""
    from samtranslator.translator.transform import transform

    data = copy.deepcopy(load_template(DEFAULT_TEMPLATE))
    data["Resources"]["PredictFunction"]["Properties"]["CodeUri"] = PACKAGED_CODE_URI
    data["Resources"]["ExplainFunction"]["Properties"]["ImageUri"] = PACKAGED_IMAGE_URI
    return transform(data, dict(overrides or {}), _NoManagedPolicies())
