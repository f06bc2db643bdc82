"""Read ``template.yaml``: the one place functions, routes, parameters and environment are defined.

The SAM template uses CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!If``, ``!GetAtt``...),
which plain YAML loaders reject; ``load_template`` turns them into their long forms
(``{"Ref": ...}``, ``{"Fn::Sub": ...}``). ``SamTemplate`` then answers what the local twin, the
deploy wrapper and the tests need: the functions with their handler files and environment, the
API routes from the functions' ``Api`` events, and the parameters with their defaults. Intrinsics
are evaluated the way CloudFormation would with the parameters' values (defaults unless
overridden); what only exists after a deployment (``!GetAtt``, resource ``!Ref``) is an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from litelens.build.bundle.errors import LitelensError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = ROOT / "template.yaml"

# Values the twin gives CloudFormation's pseudo parameters.
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "litelens-local",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/litelens-local/local",
}
NO_VALUE = "AWS::NoValue"
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(LitelensError, ValueError):
    """A template the twin cannot read, or a value it cannot resolve locally."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic tags."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:  # the only other kind of node yaml composes
        value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: str | os.PathLike[str] = DEFAULT_TEMPLATE) -> dict[str, Any]:
    """The template as plain dicts and lists, short-form tags expanded to their long forms."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.load(text, Loader=_CfnLoader)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


@dataclass(frozen=True)
class Route:
    """One API route: an ``Api`` event of a function."""

    method: str  # upper case, e.g. POST
    path: str  # e.g. /predict
    function: str  # logical id, e.g. PredictFunction
    event: str  # the event's name in the template


@dataclass(frozen=True)
class FunctionSpec:
    """A function as the twin runs it: where its handler lives and what environment it gets."""

    logical_id: str
    package_type: str  # Zip or Image
    handler_file: Path
    handler_name: str
    environment: dict[str, str]
    memory_size: int
    timeout: int
    routes: tuple[Route, ...] = field(default=())


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class SamTemplate:
    """A parsed SAM template with parameter values (defaults, then ``parameter_overrides``)."""

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        root: str | os.PathLike[str] = ROOT,
        parameter_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.data = data
        self.root = Path(root)
        self.parameters: dict[str, dict[str, Any]] = dict(data.get("Parameters") or {})
        unknown = sorted(set(parameter_overrides or {}) - set(self.parameters))
        if unknown:
            raise TemplateError(f"unknown template parameter(s): {', '.join(unknown)}")
        self.parameter_values: dict[str, str] = {}
        for name, spec in self.parameters.items():
            if name in (parameter_overrides or {}):
                self.parameter_values[name] = str(parameter_overrides[name])  # type: ignore[index]
            elif "Default" in spec:
                self.parameter_values[name] = str(spec["Default"])
        self._conditions_cache: dict[str, bool] = {}

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] = DEFAULT_TEMPLATE, *, parameter_overrides: Mapping[str, str] | None = None
    ) -> SamTemplate:
        """Read ``path``; relative CodeUri and Dockerfile paths resolve against its folder."""
        return cls(load_template(path), root=Path(path).resolve().parent, parameter_overrides=parameter_overrides)

    # -- intrinsics -------------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions_cache:
            conditions = self.data.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"unknown condition {name!r}")
            self._conditions_cache[name] = bool(self._truth(conditions[name]))
        return self._conditions_cache[name]

    def _truth(self, value: Any) -> bool:
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._truth(arg[0])
            if key == "Fn::And":
                return all(self._truth(v) for v in arg)
            if key == "Fn::Or":
                return any(self._truth(v) for v in arg)
        raise TemplateError(f"cannot evaluate condition {value!r}")

    def _ref(self, name: str) -> Any:
        if name in self.parameter_values:
            return self.parameter_values[name]
        if name in self.parameters:
            raise TemplateError(f"parameter {name} has no default: pass a value for it")
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        raise TemplateError(f"!Ref {name} names a resource, known only after deployment")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], dict(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                raise TemplateError(f"!Sub ${{{name}}} is an attribute, known only after deployment")
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic evaluated; ``AWS::NoValue`` entries dropped."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return _NO_VALUE if arg == NO_VALUE else self._ref(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, if_true, if_false = arg
                return self.resolve(if_true if self.condition(name) else if_false)
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self._truth(value)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} cannot be evaluated locally")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    # -- functions and routes --------------------------------------------------------------------

    def _function_properties(self, logical_id: str) -> dict[str, Any]:
        globals_ = ((self.data.get("Globals") or {}).get("Function")) or {}
        own = self.data["Resources"][logical_id].get("Properties") or {}
        return _deep_merge(globals_, own)

    def function_ids(self) -> list[str]:
        return [
            name
            for name, resource in self.data["Resources"].items()
            if isinstance(resource, Mapping) and resource.get("Type") == "AWS::Serverless::Function"
        ]

    def routes(self) -> list[Route]:
        """Every ``Api`` event of every function, in template order: the API's only route list."""
        routes = []
        for logical_id in self.function_ids():
            events = self.data["Resources"][logical_id].get("Properties", {}).get("Events") or {}
            for event_name, event in events.items():
                if event.get("Type") != "Api":
                    continue
                props = event.get("Properties") or {}
                if "Path" not in props or "Method" not in props:
                    raise TemplateError(f"{logical_id}: Api event {event_name} needs Path and Method")
                method = str(self.resolve(props["Method"])).upper()
                path = str(self.resolve(props["Path"]))
                routes.append(Route(method=method, path=path, function=logical_id, event=event_name))
        return routes

    def _api_properties(self) -> dict[str, Any]:
        for resource in self.data["Resources"].values():
            if isinstance(resource, Mapping) and resource.get("Type") == "AWS::Serverless::Api":
                return resource.get("Properties") or {}
        return {}

    def stage_name(self) -> str:
        return str(self.resolve(self._api_properties().get("StageName", "Prod")))

    def cors_preflight_headers(self) -> dict[str, str] | None:
        """The headers API Gateway answers a CORS preflight (OPTIONS) with, from the Api's ``Cors``
        (SAM's short form ``Cors: "'origin'"`` too); None when the template has no ``Cors``."""
        cors = self._api_properties().get("Cors")
        if cors is None:
            return None
        cors = self.resolve(cors)
        if isinstance(cors, str):
            cors = {"AllowOrigin": cors}
        if not isinstance(cors, Mapping) or "AllowOrigin" not in cors:
            raise TemplateError("the Api's Cors needs AllowOrigin")
        names = {
            "AllowOrigin": "Access-Control-Allow-Origin",
            "AllowMethods": "Access-Control-Allow-Methods",
            "AllowHeaders": "Access-Control-Allow-Headers",
            "MaxAge": "Access-Control-Max-Age",
        }
        # SAM's values are header values in single quotes (API Gateway's static-value syntax).
        return {header: str(cors[key]).strip("'") for key, header in names.items() if key in cors}

    def environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment: Globals merged with its own, intrinsics resolved."""
        variables = self._function_properties(logical_id).get("Environment", {}).get("Variables") or {}
        return {name: str(value) for name, value in self.resolve(variables).items()}

    def function(self, logical_id: str) -> FunctionSpec:
        if logical_id not in self.function_ids():
            raise TemplateError(f"no function {logical_id!r} in the template")
        props = self._function_properties(logical_id)
        metadata = self.data["Resources"][logical_id].get("Metadata") or {}
        package_type = str(props.get("PackageType", "Zip"))
        if package_type == "Image":
            command = (props.get("ImageConfig") or {}).get("Command") or []
            if not command or "Dockerfile" not in metadata:
                raise TemplateError(
                    f"{logical_id}: an image function needs ImageConfig.Command and Metadata.Dockerfile"
                )
            handler = str(command[0])
            code_dir = self.root / str(metadata.get("DockerContext", ".")) / Path(str(metadata["Dockerfile"])).parent
        else:
            if "Handler" not in props or "CodeUri" not in props:
                raise TemplateError(f"{logical_id}: a zip function needs CodeUri and Handler")
            handler = str(props["Handler"])
            code_dir = self.root / str(self.resolve(props["CodeUri"]))
        module, _, handler_name = handler.rpartition(".")
        if not module or not handler_name:
            raise TemplateError(f"{logical_id}: handler {handler!r} is not module.function")
        handler_file = code_dir.resolve() / (module.replace(".", "/") + ".py")
        return FunctionSpec(
            logical_id=logical_id,
            package_type=package_type,
            handler_file=handler_file,
            handler_name=handler_name,
            environment=self.environment(logical_id),
            memory_size=int(self.resolve(props.get("MemorySize", 128))),
            timeout=int(self.resolve(props.get("Timeout", 3))),
            routes=tuple(r for r in self.routes() if r.function == logical_id),
        )

    def functions(self) -> list[FunctionSpec]:
        return [self.function(name) for name in self.function_ids()]


class _NoValue:
    def __repr__(self) -> str:
        return NO_VALUE


_NO_VALUE = _NoValue()
