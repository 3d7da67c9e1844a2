"""From the orders table's Stream to change events.

Each INSERT becomes ``Order Created``; each MODIFY whose content hash changed becomes ``Order Status Changed``
when the canonical status moved, else ``Order Changed`` with the fields that differ. Exactly one event per
content change, so a subscriber can count them; every event carries the platform, the order id and the item
version, so that subscribers can order events and drop duplicates (a retried batch may publish twice).
A MODIFY that only moved bookkeeping (the status poller's next check) has equal hashes and publishes nothing.

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

from ordersync.models import Customer, Money, Order, OrderItem, OrderStatus, Platform, UtcDatetime
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


class ChangeEvent(BaseModel):
    """One event for the ordersync bus."""

    model_config = ConfigDict(frozen=True)

    detail_type: ChangeType
    detail: OrderStatusChangedDetail | OrderChangedDetail | OrderCreatedDetail
    detail_level: EventDetail = EventDetail.REDACTED

    def detail_json(self) -> str:
        """The ``detail`` as published: when redacted, the order has no ``customer`` key at all."""
        if self.detail_level is EventDetail.FULL:
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


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Regenerate the checked-in schema files (``python -m ordersync.sync.events``)."""
    written = []
    for change, schema in detail_schemas().items():
        path = directory / SCHEMA_FILES[change]
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for written_path in write_schemas():
        print(written_path.name)
