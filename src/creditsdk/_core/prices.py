"""Contract prices, read from a small TOML file, so a run's summary and an evaluation can say
what the calls cost (per call, or per hit) — the SDK cannot know a lender's contract.

```toml
currency = "CNY"                 # optional, the default

["<provider>.<operation>"]       # docs/batch.md shows real names
per_call = "0.80"                # every billed call costs this

["<provider>.<other_operation>"]
per_hit = "1.20"                 # only calls that returned data cost this
```

Amounts are decimals (a string or a number in the file); an operation may have ``per_call``,
``per_hit`` or both (both: a fee per call plus a fee per hit).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ..errors import ConfigurationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["Price", "load_prices", "parse_prices"]

_KEYS = frozenset({"per_call", "per_hit", "currency"})


@attrs.frozen(slots=True)
class Price:
    """What one operation costs under the user's contract."""

    operation: str
    per_call: Decimal | None = None
    per_hit: Decimal | None = None
    currency: str = "CNY"

    def cost(self, billed: int, hits: int) -> Decimal:
        """The cost of ``billed`` billed calls of which ``hits`` returned data."""
        total = Decimal(0)
        if self.per_call is not None:
            total += self.per_call * billed
        if self.per_hit is not None:
            total += self.per_hit * hits
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "per_call": None if self.per_call is None else str(self.per_call),
            "per_hit": None if self.per_hit is None else str(self.per_hit),
            "currency": self.currency,
        }


def _amount(source: str, operation: str, key: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigurationError(
            f"{source}: [{operation!r}] {key} must be a number or a decimal string, "
            f"not {type(value).__name__}"
        )
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigurationError(
            f"{source}: [{operation!r}] {key} = {value!r} is not a decimal amount"
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(
            f"{source}: [{operation!r}] {key} = {value!r} must be a finite amount ≥ 0"
        )
    return amount


def parse_prices(doc: Mapping[str, Any], *, source: str = "prices") -> dict[str, Price]:
    """Prices from an already-parsed mapping (the TOML document's shape)."""
    currency = doc.get("currency", "CNY")
    if not isinstance(currency, str) or not currency.strip():
        raise ConfigurationError(f"{source}: currency must be a non-empty string")
    prices: dict[str, Price] = {}
    for operation, table in doc.items():
        if operation == "currency":
            continue
        if not isinstance(table, Mapping):
            raise ConfigurationError(
                f"{source}: {operation!r} must be a table such as [{operation!r}] per_call = ..."
            )
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ConfigurationError(
                f"{source}: [{operation!r}] has unknown keys {unknown}; "
                "known: per_call, per_hit, currency"
            )
        if "per_call" not in table and "per_hit" not in table:
            raise ConfigurationError(f"{source}: [{operation!r}] needs per_call or per_hit")
        op_currency = table.get("currency", currency)
        if not isinstance(op_currency, str) or not op_currency.strip():
            raise ConfigurationError(f"{source}: [{operation!r}] currency must be a string")
        prices[operation] = Price(
            operation=operation,
            per_call=(
                _amount(source, operation, "per_call", table["per_call"])
                if "per_call" in table
                else None
            ),
            per_hit=(
                _amount(source, operation, "per_hit", table["per_hit"])
                if "per_hit" in table
                else None
            ),
            currency=op_currency.strip(),
        )
    return prices


def load_prices(path: str | os.PathLike[str]) -> dict[str, Price]:
    """Read a prices TOML file (see the module docstring); errors name the file and the key."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigurationError(f"{source}: no such prices file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{source}: not valid TOML ({exc})") from None
    return parse_prices(doc, source=source)
