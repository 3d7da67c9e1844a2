"""The orders table: one item per platform order, written only when its content changed.

``save_changed`` reads the stored hashes with ``BatchGetItem`` and writes only the orders whose hash
differs, each with a condition on the version it read, so that two writers (a poller and the action worker)
never overwrite each other's newer data: the loser counts a conflict and the next poll settles it.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import heapq
import json
import math
import threading
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ordersync.aws.dynamodb import DynamoDBRepository, from_item, is_conditional_check_failure, to_attribute
from ordersync.backoff import Backoff
from ordersync.models import Order, OrderStatus, Platform, RefundRequest, RefundSummary, order_key
from ordersync.sync.ports import RefundSaveResult
from ordersync.sync.records import (
    OrderTooLargeError,
    SaveSummary,
    StoredOrder,
    content_hash,
    encode_order,
    next_status_check,
)
from ordersync.sync.refunds import apply_refunds
from ordersync.timefmt import from_iso, to_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, KeysAndAttributesTypeDef

logger = Logger(child=True)
T = TypeVar("T")
R = TypeVar("R")

BATCH_GET_LIMIT = 100
MAX_UNPROCESSED_ROUNDS = 8
UNPROCESSED_BACKOFF = Backoff(attempts=MAX_UNPROCESSED_ROUNDS, base=0.05, cap=1.0)
"""BatchGetItem calls per batch of keys, and the waits between them while DynamoDB leaves keys unprocessed."""
MAX_LIST_ROUNDS = 20
LIST_FILTER_PAGE = 200  # items evaluated per round of a filtered list
BY_SHARD_CHANGED_INDEX = "by-shard-changed"
INDEX_SHARDS = 8
"""Index partitions per platform of ``by-shard-changed``: an order's shard is its id's CRC-32 modulo this. Each
index partition takes about 1,000 write units a second in DynamoDB, so one platform's writes spread over 8 of
them. Changing it moves orders between shards: only with a rewrite of ``changed_shard`` in every item."""
OPEN_ORDERS_INDEX = "open-orders"
_HASH_PROJECTION = "pk, content_hash"
_STORED_PROJECTION = "pk, content_hash, version, first_seen_at, last_changed_at, item_bytes, #status, refunds"
REFUND_CONFLICT_ROUNDS = 3
"""How often ``save_refunds`` reads an order again after another writer changed it between its read and write."""


class UnprocessedKeysError(RuntimeError):
    """DynamoDB still left keys of a BatchGetItem unprocessed after every round (the table keeps throttling)."""

    def __init__(self, left: int, rounds: int) -> None:
        super().__init__(f"BatchGetItem left {left} key(s) unprocessed after {rounds} rounds")
        self.left = left


class InvalidCursorError(ValueError):
    """A ``list`` cursor that this repository did not hand out."""


def item_size(item: Mapping[str, Any]) -> int:
    """DynamoDB's size of an item in bytes: attribute names plus values (numbers approximated)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        if "S" in value:
            size += len(value["S"].encode())
        elif "B" in value:
            size += len(value["B"])
        elif "N" in value:
            size += len(value["N"].lstrip("-").replace(".", "")) // 2 + 2
        elif "BOOL" in value or "NULL" in value:
            size += 1
        else:
            size += len(json.dumps(value))
    return size


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def read_units(size: int) -> float:
    """Eventually consistent read: half a unit per started 4 KB of the whole item (projection or not)."""
    return 0.5 * max(1, math.ceil(size / 4096))


