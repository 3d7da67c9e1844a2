"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a partner's endpoint verifies.

A delivery carries ``webhook-id`` (the same for every attempt of one message), ``webhook-timestamp`` (Unix
seconds) and ``webhook-signature`` (``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the
secret's bytes; the secret is written ``whsec_`` and base64). Only the standard library: this is what the
README's ten-line verifier mirrors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def new_secret() -> str:
    """A fresh signing secret, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value of one delivery."""
    content = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class SignedDelivery:
    message_id: str
    timestamp: int
    signature: str
    body: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "webhook-id": self.message_id,
            "webhook-timestamp": str(self.timestamp),
            "webhook-signature": self.signature,
            "content-type": "application/json",
        }


def delivery_body(event: Mapping[str, Any]) -> tuple[str, str]:
    """The message id and the JSON body delivered for one change event (an EventBridge event of the ordersync
    bus): ``type`` (its detail-type), ``timestamp``, ``version`` (the order item's, for ordering and
    deduplication) and ``data`` (the event's detail). The id is the order's key, version and type, so an event
    published twice is one message to the partner."""
    detail = dict(event.get("detail") or {})
    event_type = str(event.get("detail-type", ""))
    version = detail.get("version")
    message_id = (
        "msg_"
        + hashlib.sha256(
            f"{detail.get('platform')}#{detail.get('order_id')}#{version}#{event_type}".encode()
        ).hexdigest()[:32]
    )
    payload = {"type": event_type, "timestamp": event.get("time"), "version": version, "data": detail}
    return message_id, json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def sign_event(event: Mapping[str, Any], secret: str, *, timestamp: int) -> SignedDelivery:
    message_id, body = delivery_body(event)
    return SignedDelivery(message_id, timestamp, sign(secret, message_id, timestamp, body), body)
