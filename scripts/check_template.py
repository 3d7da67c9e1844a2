"""Translate template.yaml to CloudFormation offline and run cfn-lint on the result.

cfn-lint on the SAM template itself only merges Globals and misses errors inside Serverless
resources, so the check runs on what SAM would deploy. Usage: ``python scripts/check_template.py
[template.yaml] [--out translated.json]``; exit status 1 on any finding.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ordersync_tools.infra.template import DEFAULT_REGION, translate_template

ROOT = Path(__file__).resolve().parent.parent

# Findings about code SAM generates, not about this template:
IGNORED_CHECKS = [
    "W3005",  # SAM adds DependsOn beside a Ref (usage plan -> API, usage plan key -> API key)
    "W1020",  # the translator resolves parameters inside !Sub, leaving a Sub without variables
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", default=str(ROOT / "template.yaml"))
    parser.add_argument("--out", help="also write the translated template to this file")
    parser.add_argument("--region", default=DEFAULT_REGION)
    args = parser.parse_args(argv)

    from cfnlint.api import ManualArgs, lint

    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter

    translated = translate_template(args.template, region=args.region)
    text = json.dumps(translated, indent=2, sort_keys=True)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    matches = lint(text, config=ManualArgs(regions=[args.region], ignore_checks=IGNORED_CHECKS))
    for match in matches:
        print(f"cfn-lint: {match}", file=sys.stderr)
    resources = translated.get("Resources", {})
    if matches:
        print(f"translated template: {len(matches)} cfn-lint finding(s)", file=sys.stderr)
        return 1
    print(f"translated template: {len(resources)} CloudFormation resources, cfn-lint clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
