"""A platform's webhook: ``POST /webhooks/{platform}/{secret}``, outside the bearer-token authorizer.

Thin: ``ordersync.webhooks.receiver`` checks the secret, reads which order the body names and queues it; this
shapes API Gateway's proxy event and answer. The platform comes from the route (its second segment), the
secret from the path parameter; neither is logged.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import webhook_receiver
from ordersync.webhooks.telemetry import NAMESPACE

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    resource = str(event.get("resource") or "")
    parts = resource.strip("/").split("/")
    platform = parts[1] if len(parts) > 1 else ""
    secret = str((event.get("pathParameters") or {}).get("secret") or "")
    body: str | bytes | None = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    receipt = webhook_receiver().receive(platform, secret, body)
    return {
        "statusCode": receipt.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(receipt.body),
    }
