"""The ``ordersync`` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand name -> module under ordersync_tools.cli exposing register(subparsers) and run(args) -> int
SUBCOMMANDS: dict[str, str] = {
    "simulate": "simulate",
    "local": "local",
    "clients": "clients",
    "actions": "actions",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ordersync", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        try:
            module = importlib.import_module(f"ordersync_tools.cli.{module_name}")
        except ModuleNotFoundError as error:
            if error.name != f"ordersync_tools.cli.{module_name}":
                raise
            continue  # that subcommand has not been built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    exit_code: int = args.run(args)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
