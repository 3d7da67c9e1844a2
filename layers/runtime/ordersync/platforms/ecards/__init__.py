"""E-cards: its wire models, their mapping to ``Order``, its client, its profile and settings."""

from ordersync.platforms.ecards.client import (
    EcardsClient,
)
from ordersync.platforms.ecards.mapping import (
    decode_json,
    decode_status_json,
    parse_page,
    to_order,
    to_utc,
)
from ordersync.platforms.ecards.models import (
    CURRENCY,
    DEFAULT_RETRY,
    DEFAULT_TIMEZONE,
    PAGE_SIZE,
    STATUS_MAP,
    EcardsCardLine,
    EcardsCreateOrderRequest,
    EcardsCreateResult,
    EcardsOrderListPayload,
    EcardsOrderPayload,
    EcardsOrderStatus,
    EcardsParticipant,
    EcardsStatus,
    EcardsStatusPayload,
    OrderNotFoundError,
    new_order_id,
)

__all__ = [
    "CURRENCY",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEZONE",
    "PAGE_SIZE",
    "STATUS_MAP",
    "EcardsCardLine",
    "EcardsClient",
    "EcardsCreateOrderRequest",
    "EcardsCreateResult",
    "EcardsOrderListPayload",
    "EcardsOrderPayload",
    "EcardsOrderStatus",
    "EcardsParticipant",
    "EcardsStatus",
    "EcardsStatusPayload",
    "OrderNotFoundError",
    "decode_json",
    "decode_status_json",
    "new_order_id",
    "parse_page",
    "to_order",
    "to_utc",
]
