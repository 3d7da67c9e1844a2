"""Translate template.yaml to CloudFormation offline and run cfn-lint on the result.

cfn-lint on the SAM template itself only merges Globals and misses errors inside Serverless
resources, so the check runs on what SAM would deploy. Usage: ``python scripts/check_template.py
[template.yaml] [--out translated.json] [--parameter-overrides Key=Value ...] [--resolved-out FILE]``;
exit status 1 on any finding.

With ``--parameter-overrides`` (as ``sam deploy`` takes them) the check is of the template as deployed with those
values: its Rules are checked, its Conditions evaluated (resources of a platform left out removed, ``Fn::If``
resolved), the values become the parameters' defaults, and cfn-lint is given them too. ``--resolved-out`` writes
that SAM template, for ``sam validate`` and checkov, which take no parameter values.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from ordersync_tools.infra.template import (
    DEFAULT_REGION,
    RuleFailedError,
    load_template,
    parameter_values,
    resolve_conditions,
    translate_template,
)
from ordersync_tools.local.template import LocalTemplateError, parse_parameter_overrides

ROOT = Path(__file__).resolve().parent.parent

# Findings about code SAM generates, not about this template:
IGNORED_CHECKS = [
    "W3005",  # SAM adds DependsOn beside a Ref (usage plan -> API, usage plan key -> API key)
    "W1020",  # the translator resolves parameters inside !Sub, leaving a Sub without variables
]


def _type(template: dict[str, Any], name: str) -> str:
    return str(template["Parameters"][name].get("Type", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", default=str(ROOT / "template.yaml"))
    parser.add_argument("--out", help="also write the translated template to this file")
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        metavar="KEY=VALUE",
        help="check the template as deployed with these values (Key=Value; Key= for empty)",
    )
    parser.add_argument("--resolved-out", help="with --parameter-overrides: write the resolved SAM template here")
    args = parser.parse_args(argv)

    from cfnlint.api import ManualArgs, lint
    from cfnlint.context.parameters import ParameterSet

    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter

    config = ManualArgs(regions=[args.region], ignore_checks=IGNORED_CHECKS)
    template_path = Path(args.template)
    if args.parameter_overrides:
        try:
            overrides = parse_parameter_overrides(args.parameter_overrides)
            resolved = deployed_template(template_path, overrides)
        except (LocalTemplateError, RuleFailedError, ValueError) as error:
            print(f"check_template: {error}", file=sys.stderr)
            return 1
        template_path = Path(args.resolved_out or Path(tempfile.mkdtemp(prefix="check-template-")) / "template.json")
        template_path.parent.mkdir(parents=True, exist_ok=True)
        template_path.write_text(json.dumps(resolved, indent=2), encoding="utf-8")
        # SSM-typed parameters hold a parameter's name, not the value CloudFormation would resolve it to.
        # A CommaDelimitedList is given to cfn-lint as the list CloudFormation makes of it.
        plain = {
            name: value.split(",")
            if _type(resolved, name) == "CommaDelimitedList" and isinstance(value, str)
            else value
            for name, value in parameter_values(resolved).items()
            if not _type(resolved, name).startswith("AWS::SSM::")
        }
        config["parameters"] = [ParameterSet(source=None, parameters=plain)]
        # Parameters that fed only the Conditions just evaluated are unused now, as intended.
        config["ignore_checks"] = [*IGNORED_CHECKS, "W2001"]
    translated = translate_template(template_path, region=args.region)
    text = json.dumps(translated, indent=2, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    matches = lint(text, config=config)
    for match in matches:
        print(f"cfn-lint: {match}", file=sys.stderr)
    resources = translated.get("Resources", {})
    if matches:
        print(f"translated template: {len(matches)} cfn-lint finding(s)", file=sys.stderr)
        return 1
    print(f"translated template: {len(resources)} CloudFormation resources, cfn-lint clean")
    return 0


def deployed_template(path: Path, overrides: dict[str, str]) -> dict[str, Any]:
    """The SAM template at ``path`` as deployed with ``overrides``, those values written in as defaults."""
    template = load_template(path)
    unknown = sorted(set(overrides) - set(template.get("Parameters") or {}))
    if unknown:
        raise ValueError(f"--parameter-overrides names parameters the template lacks: {unknown}")
    resolved = resolve_conditions(template, overrides)
    for name, value in overrides.items():
        resolved["Parameters"][name]["Default"] = value
    return resolved


if __name__ == "__main__":
    sys.exit(main())
