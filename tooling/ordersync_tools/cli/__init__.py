"""ordersync: run the application locally, simulate its partner platforms, and operate a deployment
(API clients, dead-lettered actions). Each subcommand lives in its own module and registers itself here.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator, Sequence

from ordersync_tools.cli.errors import USAGE_ERROR, CliError, aws_error_message

# subcommand name -> module under ordersync_tools.cli exposing register(subparsers) and run(args) -> int
SUBCOMMANDS: dict[str, str] = {
    "simulate": "simulate",
    "local": "local",
    "clients": "clients",
    "actions": "actions",
    "state": "state",
}
DESCRIPTION = """\
Run ordersync on this machine and operate a deployment of it.

  ordersync local                          the whole application here: API, functions, AWS (moto), simulators
  ordersync simulate all                   only the partner platform simulators
  ordersync clients create crm --scope ticketscloud:act
  ordersync actions redrive --dry-run
  ordersync state show ticketscloud        a poller's cursor, checkpoint, lease and counters (reset: backfill)

clients, actions and state act on the running `ordersync local` of this checkout, or on a deployed stack with
--stack-name NAME --region REGION. `ordersync <command> --help` tells more.
"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ordersync")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e '.[local]')"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ordersync", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="{simulate,local,clients,actions,state}")
    for module_name in SUBCOMMANDS.values():
        try:
            module = importlib.import_module(f"ordersync_tools.cli.{module_name}")
        except ModuleNotFoundError as error:
            if error.name != f"ordersync_tools.cli.{module_name}":
                raise
            continue  # that subcommand has not been built yet
        module.register(subparsers)
    for each in _parsers(parser):
        # The deepest parser that parsed the command line sets it last: unknown options get its usage.
        each.set_defaults(_usage_parser=each)
    return parser


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:  # argparse offers no public way to walk its subparsers
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:
        args._usage_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        exit_code: int = args.run(args)
    except CliError as error:
        print(f"ordersync: {error}", file=sys.stderr)
        return USAGE_ERROR
    except Exception as error:
        message = aws_error_message(error, endpoint=getattr(args, "endpoint_url", None))
        if message is None:
            raise
        print(f"ordersync: {message}", file=sys.stderr)
        return USAGE_ERROR
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
