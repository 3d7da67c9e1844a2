"""Tables for tests, created from ``template.yaml``'s own definitions so that tests and template cannot drift."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import boto3
from ordersync_tools.infra.template import load_template

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
_TABLE_SHAPE = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes")


@cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = load_template(TEMPLATE)["Resources"]
    return resources


def create_table_from_template(logical_id: str, name: str, client: Any = None) -> str:
    """Create table ``name`` in the embedded AWS with the keys, indexes and stream of ``logical_id``."""
    properties = _resources()[logical_id]["Properties"]
    request: dict[str, Any] = {"TableName": name, "BillingMode": "PAY_PER_REQUEST"}
    request |= {key: properties[key] for key in _TABLE_SHAPE if key in properties}
    if "StreamSpecification" in properties:
        request["StreamSpecification"] = {"StreamEnabled": True} | properties["StreamSpecification"]
    (client or boto3.client("dynamodb")).create_table(**request)
    return name
