"""Results of Sesame (Zhima) calls: attrs, frozen, masked reprs."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import attrs

from .._core.redact import mask_secret, register_secret

__all__ = ["Admittance", "AuthorizationStatus", "Grant", "SesameScore", "WatchlistResult"]


def mask_user_id(value: str) -> str:
    """An Alipay user id or open id for logs and reprs: ``2088********0001`` (first 4, last 4).

    Eight characters or fewer become ``****`` whatever their length (nothing of a short id, not
    even how long it is). The one masking rule for Sesame user ids: the demo uses it too.
    """
    if len(value) <= 8:
        return "****"
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def _mask_optional(value: str | None) -> str | None:
    return None if value is None else mask_user_id(value)


def _iso(value: _dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@attrs.frozen(slots=True, repr=False)
class Grant:
    """What ``alipay.system.oauth.token`` hands out for one user's authorization.

    ``access_token`` identifies the user in Zhima calls (sent as the ``auth_token`` parameter);
    ``refresh_token`` gets a new pair via [`SesameClient.refresh`][]. Times are UTC. Both
    tokens are secrets: ``repr()`` and ``to_dict()`` (unless asked) never show them.
    """

    access_token: str
    refresh_token: str | None
    user_id: str
    expires_at: _dt.datetime
    refresh_expires_at: _dt.datetime | None = None
    issued_at: _dt.datetime | None = None
    open_id: str | None = None

    def __attrs_post_init__(self) -> None:
        register_secret(
            self.access_token, self.refresh_token, ephemeral=True
        )  # masked by value if echoed

    def expired(self, now: _dt.datetime | None = None) -> bool:
        """True once ``expires_at`` has passed (then call ``refresh``)."""
        return (now or _dt.datetime.now(_dt.timezone.utc)) >= self.expires_at

    def to_dict(self, *, reveal_tokens: bool = False) -> dict[str, Any]:
        """Plain dict. Tokens are masked unless ``reveal_tokens=True`` (to store the grant)."""
        return {
            "access_token": self.access_token if reveal_tokens else mask_secret(self.access_token),
            "refresh_token": (
                self.refresh_token if reveal_tokens else mask_secret(self.refresh_token)
            ),
            "user_id": self.user_id,
            "open_id": self.open_id,
            "expires_at": _iso(self.expires_at),
            "refresh_expires_at": _iso(self.refresh_expires_at),
            "issued_at": _iso(self.issued_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grant:
        """Inverse of ``to_dict(reveal_tokens=True)``."""

        def when(key: str) -> _dt.datetime | None:
            value = data.get(key)
            return _dt.datetime.fromisoformat(value) if value else None

        expires_at = when("expires_at")
        if expires_at is None:
            raise ValueError("expires_at is required")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=data.get("refresh_token"),
            user_id=str(data["user_id"]),
            expires_at=expires_at,
            refresh_expires_at=when("refresh_expires_at"),
            issued_at=when("issued_at"),
            open_id=data.get("open_id"),
        )

    def __repr__(self) -> str:
        return (
            f"Grant(user_id={mask_user_id(self.user_id)!r}, access_token='<redacted>', "
            f"refresh_token={mask_secret(self.refresh_token)!r}, "
            f"expires_at={_iso(self.expires_at)!r})"
        )

    __str__ = __repr__


@attrs.frozen(slots=True)
class SesameScore:
    """``zhima.credit.score.get``: ``score`` is 350-950, or ``None`` when Zhima says "N/A"."""

    score: int | None
    biz_no: str | None
    transaction_id: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(slots=True)
class Admittance:
    """``zhima.credit.score.brief.get``: is the applicant's score at least the threshold?"""

    admitted: bool | None  # None when Zhima answers "N/A" (no score for this person)
    threshold: int
    biz_no: str | None
    transaction_id: str

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen(slots=True)
class WatchlistResult:
    """``zhima.credit.watchlist.brief.get`` (行业关注名单): is the person on the industry watchlist?

    ``level`` 0 = not on it, 1 / 2 / 3 = on it (Alipay's Javadoc: 1 e.g. a slight overdue of
    under a week, 2 over a week, 3 a serious overdue of over a month); ``None`` when Zhima answers
    "N/A" (cannot assess, e.g. no authorization).
    """

    level: int | None
    biz_no: str | None
    transaction_id: str

    @property
    def listed(self) -> bool | None:
        """True for levels 1-3, False for 0, None for "N/A"."""
        return None if self.level is None else self.level > 0

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "listed": self.listed}


@attrs.frozen(slots=True, repr=False)
class AuthorizationStatus:
    """``zhima.auth.info.authquery``: has this user authorized the app?"""

    authorized: bool
    open_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    def __repr__(self) -> str:
        return (
            f"AuthorizationStatus(authorized={self.authorized!r}, "
            f"open_id={_mask_optional(self.open_id)!r})"
        )
