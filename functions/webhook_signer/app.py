"""Signs a change event for the partner subscription and puts the signed delivery back on the bus, where a rule
hands it to the EventBridge API destination (which retries, then dead-letters): no delivery loop here.

API destinations cannot compute an HMAC, so this one step in between computes the Standard Webhooks headers
(``ordersync.webhooks.signing``) over the exact body; the delivery rule's target sends ``detail.body`` as the
request body and ``detail.headers`` as the headers.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import settings, subscriber_secret
from ordersync.webhooks.signing import sign_event

logger = Logger()
SIGNED_SOURCE = "ordersync.webhooks"
SIGNED_DETAIL_TYPE = "Webhook Delivery Signed"
_events: Any = None


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    global _events  # noqa: PLW0603 - one client per container
    if _events is None:
        import boto3  # on the first call: boto3 is not imported at the handler's import

        _events = boto3.client("events")
    delivery = sign_event(event, subscriber_secret(), timestamp=int(time.time()))
    detail = {"headers": delivery.headers, "body": json.loads(delivery.body)}
    response = _events.put_events(
        Entries=[
            {
                "Source": SIGNED_SOURCE,
                "DetailType": SIGNED_DETAIL_TYPE,
                "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
                "EventBusName": settings().event_bus_name,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"signed delivery not put on the bus: {response['Entries']}")
    logger.info("delivery signed", extra={"webhook_id": delivery.message_id, "type": event.get("detail-type")})
    return {"webhook_id": delivery.message_id}
