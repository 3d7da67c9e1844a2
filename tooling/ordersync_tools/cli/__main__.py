"""``python -m ordersync_tools.cli``: the ``ordersync`` command without its console script."""

import sys

from ordersync_tools.cli import main

sys.exit(main())
