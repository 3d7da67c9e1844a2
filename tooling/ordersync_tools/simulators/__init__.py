"""Simulators of the partner platforms: real HTTP on 127.0.0.1, behaving as the platforms' docs say.

One module per platform, named by its ``Platform`` value, each naming its simulator class ``SIMULATOR``: the CLI
and the local runtime find a platform's simulator through ``simulator_module`` and name no platform.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ordersync.models import Platform


def simulator_module(platform: Platform) -> ModuleType:
    """The module of ``platform``'s simulator (its ``SIMULATOR`` class, ``DEFAULT_TOKEN``, ``LOCAL_ENVIRONMENT``...)."""
    return importlib.import_module(f"ordersync_tools.simulators.{platform.value}")
