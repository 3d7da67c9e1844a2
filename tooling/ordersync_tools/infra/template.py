"""Read ``template.yaml`` and translate it to plain CloudFormation offline.

``cfn-lint`` alone on a SAM template misses most errors, and the local runtime needs the resources
SAM generates, so both go through :func:`translate_template`. PyYAML and aws-sam-translator are
development dependencies: they are imported lazily so that importing this module costs nothing in
a Lambda.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_STACK_NAME = "ordersync"
LOCAL_ARTIFACT_BUCKET = "ordersync-local-artifacts"

# Where a SAM resource points at local code, and the property holding that path.
_LOCAL_CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    """Turn a short-form tag (``!Ref``, ``!GetAtt``, ``!Sub`` ...) into its long-form mapping."""
    import yaml

    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


class DuplicateKeyError(ValueError):
    """A mapping repeats a key. PyYAML silently keeps the last one; CloudFormation rejects the template,
    and two parts editing one resource must not lose an edit that way."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise DuplicateKeyError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1}")
        seen.add(key)
    return loader.construct_mapping(node)


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML file, accepting the short-form intrinsic function tags and
    rejecting duplicate keys (:class:`DuplicateKeyError`)."""
    import yaml

    class _CfnLoader(yaml.SafeLoader):
        """A SafeLoader that knows CloudFormation's ``!`` tags."""

    _CfnLoader.add_multi_constructor("!", _intrinsic)
    _CfnLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
    with Path(path).open(encoding="utf-8") as stream:
        template: dict[str, Any] = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return template


def _with_remote_code(template: dict[str, Any]) -> dict[str, Any]:
    """Point local CodeUri/ContentUri at S3, as ``sam package`` would: the translator accepts only S3 URIs."""
    result = copy.deepcopy(template)
    function_globals = result.get("Globals", {}).get("Function", {})
    if isinstance(function_globals.get("CodeUri"), str):
        function_globals["CodeUri"] = _s3_uri(function_globals["CodeUri"])
    for resource in result.get("Resources", {}).values():
        prop = _LOCAL_CODE_PROPERTIES.get(resource.get("Type", ""))
        properties = resource.get("Properties", {})
        if prop and isinstance(properties.get(prop), str):
            properties[prop] = _s3_uri(properties[prop])
    return result


def _s3_uri(location: str) -> str:
    """``functions/api/`` becomes ``s3://ordersync-local-artifacts/functions/api``: the S3 key is the
    local path relative to the template, so whoever reads the translation can find the code again."""
    if location.startswith("s3://"):
        return location
    return f"s3://{LOCAL_ARTIFACT_BUCKET}/{PurePosixPath(location)}"


class _NoManagedPolicies:
    """The translator asks for the account's managed policies only for policies given by name;
    this template names none, so an empty map keeps the translation offline."""

    def load(self) -> dict[str, str]:
        return {}


def translate_template(
    path: str | Path,
    parameter_overrides: dict[str, str] | None = None,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    stack_name: str = DEFAULT_STACK_NAME,
) -> dict[str, Any]:
    """Return the CloudFormation template that SAM makes of ``path``, without calling AWS.

    Parameters missing from ``parameter_overrides`` take their template defaults; a local code path
    becomes ``s3://ordersync-local-artifacts/<path>``, its S3 key being the path relative to the template.
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    sam_template = _with_remote_code(load_template(path))
    parameters: dict[str, Any] = {"AWS::Region": region, "AWS::AccountId": account_id, "AWS::StackName": stack_name}
    parameters.update(parameter_overrides or {})
    to_py27_compatible_template(sam_template, parameters)
    # The session only tells the translator the region: it makes no call.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    translated = translator.translate(
        sam_template, parameter_values=parameters, get_managed_policy_map=_NoManagedPolicies().load
    )
    result: dict[str, Any] = undo_mark_unicode_str_in_template(translated)
    return result


class RuleFailedError(ValueError):
    """A template ``Rules`` assertion fails for the given parameter values (CloudFormation would refuse them)."""


_NO_VALUE = object()


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Every parameter's value as a deployment with ``overrides`` would see it: the override, else the default,
    else empty."""
    overrides = overrides or {}
    values: dict[str, str] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        default: Any = spec.get("Default", "") if isinstance(spec, dict) else ""
        if name in overrides:
            values[name] = overrides[name]
        else:
            values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
    return values


def resolve_conditions(
    template: dict[str, Any], overrides: dict[str, str] | None = None, *, rules_only: bool = False
) -> dict[str, Any]:
    """``template`` (SAM or translated) as deployed with ``overrides``: its ``Rules`` checked
    (:class:`RuleFailedError`), resources and outputs whose ``Condition`` is false removed, every ``Fn::If``
    replaced by its chosen branch and every ``AWS::NoValue`` dropped; other intrinsics are left as they are.

    Checks and tests read the template a reseller with one or two platforms deploys through it, since
    neither ``sam validate`` nor checkov takes parameter values. ``rules_only``: check the Rules and return
    ``template`` as it is."""
    values = parameter_values(template, overrides)
    raw = template.get("Conditions") or {}
    cache: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in cache:
            if name not in raw:
                raise ValueError(f"condition {name} is not declared")
            cache[name] = bool(evaluate(raw[name]))
        return cache[name]

    functions: dict[str, Callable[[Any], Any]] = {
        "Fn::Equals": lambda arg: str(evaluate(arg[0])) == str(evaluate(arg[1])),
        "Fn::Not": lambda arg: not evaluate(arg[0]),
        "Fn::And": lambda arg: all(evaluate(item) for item in arg),
        "Fn::Or": lambda arg: any(evaluate(item) for item in arg),
        "Condition": condition,
    }

    def evaluate(value: Any) -> Any:
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((key, arg),) = value.items()
        if key == "Ref" and arg in values:
            return values[arg]
        if key in functions:
            return functions[key](arg)
        raise ValueError(f"cannot evaluate {value!r} without deploying")

    def resolve(value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if len(value) == 1 and "Fn::If" in value:
            name, when_true, when_false = value["Fn::If"]
            return resolve(when_true if condition(name) else when_false)
        resolved = {key: resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    for name, rule in (template.get("Rules") or {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"]):
            continue
        for assertion in rule.get("Assertions", []):
            if not evaluate(assertion["Assert"]):
                raise RuleFailedError(f"rule {name}: {assertion.get('AssertDescription', 'assertion failed')}")
    if rules_only:
        return template

    result = {key: value for key, value in template.items() if key not in ("Conditions", "Resources", "Outputs")}
    for section in ("Resources", "Outputs"):
        if section in template:
            result[section] = {
                logical_id: resolve({key: value for key, value in entry.items() if key != "Condition"})
                for logical_id, entry in template[section].items()
                if "Condition" not in entry or condition(entry["Condition"])
            }
    if "Globals" in template:
        result["Globals"] = resolve(template["Globals"])
    return result