class OrderRepository(DynamoDBRepository):
    """Adapter of ``OrdersTable`` (key ``pk`` = ``"{platform}#{order_id}"``).

    An order's refunds (``Order.refunds``) live in its own item, in the order and in a ``refunds`` attribute that
    ``save_changed`` reads with the hashes: every writer (pollers, status poller, action worker) folds the stored
    refunds into the order it writes (``sync.refunds.apply_refunds``), so that a list read, which knows nothing of
    refunds, never takes them away."""

    def __init__(
        self,
        table_name: str,
        *,
        dynamodb_client: DynamoDBClient | None = None,
        write_concurrency: int = 8,
    ) -> None:
        super().__init__(table_name, dynamodb_client=dynamodb_client)
        self._write_concurrency = max(1, write_concurrency)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _in_parallel(self, work: Callable[[T], R], inputs: Sequence[T]) -> builtins.list[R]:
        """``work`` over ``inputs`` on the repository's pool (``write_concurrency`` threads, made on first use and
        kept for the container's life), in order; a single input runs on the caller's thread."""
        if len(inputs) <= 1 or self._write_concurrency == 1:
            return [work(one) for one in inputs]
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self._write_concurrency, thread_name_prefix="orders-table")
        return builtins.list(self._pool.map(work, inputs))

    # -- writes ----------------------------------------------------------------------------------
    def save_changed(
        self, orders: Sequence[Order], *, seen_at: datetime, observed_at: datetime | None = None
    ) -> SaveSummary:
        """Write the orders whose content differs from what is stored; leave the others untouched.

        ``observed_at`` is when the orders were read from the platform. An item another writer changed after
        that moment holds newer data than ours (the worker stored a PATCH answer while our page was in flight):
        it is left alone and counted as a conflict, since the version condition alone cannot see that our read
        is older than its write. The next poll reads the platform again and settles it."""
        latest: dict[str, Order] = {order.key: order for order in orders}
        if not latest:
            return SaveSummary()
        digests = {key: content_hash(order) for key, order in latest.items()}
        stored, read_cost = self._stored_heads(digests)
        changed: list[tuple[Order, str, dict[str, Any] | None]] = []
        unchanged = 0
        stale: set[str] = set()
        observed = None if observed_at is None else to_iso(observed_at)
        for key, read in latest.items():
            head = stored.get(key)
            refunds = _head_refunds(head)  # only on a head read again: its hash, refunds included, differed
            order = read if refunds is None else apply_refunds(read, refunds)
            digest = digests[key] if refunds is None else content_hash(order)
            if head is not None and head.get("content_hash") == digest:
                unchanged += 1
            elif head is not None and observed is not None and str(head.get("last_changed_at", "")) > observed:
                stale.add(key)
                logger.info(
                    "stored order changed after this read; not overwritten",
                    extra={"order_id": order.order_id, "platform": order.platform, "version": head.get("version")},
                )
            else:
                changed.append((order, digest, head))
        outcomes = self._in_parallel(lambda change: self._write(change[0], change[1], change[2], seen_at), changed)
        return SaveSummary(
            written=sum(1 for outcome in outcomes if outcome[0] == "written"),
            created=sum(1 for outcome in outcomes if outcome[0] == "written" and outcome[2]),
            unchanged=unchanged,
            conflicts=len(stale) + sum(1 for outcome in outcomes if outcome[0] == "conflict"),
            too_large=sum(1 for outcome in outcomes if outcome[0] == "too_large"),
            read_units=read_cost,
            write_units=sum(outcome[3] for outcome in outcomes),
            new_keys=frozenset(key for kind, key, is_new, _ in outcomes if kind == "written" and is_new),
            conflict_keys=frozenset(stale) | {key for kind, key, _, _ in outcomes if kind == "conflict"},
        )

    def _write(
        self, order: Order, digest: str, head: dict[str, Any] | None, seen_at: datetime
    ) -> tuple[Literal["written", "conflict", "too_large"], str, bool, float]:
        is_new = head is None
        version = 1 if head is None else int(head["version"]) + 1
        first_seen = seen_at if head is None else head["first_seen_at"]
        try:
            item = self._item(order, digest, version, first_seen, seen_at=seen_at, head=head)
        except OrderTooLargeError:
            item = None
        if item is None:
            logger.error("order too large to store", extra={"order_id": order.order_id, "platform": order.platform})
            return "too_large", order.key, is_new, 0.0
        size = item_size(item)
        item["item_bytes"] = {"N": str(size)}
        previous = 0 if head is None else int(head.get("item_bytes", 0))
        try:
            if head is None:
                self.client.put_item(
                    TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(pk)"
                )
            else:
                self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression="version = :expected",
                    ExpressionAttributeValues={":expected": {"N": str(version - 1)}},
                )
        except ClientError as error:
            if is_conditional_check_failure(error):
                logger.warning(
                    "order changed by another writer; not overwritten",
                    extra={"order_id": order.order_id, "platform": order.platform, "expected_version": version - 1},
                )
                return "conflict", order.key, is_new, write_units(size)
            raise
        return "written", order.key, is_new, write_units(max(size, previous))

    def _item(
        self,
        order: Order,
        digest: str,
        version: int,
        first_seen: datetime | str,
        *,
        seen_at: datetime,
        head: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        seen = to_iso(seen_at)
        item: dict[str, Any] = {
            "pk": {"S": order.key},
            "platform": {"S": order.platform.value},
            "status": {"S": order.status.value},
            "changed_shard": {"S": changed_shard(order.platform, order.order_id)},
            "content_hash": {"S": digest},
            "version": {"N": str(version)},
            "first_seen_at": {"S": first_seen if isinstance(first_seen, str) else to_iso(first_seen)},
            "last_changed_at": {"S": seen},
            "last_seen_at": {"S": seen},
        }
        for name, value in encode_order(order).items():
            item[name] = to_attribute(value)
        item |= self._refund_attributes(order)
        del head  # what was stored decides nothing more: refunds were folded in by ``save_changed``
        next_check = next_status_check(order, seen_at)
        if next_check is not None:
            item["open_platform"] = {"S": order.platform.value}
            item["next_check_at"] = {"S": to_iso(next_check)}
        return item

    def reschedule(self, stored: StoredOrder, *, next_check_at: datetime | None) -> bool:
        """Move an unchanged indexed order's next status check, or with ``None`` take it out of the open-orders
        index (a final order); content and version stay as they are.
        ``False`` when the item changed meanwhile (its new write set its own schedule)."""
        values: dict[str, AttributeValueTypeDef] = {":version": {"N": str(stored.version)}}
        if next_check_at is None:
            update = "REMOVE open_platform, next_check_at, watch_until"
        else:
            update = "SET next_check_at = :next"
            values[":next"] = {"S": to_iso(next_check_at)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": stored.order.key}},
                UpdateExpression=update,
                ConditionExpression="version = :version AND attribute_exists(open_platform)",
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    # -- refunds ---------------------------------------------------------------------------------
    @staticmethod
    def _refund_attributes(order: Order) -> dict[str, Any]:
        """The ``refunds`` attribute (the summary's JSON, read back with the hashes) of an order that has any."""
        if order.refunds is None:
            return {}
        return {"refunds": {"S": order.refunds.model_dump_json()}}

    def save_refunds(
        self, platform: Platform, requests: Sequence[RefundRequest], *, seen_at: datetime
    ) -> RefundSaveResult:
        """Fold refund requests into their stored orders (``sync.ports.RefundStore``): each order is read whole,
        its refunds merged (``apply_refunds``) and written like any change, on the version read; an order another
        writer changed meanwhile is read again, up to ``REFUND_CONFLICT_ROUNDS`` times. Requests whose order is not
        stored are left for the caller (``missing_order_ids``), which fetches the order and saves it with them."""
        by_key: dict[str, list[RefundRequest]] = {}
        for request in requests:
            by_key.setdefault(order_key(platform, request.order_id), []).append(request)
        summary = SaveSummary()
        missing: set[str] = set()
        pending = builtins.list(by_key)
        for _ in range(REFUND_CONFLICT_ROUNDS):
            if not pending:
                break
            orders: builtins.list[Order] = []
            for start in range(0, len(pending), BATCH_GET_LIMIT):
                found = {raw["pk"]["S"]: raw for raw in self._batch_get(pending[start : start + BATCH_GET_LIMIT])}
                for key in pending[start : start + BATCH_GET_LIMIT]:
                    item = found.get(key)
                    if item is None or "content_hash" not in item:
                        missing.add(by_key[key][0].order_id)
                        continue
                    orders.append(apply_refunds(_stored(item).order, incoming=by_key[key]))
            round_summary = self.save_changed(orders, seen_at=seen_at)
            pending = sorted(round_summary.conflict_keys)
            summary = summary + round_summary.model_copy(update={"conflicts": 0, "conflict_keys": frozenset()})
        if pending:
            summary = summary + SaveSummary(conflicts=len(pending), conflict_keys=frozenset(pending))
        return RefundSaveResult(summary=summary, missing_order_ids=frozenset(missing))

    def end_refund_watch(self, platform: Platform) -> int:
        """Take out of the open-orders index what the retired refund watch left there: fulfilled orders with a
        ``watch_until``. The index projects only keys, so each of the platform's indexed orders is tried with an
        update conditional on ``watch_until`` (the open ones fail the condition and stay): idempotent, run once by
        the first refund run. Returns how many it took out."""
        taken = 0
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": OPEN_ORDERS_INDEX,
                "KeyConditionExpression": "open_platform = :platform",
                "ExpressionAttributeValues": {":platform": {"S": platform.value}},
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            response = self.client.query(**request)
            for item in response.get("Items", []):
                try:
                    self.client.update_item(
                        TableName=self.table_name,
                        Key={"pk": item["pk"]},
                        UpdateExpression="REMOVE open_platform, next_check_at, watch_until",
                        ConditionExpression="attribute_exists(watch_until)",
                    )
                    taken += 1
                except ClientError as error:
                    if not is_conditional_check_failure(error):
                        raise
            start = response.get("LastEvaluatedKey")
            if not start:
                return taken

    # -- reads -----------------------------------------------------------------------------------
    def _stored_heads(self, digests: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], float]:
        """What ``save_changed`` compares of the stored items among ``digests``' keys, and the read units it cost.

        A poll mostly meets unchanged orders, so the first reads project the hash alone (``BatchGetItem``s of
        ``BATCH_GET_LIMIT`` keys, in parallel): an unchanged order costs its key, its hash and nothing else. Only
        the stored orders whose hash differs are read again for the rest of their head (version, times, status,
        watch), which their conditional write needs. Read units: half a unit per key of the first reads (an item
        of at most 4 KB, as nearly all are), and the measured size of each head read again."""
        keys = builtins.list(digests)
        chunks = [keys[start : start + BATCH_GET_LIMIT] for start in range(0, len(keys), BATCH_GET_LIMIT)]
        heads: dict[str, dict[str, Any]] = {}
        for found in self._in_parallel(lambda chunk: self._batch_get(chunk, projection=_HASH_PROJECTION), chunks):
            for raw in found:
                heads[raw["pk"]["S"]] = {"content_hash": raw.get("content_hash", {}).get("S")}
        cost = 0.5 * len(keys)
        differing = [key for key, head in heads.items() if head["content_hash"] != digests[key]]
        chunks = [differing[start : start + BATCH_GET_LIMIT] for start in range(0, len(differing), BATCH_GET_LIMIT)]
        for found in self._in_parallel(lambda chunk: self._batch_get(chunk, projection=_STORED_PROJECTION), chunks):
            for raw in found:
                plain = from_item(raw)
                heads[str(plain["pk"])] = plain
                cost += read_units(int(plain.get("item_bytes", 0)))
        return heads, cost

    def _batch_get(self, keys: Sequence[str], *, projection: str | None = None) -> builtins.list[dict[str, Any]]:
        """The stored items among ``keys`` (at most ``BATCH_GET_LIMIT``), as DynamoDB returns them; with
        ``projection`` only those attributes (``#status`` names ``status``). The keys DynamoDB leaves unprocessed
        (throttling) are asked for again with ``UNPROCESSED_BACKOFF``; ``UnprocessedKeysError`` when some are left
        after the last."""
        request: KeysAndAttributesTypeDef = {"Keys": [{"pk": {"S": key}} for key in keys]}
        if projection:
            request["ProjectionExpression"] = projection
            if "#status" in projection:
                request["ExpressionAttributeNames"] = {"#status": "status"}
        found: builtins.list[dict[str, Any]] = []
        for round_ in range(1, UNPROCESSED_BACKOFF.attempts + 1):
            response = self.client.batch_get_item(RequestItems={self.table_name: request})
            found.extend(response.get("Responses", {}).get(self.table_name, []))
            unprocessed = response.get("UnprocessedKeys", {}).get(self.table_name)
            if not unprocessed:
                return found
            request["Keys"] = builtins.list(unprocessed["Keys"])
            UNPROCESSED_BACKOFF.pause(round_)
        raise UnprocessedKeysError(len(request["Keys"]), UNPROCESSED_BACKOFF.attempts)

    def get(self, platform: Platform, order_id: str) -> StoredOrder | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": order_key(platform, order_id)}}, ConsistentRead=True
        )
        item = response.get("Item")
        return None if item is None else _stored(item)

    def list(
        self,
        platform: Platform | None = None,
        status: OrderStatus | None = None,
        changed_since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[StoredOrder], str | None]:
        """A page of stored orders, most recently changed first when a platform is given, and the opaque
        cursor of the next page (``None`` at the end)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        base = self._list_request(platform, status, changed_since)
        if platform is not None:
            return self._list_shards(platform, base, changed_since, limit, cursor)
        start_key = _decode_cursor(cursor, None, changed_since) if cursor else None
        found, last_key = self._query_rounds(base, start_key, limit, scan=True)
        if len(found) > limit:
            found = found[:limit]
            last_key = _key_of(found[-1], by_platform=False)
        return self._complete(found), (_encode_cursor(last_key) if last_key else None)

    def _query_rounds(
        self, base: Mapping[str, Any], start_key: dict[str, Any] | None, limit: int, *, scan: bool = False
    ) -> tuple[builtins.list[dict[str, Any]], dict[str, Any] | None]:
        """Up to ``limit`` items (a filtered round may bring a few more) from ``start_key`` on, and the key to go on
        from (``None``: nothing left). DynamoDB applies ``Limit`` before the filter: with a filter, evaluate a full
        page per round, or a selective filter would answer empty pages with a cursor."""
        filtered = "FilterExpression" in base
        found: builtins.list[dict[str, Any]] = []
        last_key: dict[str, Any] | None = None
        for _ in range(MAX_LIST_ROUNDS):
            request = dict(base) | {"Limit": LIST_FILTER_PAGE if filtered else limit - len(found)}
            if start_key:
                request["ExclusiveStartKey"] = start_key
            response: Mapping[str, Any] = self.client.scan(**request) if scan else self.client.query(**request)
            found.extend(response.get("Items", []))
            last_key = response.get("LastEvaluatedKey")
            if not last_key or len(found) >= limit:
                break
            start_key = last_key
        return found, last_key

    def _list_shards(
        self,
        platform: Platform,
        base: Mapping[str, Any],
        changed_since: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[builtins.list[StoredOrder], str | None]:
        """One platform's page: every shard of ``by-shard-changed`` queried in parallel for its next ``limit``
        orders, merged most recently changed first, cut at ``limit``. The cursor holds each shard's own position
        (its last order handed out, or ``done``), so the next page goes on exactly where each shard stopped."""
        positions, cursor_after = _decode_shard_cursor(cursor, platform, changed_since) if cursor else ({}, None)
        open_shards = [shard for shard in range(INDEX_SHARDS) if positions.get(shard) != "done"]

        def read(shard: int) -> tuple[builtins.list[dict[str, Any]], dict[str, Any] | None]:
            request = dict(base)
            request["ExpressionAttributeValues"] = dict(base["ExpressionAttributeValues"]) | {
                ":shard": {"S": _shard_value(platform, shard)}
            }
            start = positions.get(shard)
            return self._query_rounds(request, start if isinstance(start, dict) else None, limit)

        answers = dict(zip(open_shards, self._in_parallel(read, open_shards), strict=True))
        tagged = (
            [(item["last_changed_at"]["S"], shard, index, item) for index, item in enumerate(items)]
            for shard, (items, _) in answers.items()
        )
        page = builtins.list(heapq.merge(*tagged, key=lambda entry: entry[0], reverse=True))[:limit]
        taken: dict[int, int] = {}
        for _, shard, index, _ in page:
            taken[shard] = index + 1
        following: dict[int, dict[str, Any] | str] = dict(positions)
        for shard, (items, last_key) in answers.items():
            used = taken.get(shard, 0)
            if used < len(items):
                if used:
                    following[shard] = _key_of(items[used - 1], by_platform=True)
            else:
                following[shard] = last_key if last_key else "done"
        more = any(following.get(shard) != "done" for shard in range(INDEX_SHARDS))
        last = page[-1][0] if page else (cursor_after or "")
        shards = {str(shard): value for shard, value in following.items()}
        next_cursor = _encode_cursor({"platform": platform.value, "after": last, "shards": shards}) if more else None
        return self._complete([item for *_, item in page]), next_cursor

    def _list_request(
        self, platform: Platform | None, status: OrderStatus | None, changed_since: datetime | None
    ) -> dict[str, Any]:
        """A ``Query`` of the ``by-platform-changed`` index when the platform is known, else a ``Scan``."""
        request: dict[str, Any] = {"TableName": self.table_name}
        filters: list[str] = []
        values: dict[str, Any] = {}
        if status is not None:
            filters.append("#status = :status")
            values[":status"] = {"S": status.value}
            request["ExpressionAttributeNames"] = {"#status": "status"}
        since = "last_changed_at >= :since"
        if changed_since is not None:
            values[":since"] = {"S": to_iso(changed_since)}
        if platform is not None:
            values[":shard"] = {"S": _shard_value(platform, 0)}  # each shard's query sets its own
            request["IndexName"] = BY_SHARD_CHANGED_INDEX
            request["KeyConditionExpression"] = "changed_shard = :shard" + (
                f" AND {since}" if changed_since is not None else ""
            )
            request["ScanIndexForward"] = False
        elif changed_since is not None:
            filters.append(since)
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
        if values:
            request["ExpressionAttributeValues"] = values
        return request

    def open_orders(self, platform: Platform, due_before: datetime, limit: int) -> builtins.list[StoredOrder]:
        """Not-yet-final orders of a platform whose next status check is due, most overdue first (the
        sparse ``open-orders`` index holds only those, so this never scans)."""
        response = self.client.query(
            TableName=self.table_name,
            IndexName=OPEN_ORDERS_INDEX,
            KeyConditionExpression="open_platform = :platform AND next_check_at <= :due",
            ExpressionAttributeValues={":platform": {"S": platform.value}, ":due": {"S": to_iso(due_before)}},
            ScanIndexForward=True,
            Limit=limit,
        )
        return self._complete(builtins.list(response.get("Items", [])))

    def _complete(self, items: builtins.list[dict[str, Any]]) -> builtins.list[StoredOrder]:
        """Stored orders from index items, fetching the full items when the index does not project them."""
        missing = [item["pk"]["S"] for item in items if "content_hash" not in item]
        if missing:
            full: dict[str, dict[str, Any]] = {}
            for start in range(0, len(missing), BATCH_GET_LIMIT):
                for raw in self._batch_get(missing[start : start + BATCH_GET_LIMIT]):
                    full[raw["pk"]["S"]] = raw
            items = [full.get(item["pk"]["S"], item) for item in items]
        return [_stored(item) for item in items if "content_hash" in item]


def _head_refunds(head: Mapping[str, Any] | None) -> RefundSummary | None:
    """The refunds an order's stored item carries (its ``refunds`` attribute), if any."""
    if head is None or not head.get("refunds"):
        return None
    return RefundSummary.model_validate_json(str(head["refunds"]))


