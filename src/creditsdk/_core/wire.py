"""Plain request and response values: what an Operation builds and parses. No HTTP library.

The executors turn a `Request` into their HTTP library's request and the answer into a
`Response`. The names a parser uses (``status_code``, ``headers.get``, ``content``, ``text``,
``json()``) are spelled as in httpx, so a parser written against ``httpx.Response`` keeps working.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, overload

import attrs

__all__ = ["Headers", "Request", "Response"]


class Headers:
    """Case-insensitive, ordered, multi-valued header fields (read-only)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(items)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    @overload
    def get(self, name: str, default: None) -> str | None: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's value; several fields of one name are joined with ``", "`` (as httpx)."""
        key = name.lower()
        values = [v for k, v in self._items if k.lower() == key]
        return ", ".join(values) if values else default

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def items(self) -> list[tuple[str, str]]:
        """One ``(name, value)`` per field name (lower case), values joined as in `get`."""
        seen: dict[str, list[str]] = {}
        for k, v in self._items:
            seen.setdefault(k.lower(), []).append(v)
        return [(k, ", ".join(vs)) for k, vs in seen.items()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, _ in self.items())

    def __len__(self) -> int:
        return len(self.items())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted((k.lower(), v) for k, v in self._items) == sorted(
            (k.lower(), v) for k, v in other._items
        )

    def __hash__(self) -> int:
        return hash(tuple(sorted((k.lower(), v) for k, v in self._items)))

    def __repr__(self) -> str:
        # Names only: values may carry tokens or signatures.
        return f"Headers({[k for k, _ in self._items]!r})"


def _headers(value: Headers | Iterable[tuple[str, str]]) -> Headers:
    return value if isinstance(value, Headers) else Headers(value)


def _pairs(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


@attrs.frozen(slots=True)
class Request:
    """One HTTP request as an Operation builds it.

    ``url`` is absolute, query included. The repr shows neither the query nor headers nor body:
    they carry personal data and signatures.
    """

    method: str
    url: str = attrs.field(repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs, repr=False)
    body: bytes = attrs.field(default=b"", repr=False)

    def with_header(self, name: str, value: str) -> Request:
        """A copy with ``name`` set to ``value`` (fields of that name replaced)."""
        key = name.lower()
        kept = tuple((k, v) for k, v in self.headers if k.lower() != key)
        return attrs.evolve(self, headers=(*kept, (name, value)))

    @property
    def path(self) -> str:
        """The URL without scheme, host or query: ``/api/v1/X``."""
        rest = self.url.split("://", 1)[-1]
        slash = rest.find("/")
        path = rest[slash:] if slash >= 0 else "/"
        return path.split("?", 1)[0].split("#", 1)[0]

    @property
    def query(self) -> str:
        """The raw query string (no ``?``), ``""`` for none."""
        before_fragment = self.url.split("#", 1)[0]
        return before_fragment.split("?", 1)[1] if "?" in before_fragment else ""


@attrs.frozen(slots=True)
class Response:
    """One HTTP answer as an Operation parses it: ``content`` is already decoded (no gzip)."""

    status_code: int
    headers: Headers = attrs.field(converter=_headers, repr=False)
    content: bytes = attrs.field(repr=False)
    url: str = attrs.field(default="", repr=False)  # the request's; never log its query

    @property
    def charset_encoding(self) -> str | None:
        """The ``charset`` parameter of ``Content-Type``, if any."""
        content_type = self.headers.get("Content-Type") or ""
        for part in content_type.split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset":
                return value.strip().strip("\"'") or None
        return None

    @property
    def text(self) -> str:
        """``content`` decoded with the declared charset (UTF-8 if none or unknown)."""
        encoding = self.charset_encoding or "utf-8"
        try:
            return self.content.decode(encoding, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)
