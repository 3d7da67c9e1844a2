"""Write the API's OpenAPI document (what ``GET /openapi.json`` serves) to ``docs/openapi.json``.

Usage: ``python scripts/openapi.py [--check]``; ``--check`` exits 1 when the checked-in copy differs from what
the resolver generates (``tests/unit/test_unit_openapi.py`` checks the same in CI).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ordersync.api.resolver import standalone_document

CHECKED_IN = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    arguments = parser.parse_args(argv)
    document = standalone_document() + "\n"
    if arguments.check:
        if CHECKED_IN.read_text(encoding="utf-8") != document:
            print(f"{CHECKED_IN.name} is out of date: run python scripts/openapi.py", file=sys.stderr)
            return 1
        return 0
    CHECKED_IN.write_text(document, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