def _stored(item: Mapping[str, Any]) -> StoredOrder:
    return StoredOrder.from_image(from_item(item))


def _encode_cursor(key: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str, platform: Platform | None, changed_since: datetime | None) -> dict[str, Any]:
    """The start key of ``cursor``, which must have this list's shape: the index keys of ``platform`` (its
    ``last_changed_at`` not before ``changed_since``) or the table key of a scan. DynamoDB refuses any other
    start key with a ``ValidationException``: a cursor is input, so that must be ``InvalidCursorError``."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (UnicodeEncodeError, binascii.Error, ValueError) as error:
        raise InvalidCursorError("cursor is not one this API handed out") from error
    names = {"pk", "platform", "last_changed_at"} if platform is not None else {"pk"}
    if not isinstance(key, dict) or set(key) != names:
        raise InvalidCursorError("cursor is not one this API handed out")
    values = {
        name: value.get("S") if isinstance(value, dict) and set(value) == {"S"} else None for name, value in key.items()
    }
    if not all(isinstance(value, str) and value for value in values.values()):
        raise InvalidCursorError("cursor is not one this API handed out")
    if platform is not None:
        if values["platform"] != platform.value or not str(values["pk"]).startswith(f"{platform.value}#"):
            raise InvalidCursorError("cursor belongs to another platform")
        try:
            changed = from_iso(str(values["last_changed_at"]))
        except ValueError as error:
            raise InvalidCursorError("cursor is not one this API handed out") from error
        if changed_since is not None and changed < changed_since:
            raise InvalidCursorError("cursor lies before changed_since")
    return key


def changed_shard(platform: Platform, order_id: str) -> str:
    """An order's partition key in ``by-shard-changed``: ``"{platform}#{shard}"``."""
    return _shard_value(platform, zlib.crc32(order_id.encode()) % INDEX_SHARDS)


