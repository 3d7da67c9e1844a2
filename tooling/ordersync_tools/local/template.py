"""``template.yaml`` as the local runtime sees it: translated offline by the SAM translator, then read as plain
CloudFormation, so every resource and wiring the runtime builds comes from the template itself.

The translation is the project's own (``ordersync_tools.infra.template``, also behind the template checks): it points
local ``CodeUri``/``ContentUri`` paths at ``s3://<artifact bucket>/<path>.zip``, read back here as directories.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ordersync.models import Platform
from ordersync_tools.infra import template as infra_template

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
STACK_NAME = "ordersync-local"
NO_VALUE = object()


class LocalTemplateError(ValueError):
    """The template cannot be run locally as written (a reference to nothing, a bad parameter...)."""


def parse_parameter_overrides(values: list[str] | None) -> dict[str, str]:
    """Parse ``--parameter-overrides`` as ``sam deploy`` does: ``Key=Value`` pairs or
    ``ParameterKey=Key,ParameterValue=Value``, separated by spaces, in one or several arguments."""
    result: dict[str, str] = {}
    for value in values or []:
        for token in shlex.split(value):
            match = re.fullmatch(r"ParameterKey=([^,]+),ParameterValue=(.*)", token)
            if match:
                result[match.group(1)] = match.group(2)
                continue
            key, sep, val = token.partition("=")
            if not sep or not key:
                raise LocalTemplateError(f"parameter override {token!r} is not Key=Value")
            result[key] = val
    return result


def load_template(path: Path) -> dict[str, Any]:
    """Read a SAM/CloudFormation template (short-form intrinsics included) and check it has resources."""
    loaded = infra_template.load_template(path)
    if not isinstance(loaded, dict) or not isinstance(loaded.get("Resources"), dict):
        raise LocalTemplateError(f"{path.name} has no Resources")
    return loaded


def base_url_parameters(path: Path) -> dict[Platform, str]:
    """The parameter that sets each platform's ``<PREFIX>_BASE_URL`` in the template's Globals (an empty value
    leaves the platform out through the template's Conditions); platforms the Globals do not set are absent."""
    from ordersync import platforms

    source = load_template(path)
    variables = ((source.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables") or {}
    found: dict[Platform, str] = {}
    for platform in Platform:
        value = variables.get(f"{platforms.profile(platform).env_prefix}_BASE_URL")
        if isinstance(value, dict) and isinstance(value.get("Ref"), str):
            found[platform] = value["Ref"]
    return found


def translate_template(path: Path, parameter_overrides: Mapping[str, str]) -> dict[str, Any]:
    """The template as CloudFormation, by the project's one offline translation (``ordersync_tools.infra.template``)."""
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter, not user news
    return infra_template.translate_template(path, dict(parameter_overrides), region=REGION, account_id=ACCOUNT_ID)


@dataclass
class Template:
    """A translated template plus the parameter values and conditions it was translated with."""

    root: Path
    resources: dict[str, dict[str, Any]]
    parameters: dict[str, str]
    conditions: dict[str, bool] = field(default_factory=dict)
    raw_conditions: dict[str, Any] = field(default_factory=dict)
    unset_parameters: tuple[str, ...] = ()  # no Default and no override: empty, the runtime sets what they feed

    @classmethod
    def from_file(cls, path: Path, overrides: Mapping[str, str] | None = None) -> Template:
        overrides = dict(overrides or {})
        source = load_template(path)
        declared = source.get("Parameters") or {}
        unknown = sorted(set(overrides) - set(declared))
        if unknown:
            raise LocalTemplateError(f"--parameter-overrides names parameters the template lacks: {unknown}")
        parameters: dict[str, str] = {}
        unset: list[str] = []
        for name, spec in declared.items():
            if name in overrides:
                parameters[name] = overrides[name]
            elif isinstance(spec, dict) and "Default" in spec:
                default = spec["Default"]
                parameters[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            else:
                parameters[name] = ""
                unset.append(name)
        # What CloudFormation would refuse (no platform at all...) is refused here too; a parameter left unset is
        # filled by the runtime (a simulator's LOCAL_ENVIRONMENT), so no rule holds it against the run.
        as_run = parameters | {name: f"<set by ordersync local: {name}>" for name in unset}
        try:
            infra_template.resolve_conditions(source, as_run, rules_only=True)
        except infra_template.RuleFailedError as error:
            raise LocalTemplateError(f"{path.name}: {error}") from None
        translated = translate_template(path, parameters)
        template = cls(
            root=path.parent.resolve(),
            resources=dict(translated.get("Resources") or {}),
            parameters=parameters,
            raw_conditions=dict(translated.get("Conditions") or {}),
            unset_parameters=tuple(unset),
        )
        resolver = Resolver(template)
        template.conditions = {name: resolver.condition(name) for name in template.raw_conditions}
        template.resources = {
            logical_id: resource
            for logical_id, resource in template.resources.items()
            if "Condition" not in resource or template.conditions.get(resource["Condition"], False)
        }
        return template

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {logical_id: r for logical_id, r in self.resources.items() if r.get("Type") in types}

    def properties(self, logical_id: str) -> dict[str, Any]:
        props = self.resources[logical_id].get("Properties") or {}
        return cast(dict[str, Any], props)

    def code_path(self, s3_location: Any) -> Path:
        """The local directory behind the ``s3://<artifact bucket>/<path>.zip`` location the translation made."""
        if (
            isinstance(s3_location, dict)
            and s3_location.get("S3Bucket") == infra_template.LOCAL_ARTIFACT_BUCKET
            and isinstance(s3_location.get("S3Key"), str)
        ):
            key = str(s3_location["S3Key"])
            return (self.root / ("." if key == "root.zip" else key.removesuffix(".zip"))).resolve()
        raise LocalTemplateError(f"code location {s3_location!r} is not a local path")


def physical_name(logical_id: str, *, suffix: str = "") -> str:
    """CloudFormation-like generated name, stable across runs so logs and curl commands stay the same."""
    return f"{STACK_NAME}-{logical_id}{suffix}"


_SERVICE_OF_TYPE = {
    "AWS::Lambda::Function": ("lambda", "function:"),
    "AWS::IAM::Role": ("iam", "role/"),
    "AWS::SNS::Topic": ("sns", ""),
}


class Resolver:
    """Resolves CloudFormation intrinsics against parameters, pseudo parameters and the local resources.

    ``refs`` and ``attributes`` are filled as resources are created; a reference to a resource that is not
    emulated gets a stable placeholder, a reference to nothing raises ``LocalTemplateError``.
    """

    def __init__(self, template: Template) -> None:
        self.template = template
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], Any] = {}
        self.pseudo: dict[str, Any] = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }

    # -- references ------------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.template.parameters:
            return self.template.parameters[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.template.resources:
            return physical_name(name)
        raise LocalTemplateError(f"!Ref {name}: no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        resource = self.template.resources.get(logical_id)
        if resource is None:
            raise LocalTemplateError(f"!GetAtt {logical_id}.{attribute}: no such resource")
        if attribute == "Arn":
            service, prefix = _SERVICE_OF_TYPE.get(resource.get("Type", ""), ("local", ""))
            account = "" if service == "iam" else ACCOUNT_ID
            region = "" if service == "iam" else REGION
            return f"arn:aws:{service}:{region}:{account}:{prefix}{self.ref(logical_id)}"
        return f"{physical_name(logical_id)}.{attribute}"

    # -- conditions ------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name in self.template.conditions:
            return self.template.conditions[name]
        if name not in self.template.raw_conditions:
            raise LocalTemplateError(f"condition {name} is not declared")
        value = bool(self.resolve(self.template.raw_conditions[name]))
        self.template.conditions[name] = value
        return value

    # -- values ----------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value``; ``AWS::NoValue`` removes the key or list item."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), *_ = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda arg: self.ref(self.resolve(arg)),
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda arg: str(self.resolve(arg[0])).join(str(v) for v in self.resolve(arg[1])),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(str(self.resolve(arg[0]))),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: str(self.resolve(arg[0])) == str(self.resolve(arg[1])),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(v) for v in arg),
            "Fn::Or": lambda arg: any(self.resolve(v) for v in arg),
            "Condition": self.condition,
            "Fn::FindInMap": self._find_in_map,
            "Fn::ToJsonString": lambda arg: json.dumps(self.resolve(arg)),
        }

    def _get_att(self, arg: Any) -> Any:
        resolved = self.resolve(arg)
        if isinstance(resolved, str):
            resolved = resolved.split(".", 1)
        return self.get_att(str(resolved[0]), str(resolved[1]))

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template.resources:
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _find_in_map(self, arg: Any) -> Any:
        raise LocalTemplateError(f"Fn::FindInMap is not supported locally: {arg!r}")


def references(value: Any) -> set[str]:
    """Logical ids (and parameters) that ``value`` refers to: used to create resources in dependency order."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                if not isinstance(arg, str):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found
