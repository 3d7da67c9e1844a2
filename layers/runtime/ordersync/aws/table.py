"""What the write path's DynamoDB repositories share: a table resource made on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


class TableRepository:
    """Base of a repository over one table. boto3 is touched only on first use, so that building a repository
    at import time (a Lambda's cold start) costs nothing and tests can hand in a ready ``table``."""

    def __init__(self, table_name: str, *, table: Table | None = None) -> None:
        self.table_name = table_name
        self._table = table

    @property
    def table(self) -> Table:
        if self._table is None:
            self._table = boto3.resource("dynamodb").Table(self.table_name)
        return self._table
