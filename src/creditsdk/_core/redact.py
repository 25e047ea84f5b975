"""Masking of personal data and secrets, for reprs, logs, errors and audit events."""

from __future__ import annotations

import logging
import re

__all__ = [
    "RedactingFilter",
    "mask_card",
    "mask_id_card",
    "mask_mobile",
    "mask_name",
    "mask_secret",
    "redact_text",
]


def mask_id_card(value: str) -> str:
    """``11010519491231002X`` → ``110105********002X`` (first 6, last 4)."""
    v = value.strip()
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_mobile(value: str) -> str:
    """``13800138000`` → ``138****8000`` (first 3, last 4)."""
    v = value.strip()
    if len(v) <= 7:
        return "*" * len(v)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


def mask_name(value: str) -> str:
    """``张三`` → ``张*``: keeps the first character only."""
    v = value.strip()
    if len(v) <= 1:
        return "*" * len(v)
    return v[0] + "*" * (len(v) - 1)


def mask_card(value: str) -> str:
    """``6262320120123210`` → ``6262********3210`` (first 4, last 4)."""
    v = value.strip()
    if len(v) <= 8:
        return "*" * len(v)
    return v[:4] + "*" * (len(v) - 8) + v[-4:]


def mask_secret(value: str | bytes | None) -> str:
    """Keys, tokens and signatures: nothing of the value, only that it is set."""
    if not value:
        return "<unset>"
    return "<redacted>"


# Patterns for free text (log messages written by user code or third parties): an 18-char
# resident ID, a mainland mobile, a 12-19 digit card number. Longest first, digits-bounded.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_CARD_RE = re.compile(r"(?<!\d)(\d{4})(\d{4,11})(\d{4})(?!\d)")


def redact_text(text: str) -> str:
    """Mask ID numbers, mobiles and card numbers found anywhere in ``text``."""
    text = _ID_RE.sub(lambda m: m.group(1) + "*" * 8 + m.group(3)[-4:], text)
    text = _MOBILE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _CARD_RE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks ID numbers, mobiles and card numbers in every record.

    creditsdk's own records are already masked; attach this to handlers that also see
    records from your code or from libraries (httpx logs URLs, for instance):

    ```python
    handler.addFilter(RedactingFilter())
    ```
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True
