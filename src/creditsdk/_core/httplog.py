"""Keeps request queries out of httpx's own log lines (installed on first use, not at import).

httpx logs every request's full URL at INFO ("HTTP Request: GET https://…?data=…"). A GET
layout may carry a card, ID number, mobile or key in the query, so on the ``httpx`` logger the
query of any endpoint creditsdk sent one to is replaced.
"""

from __future__ import annotations

import functools
import logging
import threading
from urllib.parse import urlsplit

__all__ = ["note_query"]


class _HttpxQueryFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._paths: set[str] = set()  # paths only: a host spelt two ways is still redacted

    def note(self, path: str) -> None:
        self._paths.add(path)

    def _clean(self, arg: object) -> object:
        # httpx passes its URL object; only its duck-typed parts are read here.
        query = getattr(arg, "query", None)
        if not query:
            return arg
        if getattr(arg, "path", None) not in self._paths:
            return arg
        text = str(arg)
        return f"{text.split('?', 1)[0]}?<redacted>"

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self._clean(a) for a in record.args)
        return True


_FILTER = _HttpxQueryFilter()
_installed = False
_lock = threading.Lock()


@functools.lru_cache(maxsize=256)
def _path_of(base: str) -> str:
    return urlsplit(base).path or "/"


def note_query(url: str) -> None:
    """Remember that ``url``'s endpoint carries a query; install the filter on first use."""
    global _installed
    base, sep, rest = url.partition("?")
    if not sep:
        return
    if "#" in base:  # "?" inside a fragment: let urlsplit judge
        parts = urlsplit(url)
        if not parts.query:
            return
        path = parts.path or "/"
    else:
        if not rest.partition("#")[0]:
            return
        path = _path_of(base)  # a path is per endpoint: parsed once, not per call
    _FILTER.note(path)
    if not _installed:
        with _lock:
            if not _installed:
                # First, before the masking filter creditsdk._core.redact puts on this logger.
                logging.getLogger("httpx").filters.insert(0, _FILTER)
                _installed = True
