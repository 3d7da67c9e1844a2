"""The read path: scheduled polling into the orders table, and the table's Stream turned into change events.

Entry points: ``engine.run_poller``, ``status.run_status_poller``, ``refund_poll.run_refund_poller``,
``events.record_to_event`` and ``events.record_to_refund_events``; the rules of refunds in ``refunds``; the ports in
``ports``; the DynamoDB and EventBridge adapters live in ``ordersync.aws``. Import from the modules themselves:
this package imports nothing, so the stream consumer does not load the poll engine.
"""
