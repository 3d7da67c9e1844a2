"""Lambda REQUEST authorizer of the REST API: bearer token -> client -> Allow policy with its scopes.

Raising ``Unauthorized`` is how API Gateway is told to answer ``401``."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from ordersync.composition import client_repository
from ordersync.tracing import LazyTracer

logger = Logger()
tracer = LazyTracer()  # Powertools' Tracer; it imports the X-Ray SDK on first use, not here


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Imported on the first call: Powertools' data classes package (what ``event_source`` would import at this
    # module's import) and the authorizer's pydantic models. The event is wrapped as ``event_source`` does.
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerRequestEvent,
    )

    from ordersync.api.authorizer import authorize

    return authorize(APIGatewayAuthorizerRequestEvent(event), client_repository())
