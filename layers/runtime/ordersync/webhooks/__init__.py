"""Webhooks both ways.

In: a platform's notification is only a hint of which order changed (``receiver``); the order is then read from
the platform by id and written through the pollers' change-only store (``consumer``), so the poll stays the truth.
Out: change events delivered to a partner's HTTPS endpoint, signed per Standard Webhooks (``signing``).
"""
