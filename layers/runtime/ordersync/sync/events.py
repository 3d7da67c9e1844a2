"""From the orders table's Stream to change events.

Each INSERT becomes ``Order Created``; each MODIFY whose content hash changed becomes ``Order Status Changed``
when the canonical status moved, else ``Order Changed`` with the fields that differ. Exactly one event per
content change, so a subscriber can count them; every event carries the platform, the order id and the item
version, so that subscribers can order events and drop duplicates (a retried batch may publish twice).
A MODIFY that only moved bookkeeping (the status poller's next check) has equal hashes and publishes nothing.

Refunds (``Order.refunds``, see ``sync.refunds``) add events of their own, beside that one event per content change
(``record_to_refund_events``): ``Order Refund Requested`` for each refund request the order did not carry before,
and ``Order Refunded`` (with the amount) for each request that became approved; the status they move (``refunded``,
``partially_refunded``) is the usual ``Order Status Changed``. Refund events carry no personal data in either mode.

Events carry no personal data by default: at ``EventDetail.REDACTED`` (the stack's ``EventDetail`` parameter,
``EVENT_DETAIL``) the order leaves out ``customer`` (names, e-mails, phones); only ``full`` includes it. The
platform's raw payload is never in an event, in either mode.

The JSON Schemas in ``ordersync/schemas/`` are generated from the models below (``write_schemas``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from pydantic import BaseModel, ConfigDict, Field

from ordersync.models import (
    Customer,
    Money,
    Order,
    OrderItem,
    OrderStatus,
    Platform,
    RefundRequest,
    RefundStatus,
    RefundSummary,
    UtcDatetime,
)
from ordersync.sync.records import StoredOrder

EVENT_SOURCE = "ordersync"
MAX_DETAIL_BYTES = 200 * 1024
"""EventBridge takes entries up to 256 KB: an order whose items would not fit is sent without them."""
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


class ChangeType(StrEnum):
    """The ``detail-type`` of each change event."""

    CREATED = "Order Created"
    CHANGED = "Order Changed"
    STATUS_CHANGED = "Order Status Changed"
    REFUND_REQUESTED = "Order Refund Requested"
    REFUNDED = "Order Refunded"


class EventDetail(StrEnum):
    """How much of an order a change event carries (the stack's ``EventDetail`` parameter)."""

    FULL = "full"
    """Everything but the platform's raw payload, the customer included."""
    REDACTED = "redacted"
    """No personal data: no ``customer`` (and, as in ``full``, no raw payload). The default."""


CUSTOMER_DESCRIPTION = (
    "The customer's name, e-mail, phone and language. Present only when the stack's EventDetail is full; "
    "absent when it is redacted (the default), so that events carry no personal data."
)


class OrderSnapshot(BaseModel):
    """The canonical order as events carry it: everything but the platform's raw payload (``raw`` is never
    present). ``customer`` is present only when the stack's EventDetail is ``full``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    order_id: str
    number: str | None = None
    status: OrderStatus
    raw_status: str
    created_at: UtcDatetime
    total: Money
    paid: Money | None = None
    customer: Customer | None = Field(default=None, description=CUSTOMER_DESCRIPTION)
    items: tuple[OrderItem, ...] = ()
    items_omitted: bool = Field(default=False, description="True when the items did not fit in one event")
    refunds: RefundSummary | None = Field(default=None, description="Its refund requests, when it has any")

    @classmethod
    def of(cls, order: Order, detail_level: EventDetail = EventDetail.REDACTED) -> OrderSnapshot:
        left_out = {"raw"} if detail_level is EventDetail.FULL else {"raw", "customer"}
        return cls.model_validate(order.model_dump(exclude=left_out))


class ChangeDetail(BaseModel):
    """What every change event's ``detail`` carries: enough to order and deduplicate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    order_id: str
    order_key: str = Field(description='"{platform}#{order_id}", the orders table key')
    version: int = Field(ge=1, description="The item version after the change; strictly increasing per order")
    content_hash: str
    changed_at: UtcDatetime = Field(description="When ordersync saw the change (the item's last_changed_at)")
    order: OrderSnapshot = Field(
        description="The order after the change; never its raw payload, and its customer only when EventDetail is full"
    )


class OrderCreatedDetail(ChangeDetail):
    """The first time ordersync sees an order."""


class OrderChangedDetail(ChangeDetail):
    """Content other than the canonical status changed."""

    previous_version: int = Field(ge=1)
    changed_fields: list[str] = Field(description="Top-level order fields that differ; raw.<key> for raw keys")


class OrderStatusChangedDetail(OrderChangedDetail):
    """The canonical status changed (other fields may have changed with it; see ``changed_fields``)."""

    old_status: OrderStatus
    new_status: OrderStatus
    old_raw_status: str
    new_raw_status: str


DETAIL_MODELS: dict[ChangeType, type[ChangeDetail]] = {
    ChangeType.CREATED: OrderCreatedDetail,
    ChangeType.CHANGED: OrderChangedDetail,
    ChangeType.STATUS_CHANGED: OrderStatusChangedDetail,
}
SCHEMA_FILES: dict[ChangeType, str] = {
    ChangeType.CREATED: "order-created.json",
    ChangeType.CHANGED: "order-changed.json",
    ChangeType.STATUS_CHANGED: "order-status-changed.json",
}


class RefundDetail(BaseModel):
    """What every refund event's ``detail`` carries: the order it belongs to (by key and item version), the
    request, and the order's refunds after it. No personal data: refund events are the same in either mode."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    platform: Platform
    order_id: str
    order_key: str = Field(description='"{platform}#{order_id}", the orders table key')
    version: int = Field(ge=1, description="The order item's version after the change that brought this request")
    changed_at: UtcDatetime = Field(description="When ordersync saw the change (the item's last_changed_at)")
    order_status: OrderStatus = Field(description="The order's canonical status after the change")
    order_raw_status: str = Field(description="The platform's own status of the order (a refunded order stays done)")
    refund: RefundRequest = Field(description="The refund request this event is about")
    refunds: RefundSummary = Field(description="Every refund request of the order, and what approved ones add up to")


class OrderRefundRequestedDetail(RefundDetail):
    """A refund request ordersync sees for the first time (in whatever status it is then)."""


class OrderRefundedDetail(RefundDetail):
    """A refund request became approved: ``amount`` went back to the buyer."""

    amount: Money = Field(description="What this approved request refunded")
    refunded_total: Money = Field(description="What every approved request of the order refunded, this one included")


REFUND_DETAIL_MODELS: dict[ChangeType, type[RefundDetail]] = {
    ChangeType.REFUND_REQUESTED: OrderRefundRequestedDetail,
    ChangeType.REFUNDED: OrderRefundedDetail,
}
REFUND_SCHEMA_FILES: dict[ChangeType, str] = {
    ChangeType.REFUND_REQUESTED: "order-refund-requested.json",
    ChangeType.REFUNDED: "order-refunded.json",
}


class ChangeEvent(BaseModel):
    """One event for the ordersync bus."""

    model_config = ConfigDict(frozen=True)

    detail_type: ChangeType
    detail: (
        OrderStatusChangedDetail
        | OrderChangedDetail
        | OrderCreatedDetail
        | OrderRefundedDetail
        | OrderRefundRequestedDetail
    )
    detail_level: EventDetail = EventDetail.REDACTED

    def detail_json(self) -> str:
        """The ``detail`` as published: when redacted, the order has no ``customer`` key at all."""
        if self.detail_level is EventDetail.FULL or isinstance(self.detail, RefundDetail):
            return self.detail.model_dump_json()
        return self.detail.model_dump_json(exclude={"order": {"customer"}})

    def entry(self, bus_name: str) -> dict[str, Any]:
        """The ``PutEvents`` entry. ``Time`` is when the change was seen, not when it was published."""
        return {
            "Source": EVENT_SOURCE,
            "DetailType": self.detail_type.value,
            "Detail": self.detail_json(),
            "EventBusName": bus_name,
            "Time": self.detail.changed_at,
        }


def record_to_event(record: DynamoDBRecord, detail_level: EventDetail = EventDetail.REDACTED) -> ChangeEvent | None:
    """The event of one stream record, or ``None`` when it is not a content change (REMOVE, bookkeeping);
    ``detail_level`` says whether its order carries the customer."""
    stream = record.dynamodb
    if stream is None or record.event_name is DynamoDBRecordEventName.REMOVE:
        return None
    new_image = stream.new_image
    if not new_image:
        raise ValueError("stream record without a new image: the stream must be NEW_AND_OLD_IMAGES")
    new = StoredOrder.from_image(new_image)
    old_image = stream.old_image if record.event_name is DynamoDBRecordEventName.MODIFY else {}
    if not old_image:
        return _event(ChangeType.CREATED, new, {}, detail_level)
    old = StoredOrder.from_image(old_image)
    if old.content_hash == new.content_hash:
        return None
    fields = changed_fields(old.order, new.order)
    if old.order.status != new.order.status:
        return _event(
            ChangeType.STATUS_CHANGED,
            new,
            {
                "previous_version": old.version,
                "changed_fields": fields,
                "old_status": old.order.status,
                "new_status": new.order.status,
                "old_raw_status": old.order.raw_status,
                "new_raw_status": new.order.raw_status,
            },
            detail_level,
        )
    return _event(ChangeType.CHANGED, new, {"previous_version": old.version, "changed_fields": fields}, detail_level)


def record_to_refund_events(record: DynamoDBRecord) -> list[ChangeEvent]:
    """The refund events of one stream record (none for most): ``Order Refund Requested`` for each request the old
    image did not carry, ``Order Refunded`` for each request approved in the new image and not in the old one."""
    stream = record.dynamodb
    if stream is None or record.event_name is DynamoDBRecordEventName.REMOVE or not stream.new_image:
        return []
    new = StoredOrder.from_image(stream.new_image)
    if new.order.refunds is None:
        return []
    old_image = stream.old_image if record.event_name is DynamoDBRecordEventName.MODIFY else {}
    old = StoredOrder.from_image(old_image) if old_image else None
    if old is not None and old.content_hash == new.content_hash:
        return []
    before = {
        request.refund_id: request for request in (old.order.refunds.requests if old and old.order.refunds else ())
    }
    summary = new.order.refunds
    events: list[ChangeEvent] = []
    for request in summary.requests:
        known = before.get(request.refund_id)
        if known is None:
            events.append(_refund_event(ChangeType.REFUND_REQUESTED, new, request, {}))
        approved_now = request.status is RefundStatus.APPROVED
        if approved_now and (known is None or known.status is not RefundStatus.APPROVED):
            extra = {"amount": request.amount, "refunded_total": summary.refunded}
            events.append(_refund_event(ChangeType.REFUNDED, new, request, extra))
    return events


def _refund_event(
    change: ChangeType, stored: StoredOrder, request: RefundRequest, extra: Mapping[str, Any]
) -> ChangeEvent:
    summary = stored.order.refunds
    detail = REFUND_DETAIL_MODELS[change].model_validate(
        {
            "platform": stored.order.platform,
            "order_id": stored.order.order_id,
            "order_key": stored.order.key,
            "version": stored.version,
            "changed_at": stored.last_changed_at,
            "order_status": stored.order.status,
            "order_raw_status": stored.order.raw_status,
            "refund": request,
            "refunds": summary,
        }
        | dict(extra)
    )
    return ChangeEvent.model_validate({"detail_type": change, "detail": detail})


def changes_to_events(
    records: Iterable[DynamoDBRecord], detail_level: EventDetail = EventDetail.REDACTED
) -> list[ChangeEvent]:
    """The events of a batch of stream records, in stream order."""
    return [event for record in records if (event := record_to_event(record, detail_level)) is not None]


def _event(change: ChangeType, stored: StoredOrder, extra: Mapping[str, Any], detail_level: EventDetail) -> ChangeEvent:
    snapshot = OrderSnapshot.of(stored.order, detail_level)
    values = {
        "platform": stored.order.platform,
        "order_id": stored.order.order_id,
        "order_key": stored.order.key,
        "version": stored.version,
        "content_hash": stored.content_hash,
        "changed_at": stored.last_changed_at,
        "order": snapshot,
    } | dict(extra)
    detail = DETAIL_MODELS[change].model_validate(values)
    if len(detail.model_dump_json().encode()) > MAX_DETAIL_BYTES:
        slim = snapshot.model_copy(update={"items": (), "items_omitted": True})
        detail = DETAIL_MODELS[change].model_validate(values | {"order": slim})
    return ChangeEvent.model_validate({"detail_type": change, "detail": detail, "detail_level": detail_level})


def changed_fields(old: Order, new: Order) -> list[str]:
    """Names of the fields that differ, sorted; dict fields (``raw``, ``customer``) by key."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    fields: list[str] = []
    for name in sorted(set(before) | set(after)):
        left, right = before.get(name), after.get(name)
        if left == right:
            continue
        if isinstance(left, dict) and isinstance(right, dict):
            keys = sorted(key for key in set(left) | set(right) if left.get(key) != right.get(key))
            fields.extend(f"{name}.{key}" for key in keys)
        else:
            fields.append(name)
    return fields


def lag_seconds(event: ChangeEvent, now: datetime) -> float:
    """Seconds from when the change was seen to ``now`` (when its event is published)."""
    return max(0.0, (now - event.detail.changed_at).total_seconds())


def detail_schemas() -> dict[ChangeType, dict[str, Any]]:
    """The JSON Schema of each event's ``detail``, as the models serialise it."""
    schemas: dict[ChangeType, dict[str, Any]] = {}
    for change, model in DETAIL_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://ordersync.dev/schemas/{SCHEMA_FILES[change]}",
            "title": change.value,
        } | {key: value for key, value in schema.items() if key != "title"}
        schemas[change] = schema
    return schemas


def refund_detail_schemas() -> dict[ChangeType, dict[str, Any]]:
    """The JSON Schema of each refund event's ``detail``, as the models serialise it."""
    schemas: dict[ChangeType, dict[str, Any]] = {}
    for change, model in REFUND_DETAIL_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schemas[change] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://ordersync.dev/schemas/{REFUND_SCHEMA_FILES[change]}",
            "title": change.value,
        } | {key: value for key, value in schema.items() if key != "title"}
    return schemas


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Regenerate the checked-in schema files (``python -m ordersync.sync.events``)."""
    written = []
    files = SCHEMA_FILES | REFUND_SCHEMA_FILES
    for change, schema in (detail_schemas() | refund_detail_schemas()).items():
        path = directory / files[change]
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for written_path in write_schemas():
        print(written_path.name)