def _shard_value(platform: Platform, shard: int) -> str:
    return f"{platform.value}#{shard}"


def _decode_shard_cursor(
    cursor: str, platform: Platform, changed_since: datetime | None
) -> tuple[dict[int, dict[str, Any] | str], str]:
    """Each shard's position in ``cursor`` (``done`` or the index key of its last order handed out, which must
    belong to that shard of ``platform``) and the change time of the last order handed out, neither before
    ``changed_since``. DynamoDB refuses any other start key with a ``ValidationException``: a cursor is input,
    so that must be ``InvalidCursorError``."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (UnicodeEncodeError, binascii.Error, ValueError) as error:
        raise InvalidCursorError("cursor is not one this API handed out") from error
    if not isinstance(data, dict) or set(data) != {"platform", "after", "shards"}:
        raise InvalidCursorError("cursor is not one this API handed out")
    positions, after = data["shards"], data["after"]
    shards = {str(shard) for shard in range(INDEX_SHARDS)}
    if not isinstance(positions, dict) or not set(positions) <= shards or not isinstance(after, str):
        raise InvalidCursorError("cursor is not one this API handed out")
    if data["platform"] != platform.value:
        raise InvalidCursorError("cursor belongs to another platform")
    try:
        last = from_iso(after)
    except ValueError as error:
        raise InvalidCursorError("cursor is not one this API handed out") from error
    if changed_since is not None and last < changed_since:
        raise InvalidCursorError("cursor lies before changed_since")
    decoded: dict[int, dict[str, Any] | str] = {}
    for name, key in positions.items():
        decoded[int(name)] = key if key == "done" else _shard_key(key, platform, int(name), changed_since)
    return decoded, after


def _shard_key(key: Any, platform: Platform, shard: int, changed_since: datetime | None) -> dict[str, Any]:
    if not isinstance(key, dict) or set(key) != {"pk", "changed_shard", "last_changed_at"}:
        raise InvalidCursorError("cursor is not one this API handed out")
    values = {
        name: value.get("S") if isinstance(value, dict) and set(value) == {"S"} else None for name, value in key.items()
    }
    if not all(isinstance(value, str) and value for value in values.values()):
        raise InvalidCursorError("cursor is not one this API handed out")
    if not str(values["changed_shard"]).startswith(f"{platform.value}#") or not str(values["pk"]).startswith(
        f"{platform.value}#"
    ):
        raise InvalidCursorError("cursor belongs to another platform")
    if values["changed_shard"] != _shard_value(platform, shard):
        raise InvalidCursorError("cursor is not one this API handed out")
    try:
        changed = from_iso(str(values["last_changed_at"]))
    except ValueError as error:
        raise InvalidCursorError("cursor is not one this API handed out") from error
    if changed_since is not None and changed < changed_since:
        raise InvalidCursorError("cursor lies before changed_since")
    return key


def _key_of(item: Mapping[str, Any], *, by_platform: bool) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` that resumes a list right after ``item`` (index keys too for an index query)."""
    names = ("pk", "changed_shard", "last_changed_at") if by_platform else ("pk",)
    return {name: item[name] for name in names}
