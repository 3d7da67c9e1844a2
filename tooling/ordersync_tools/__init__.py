"""Developer tooling of ordersync: the ``ordersync`` command, the local runtime and the platform simulators.

Never deployed: the Lambda layer holds only the ``ordersync`` runtime package, which never imports this one.
Installed by the ``local`` and ``dev`` extras.
"""
