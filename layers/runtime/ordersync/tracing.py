"""Powertools' ``Tracer``, built on first use instead of at import.

``Tracer()`` imports ``aws_xray_sdk.core`` whatever the configuration (``_patch_xray_provider`` runs in its
constructor, before ``disabled`` is looked at) and, when tracing is on, patches every module the X-Ray SDK
supports: the largest single import of every handler. ``LazyTracer`` is that same class; its constructor only
keeps the arguments, and the first read of ``provider``, ``disabled``, ``service`` or ``auto_patch`` (which
Powertools does inside the wrappers of ``capture_lambda_handler``/``capture_method`` when they run, and in
``put_annotation``/``put_metadata``/``patch``) runs Powertools' own ``__init__``. Decorating a handler at import
time reads none of them, so the import pays nothing; on Lambda, with tracing active, the first invocation pays
what ``Tracer()`` paid at import before, and later invocations nothing more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.tracing import Tracer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from aws_lambda_powertools.tracing.base import BaseProvider

__all__ = ["LazyTracer"]

_BUILT_BY_INIT = frozenset({"provider", "disabled", "service", "auto_patch"})
"""The instance attributes ``Tracer.__init__`` sets (every other one is a method or class attribute)."""


class LazyTracer(Tracer):
    """``Tracer`` with the same arguments and behaviour; its ``__init__`` runs on first use."""

    def __init__(
        self,
        service: str | None = None,
        disabled: bool | None = None,
        auto_patch: bool | None = None,
        patch_modules: Sequence[str] | None = None,
        provider: BaseProvider | None = None,
    ) -> None:
        # Deliberately not super().__init__() yet: that is what imports and patches.
        self._pending: dict[str, Any] | None = {
            "service": service,
            "disabled": disabled,
            "auto_patch": auto_patch,
            "patch_modules": patch_modules,
            "provider": provider,
        }

    @property
    def built(self) -> bool:
        """Whether Powertools' ``__init__`` has run (tests and benchmarks check that an import did not)."""
        return self._pending is None

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not found the usual way: before the first use, those __init__ sets.
        pending = self.__dict__.get("_pending")
        if name not in _BUILT_BY_INIT or pending is None:
            raise AttributeError(name)
        self._pending = None
        try:
            Tracer.__init__(self, **pending)
        except BaseException:
            self._pending = pending  # the next use tries again
            raise
        return getattr(self, name)
