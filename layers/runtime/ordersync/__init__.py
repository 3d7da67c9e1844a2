"""ordersync: keeps a reseller's copy of its partner-platform orders current and applies actions to them."""

__version__ = "0.1.0"
