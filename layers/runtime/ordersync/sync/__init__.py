"""The read path: scheduled polling into the orders table, and the table's Stream turned into change events.

Entry points for the handlers and the local runtime: ``run_poller``, ``run_status_poller``,
``changes_to_events``; the DynamoDB and EventBridge adapters live in ``ordersync.aws``.
"""

from ordersync.sync.engine import PollOptions, PollReport, poller_name, run_poller, status_poller_name
from ordersync.sync.events import ChangeEvent, ChangeType, EventDetail, changes_to_events, record_to_event
from ordersync.sync.ports import LeaseLostError, PollState
from ordersync.sync.records import SaveSummary, StoredOrder, content_hash
from ordersync.sync.status import run_status_poller

__all__ = [
    "ChangeEvent",
    "ChangeType",
    "EventDetail",
    "LeaseLostError",
    "PollOptions",
    "PollReport",
    "PollState",
    "SaveSummary",
    "StoredOrder",
    "changes_to_events",
    "content_hash",
    "poller_name",
    "record_to_event",
    "run_poller",
    "run_status_poller",
    "status_poller_name",
]
