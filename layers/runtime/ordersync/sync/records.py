"""What the read path stores per order, and the pure rules around it: the content hash that decides
whether an order changed, how an order is packed into a DynamoDB item under the 400 KB limit, and when an
order is due for another status check (a not-yet-final one).

Nothing here talks to AWS, so the repository, the stream consumer and the tests share one definition.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ordersync import timefmt
from ordersync.models import Order, UtcDatetime

MAX_ORDER_PAYLOAD = 300 * 1024
"""Ceiling for the stored order payload, well under DynamoDB's 400 KB item limit with the other attributes.
Above it the platform's ``raw`` payload is dropped (``raw_dropped``); if even that does not fit, the order is
refused (counted as ``too_large``) rather than stored incomplete."""

PAYLOAD_FORMAT_V1 = b"\x01"
"""First byte of an ``order_z`` value: raw DEFLATE (level 9) of the canonical JSON with ``PAYLOAD_DICTIONARY_V1``."""

PAYLOAD_DICTIONARY_V1 = (
    b'"tickets":[{"barcode":null,"discount":"0.00","extra":"0.00","full":"","id":"","nominal":"","number":,'
    b'"price":"","serial":"","set":"","status":""}],"values":{"discount":"0.00","extra":"","full":"","nominal":"",'
    b'"price":"","sets_values":{"":{"discount":"0.00","id":"","nominal":"","price":"","promocode":null}},'
    b'"viral_promocodes":[]},"settings":{"invitation":false,"send_tickets":false,"subscribe_agree":false},'
    b'"promocodes":[],"origin":"api","org":"","event":"","vendor":"","vendor_data":{},"expired_after":"","code":"",'
    b'"_id":,"address":"","amount_RUR":,"appear":"","channel":"","city":"","coowners_reward":"","country_code":"",'
    b'"coupon":"","created":"","currency":"RUR","firstname":"","gate":"",'
    b'"goods":"[{\\"_id\\":\\"\\",\\"title\\":\\"\\",\\"price\\":,\\"cnt\\":1}]","hash":"","ip":"",'
    b'"lastname":"","manager_reward":0,"middlename":"","partner":"","partner2":"","partner2_reward":0,'
    b'"partner_already_rewarded":0,"partner_reward":0,"partner_reward_canceled":0,"pixel":"","profit_amount":,'
    b'"referer":"","sup":"","tax":,"title":"","utm":{"utm_campaign":"","utm_medium":"","utm_source":""},'
    b'"createdDate":"","participantLogin":"","total":'
    b'"raw":{"id":"","status":"","created_at":"","updated_at":"","email":"","phone":"","name":"","price":"",'
    b'"amount":"","count":"","customer":{"email":"","lang":"ru","name":"","phone":"+7"},'
    b'"items":[{"name":"","quantity":1,"sku":"","unit_price":{"amount":"","currency":"RUB"}}],"number":"",'
    b'"order_id":"","paid":{"amount":"","currency":"RUB"},"platform":"","raw_status":"","status":"",'
    b'"total":{"amount":"","currency":"RUB"},"created_at":"2026-01-01T00:00:00Z","null,"true,"false,'
    b'"@gmail.com","@example.com"'
)
"""The preset dictionary of the v1 payload: the JSON keys and fragments that recur in every stored order (the
canonical order's and the platforms' documented payload keys), so that a small order compresses to a few hundred
bytes instead of repeating them. **Frozen**: stored items can only be read back with the very same bytes; a
better dictionary is a new format byte beside this one, never an edit of it."""


to_iso = timefmt.to_iso
from_iso = timefmt.from_iso
"""The stored time format (``ordersync.timefmt``), named here too for the read path's modules."""


class OrderTooLargeError(ValueError):
    """The canonical order, without its raw payload and compressed, still does not fit in one item."""


def canonical_json(order: Order) -> str:
    """Deterministic JSON of an order: same content, same bytes, whatever the field order it came in. An order
    without refunds has no ``refunds`` key, so its bytes (and hash) are those it had before refunds existed."""
    left_out = {"refunds"} if order.refunds is None else None
    return json.dumps(
        order.model_dump(mode="json", exclude=left_out), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def content_hash(order: Order) -> str:
    """The hash the pollers compare before writing: any difference in the canonical order or its raw
    payload is a change; anything else (when it was seen, by whom) is not. 128 bits of BLAKE2b, URL-safe
    base64 without padding (22 characters: the hash is paid for in every item)."""
    return _short_hash(canonical_json(order).encode())


def _short_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.blake2b(data, digest_size=16).digest()).rstrip(b"=").decode()


def encode_order(order: Order) -> dict[str, Any]:
    """The attributes that carry the order itself: ``order_z`` (bytes: the format byte, then the canonical JSON
    compressed with the v1 dictionary), plus ``raw_dropped`` when the raw payload had to go to stay under
    ``MAX_ORDER_PAYLOAD``. Raises ``OrderTooLargeError`` when nothing fits."""
    packed = compress_payload(canonical_json(order).encode())
    if len(packed) <= MAX_ORDER_PAYLOAD:
        return {"order_z": packed}
    packed = compress_payload(canonical_json(order.model_copy(update={"raw": {}})).encode())
    if len(packed) <= MAX_ORDER_PAYLOAD:
        return {"order_z": packed, "raw_dropped": True}
    raise OrderTooLargeError(f"order {order.key} does not fit in one item even without its raw payload")


