"""A platform's own settings, read from the environment variables with its prefix (``TICKETSCLOUD_BASE_URL``...),
which ``template.yaml`` sets from its Parameters. Each platform's ``profile`` module extends ``PlatformSettings``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict


class PlatformSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    prefix: ClassVar[str]
    base_url: str = ""
    """Empty when this deployment does not talk to the platform."""
    secret_name: str = ""
    """The Secrets Manager name holding the platform's token."""

    @classmethod
    def variable(cls, name: str) -> str:
        return f"{cls.prefix}_{name.upper()}"

    @classmethod
    def environment_names(cls) -> list[str]:
        return [cls.variable(name) for name in cls.model_fields]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read every field from ``<PREFIX>_<FIELD>``, upper-cased."""
        env = os.environ if environ is None else environ
        values = {name: env[cls.variable(name)] for name in cls.model_fields if cls.variable(name) in env}
        return cls.model_validate(values)

    def required(self, name: str) -> str:
        """The value of field ``name``; a clear error naming its variable when it is not set."""
        value = str(getattr(self, name))
        if not value:
            raise ValueError(f"environment variable {self.variable(name)} is not set")
        return value
