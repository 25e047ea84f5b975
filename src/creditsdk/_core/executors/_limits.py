"""The answer-size limit: what a client constructor needs before any executor is loaded."""

from __future__ import annotations

from ...errors import ConfigurationError

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "check_max_bytes"]

#: The largest answer a client reads, in decoded bytes (the largest real answer is ~10 KB).
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


def check_max_bytes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"max_response_bytes must be a whole number of bytes >= 1, not {value!r}"
        )
    return value
