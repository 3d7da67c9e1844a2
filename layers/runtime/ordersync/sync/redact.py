"""Keep customer e-mail addresses and phone numbers out of log lines, whatever message carries them (a
platform's validation error may quote the value it rejected)."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()-]{7,}\d")


def redact(text: str) -> str:
    """``text`` with every e-mail-like and phone-like substring replaced by a marker."""
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))