def compress_payload(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, PAYLOAD_DICTIONARY_V1)
    return PAYLOAD_FORMAT_V1 + packer.compress(data) + packer.flush()


def decompress_payload(value: Any) -> bytes:
    """The JSON of an ``order_z`` value, whichever way it arrives: ``bytes``, boto3's ``Binary``, or the base64
    text of a Lambda stream record (Powertools leaves binary attributes as the event carries them)."""
    data = value.value if hasattr(value, "value") else value
    if isinstance(data, str):
        data = base64.b64decode(data)
    data = bytes(data)
    if data[:1] != PAYLOAD_FORMAT_V1:
        raise ValueError(f"unknown order payload format {data[:1]!r}")
    unpacker = zlib.decompressobj(-15, PAYLOAD_DICTIONARY_V1)
    return unpacker.decompress(data[1:]) + unpacker.flush()


def decode_order(image: Mapping[str, Any]) -> Order:
    """The order of a stored item or a stream image (already turned into plain Python values). Reads the
    current ``order_z`` and the earlier formats, ``order`` (JSON) and ``order_gz`` (base64 of gzip JSON)."""
    if "order_z" in image:
        return Order.model_validate_json(decompress_payload(image["order_z"]))
    if "order" in image:
        return Order.model_validate_json(str(image["order"]))
    if "order_gz" in image:
        return Order.model_validate_json(gzip.decompress(base64.b64decode(str(image["order_gz"]))))
    raise ValueError("item carries no order payload")


class StoredOrder(BaseModel):
    """One item of the orders table: the canonical order and the bookkeeping around it."""

    model_config = ConfigDict(frozen=True)

    order: Order
    content_hash: str
    version: int = Field(ge=1, description="Incremented on every content change; events carry it")
    first_seen_at: UtcDatetime
    last_changed_at: UtcDatetime
    last_seen_at: UtcDatetime
    next_check_at: UtcDatetime | None = Field(default=None, description="Set only while the status is not final")
    raw_dropped: bool = False

    @classmethod
    def from_image(cls, image: Mapping[str, Any]) -> StoredOrder:
        """Build from an item whose attribute values are plain Python values (``TypeDeserializer`` output)."""
        next_check = image.get("next_check_at")
        return cls(
            order=decode_order(image),
            content_hash=str(image["content_hash"]),
            version=int(image["version"]),
            first_seen_at=from_iso(str(image["first_seen_at"])),
            last_changed_at=from_iso(str(image["last_changed_at"])),
            last_seen_at=from_iso(str(image["last_seen_at"])),
            next_check_at=from_iso(str(next_check)) if next_check else None,
            raw_dropped=bool(image.get("raw_dropped", False)),
        )


class SaveSummary(BaseModel):
    """What one ``save_changed`` call did. Capacity units follow DynamoDB's rounding rules per item."""

    model_config = ConfigDict(frozen=True)

    written: int = 0
    created: int = 0
    unchanged: int = 0
    conflicts: int = 0
    too_large: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    new_keys: frozenset[str] = frozenset()
    """Keys that were not in the table before this call (and were written by it)."""
    conflict_keys: frozenset[str] = frozenset()

    def __add__(self, other: SaveSummary) -> SaveSummary:
        return SaveSummary(
            written=self.written + other.written,
            created=self.created + other.created,
            unchanged=self.unchanged + other.unchanged,
            conflicts=self.conflicts + other.conflicts,
            too_large=self.too_large + other.too_large,
            read_units=self.read_units + other.read_units,
            write_units=self.write_units + other.write_units,
            new_keys=self.new_keys | other.new_keys,
            conflict_keys=self.conflict_keys | other.conflict_keys,
        )


STATUS_CHECK_TIERS: tuple[tuple[timedelta, timedelta], ...] = (
    (timedelta(hours=1), timedelta(minutes=5)),
    (timedelta(days=1), timedelta(minutes=30)),
    (timedelta(days=7), timedelta(hours=4)),
)
OLD_ORDER_CHECK_EVERY = timedelta(hours=24)


def next_check_after(created_at: datetime, now: datetime) -> datetime:
    """When an open order is next due for a status check: young orders move fast, old ones rarely do."""
    age = now - created_at
    for younger_than, every in STATUS_CHECK_TIERS:
        if age < younger_than:
            return now + every
    return now + OLD_ORDER_CHECK_EVERY


def next_status_check(order: Order, now: datetime, *, due: datetime | None = None) -> datetime | None:
    """The order's place in the open-orders index: when it is next due for a status check, or ``None`` when it
    leaves the index (a final status). An open order stays, by default on the age-based schedule
    (``next_check_after``). Refunds of a fulfilled order reach it through its platform's refund requests
    (``sync.refunds``), never through status checks."""
    if order.status.is_final:
        return None
    return next_check_after(order.created_at, now) if due is None else due
