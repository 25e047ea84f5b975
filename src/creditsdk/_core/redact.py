"""Masking of personal data and secrets: the one pass every outgoing string goes through.

`scrub_text` is the pass. Exception messages (at construction), the SDK's log records and
httpx's, audit events and the batch writer's cells all go through it. It masks, in this order:

1. values the caller knows — the client's own secrets (registered with
   `register_secret` when a client is built, or passed as ``secrets=``), the applicant's
   names and numbers (``names=``, ``values=``) — raw, URL-encoded and JSON-escaped;
2. personal numbers found by pattern (`personal_kind` says what a run of digits is):

   * an **ID number**: 18 characters (17 digits and a digit or ``X``) or 15 legacy digits,
     with a known province prefix (11–15, 21–23, 31–37, 41–46, 50–54, 61–65, 71, 81–83)
     and a real birth date; the check digit is not required (a mistyped echo is still personal);
   * a **mobile**: ``1[3-9]`` and 9 digits, alone or after ``86`` / ``0086``;
   * a **card number**: 13–19 digits, Luhn or not, starting with an issuer prefix — 3, 4, 5, 6
     or 9, or 2221–2720 (Mastercard's 2-series).

   A number is a maximal run of digits: letters, punctuation and spaces end it, so a card glued
   to letters inside a transaction id (``TY6222020000000000000X``) is found, but digits glued to
   more digits are one longer number that is none of the above and is left alone. That is what
   keeps a 13-digit millisecond timestamp (it starts with ``1``), a ``yyyymmddHHMMSS`` stamp
   (``19…``/``20…``) and the digit body of a provider's transaction id readable. Digit groups
   separated by single spaces or dashes (``6222 0200 0000 0000 000``, ``138-0013-8000``) are
   joined first and masked when the joined number is personal.

Values are masked *before* any truncation (`scrub_text` ``limit=``), so a cut can never
split a value out of the mask's reach.
"""

from __future__ import annotations

import datetime as _dt
import functools
import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from json.encoder import (  # json.dumps of one str is these, without its option checks
    encode_basestring,
    encode_basestring_ascii,
)
from urllib.parse import quote, quote_plus, unquote

__all__ = [
    "RedactingFilter",
    "SentValues",
    "looks_personal",
    "mask_card",
    "mask_id_card",
    "mask_mobile",
    "mask_name",
    "mask_personal",
    "mask_secret",
    "personal_kind",
    "redact_text",
    "register_secret",
    "scrub_text",
]

REDACTED = "<redacted>"


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
    return REDACTED


# -- what a number is ---------------------------------------------------------------------------

_PROVINCES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)


def _ascii_digits(text: str) -> str:
    """Unicode decimal digits (full-width, Arabic-Indic …) and a full-width X as ASCII."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() else _WIDE_X.get(ch, ch) for ch in text
    )


_WIDE_X = {"Ｘ": "X", "ｘ": "x"}


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        _dt.date(year, month, day)
    except ValueError:
        return False
    return True


def _looks_like_id18(v: str) -> bool:
    return (
        len(v) == 18
        and v[:17].isdigit()
        and (v[17].isdigit() or v[17] in "Xx")
        and int(v[:2]) in _PROVINCES
        and 1850 <= int(v[6:10]) <= 2100
        and _is_date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    )


def _looks_like_id15(v: str) -> bool:
    return (
        len(v) == 15
        and v.isdigit()
        and int(v[:2]) in _PROVINCES
        and _is_date(1900 + int(v[6:8]), int(v[8:10]), int(v[10:12]))
    )


def _looks_like_card(v: str) -> bool:
    if not (13 <= len(v) <= 19 and v.isdigit()):
        return False
    return v[0] in "34569" or 2221 <= int(v[:4]) <= 2720


def _mobile_offset(v: str) -> int | None:
    """Where the mobile starts in ``v`` (0, or 2/4 after a country code), or None."""
    for prefix in ("", "86", "0086"):
        rest = v[len(prefix) :]
        if (
            v.startswith(prefix)
            and len(rest) == 11
            and rest.isdigit()
            and rest[0] == "1"
            and rest[1] in "3456789"
        ):
            return len(prefix)
    return None


def personal_kind(value: str) -> str | None:
    """``"id_card"``, ``"mobile"`` or ``"card_no"`` when ``value`` (one number, ASCII or not,
    without separators) is shaped like one (see the module docstring), else None."""
    v = _ascii_digits(value)
    if _looks_like_id18(v) or _looks_like_id15(v):
        return "id_card"
    if _mobile_offset(v) is not None:
        return "mobile"
    if _looks_like_card(v):
        return "card_no"
    return None


_SEPARATORS = re.compile(r"[\s\-]+")


def looks_personal(value: object) -> bool:
    """True when a whole value — a CSV cell, say — is an ID number, mobile or card number.

    Spaces and dashes inside it are ignored (``138-0013-8000``), as is a ``+`` before ``86``.
    """
    if not isinstance(value, str):
        return False
    v = _SEPARATORS.sub("", value.strip()).lstrip("+")
    return bool(v) and personal_kind(v) is not None


def mask_personal(value: str) -> str:
    """The masked form of one number `personal_kind` recognises; anything else is
    returned as is. Spaces and dashes are dropped from a recognised number."""
    v = _ascii_digits(_SEPARATORS.sub("", value.strip()))
    plus = v.startswith("+")
    v = v.lstrip("+")
    kind = personal_kind(v)
    if kind == "id_card":
        return mask_id_card(v)
    if kind == "mobile":
        at = _mobile_offset(v) or 0
        return ("+" if plus else "") + v[:at] + mask_mobile(v[at:])
    if kind == "card_no":
        return mask_card(v)
    return value


# -- secrets known by value ----------------------------------------------------------------------

_MAX_SECRETS = 1024  # per pool
# Two pools, each keeping its most recent values: a client's credentials, and tokens (which come
# and go, one per user or per fetch). A long-lived client's key must not be pushed out by a
# batch's worth of access tokens.
_secrets: OrderedDict[str, tuple[str, ...]] = OrderedDict()  # value -> its forms, longest first
_tokens: OrderedDict[str, tuple[str, ...]] = OrderedDict()
_secrets_lock = threading.Lock()
_version = 0  # bumped by every registration that changes a pool
_pattern: re.Pattern[str] | None = None
_pattern_version = -1
_MIN_SECRET = 6  # shorter strings would mask ordinary words


def register_secret(*values: str | bytes | None, ephemeral: bool = False) -> None:
    """Mask these values (keys, tokens, private-key text) by value in every outgoing string.

    Clients register their own credentials when built; ``ephemeral=True`` marks tokens. Kept in
    memory only, the most recent 1024 of each kind, so tokens never push a credential out;
    values shorter than 6 characters are ignored. A PEM key is registered line by line, and as
    one base64 body.
    """
    global _version
    pool = _tokens if ephemeral else _secrets
    for value in values:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not value:
            continue
        parts = {value.strip()}
        if "\n" in value or "-----" in value:
            body = [ln.strip() for ln in value.splitlines() if ln.strip() and "-----" not in ln]
            parts.update(body)
            parts.add("".join(body))
        with _secrets_lock:
            for part in parts:
                if len(part) >= _MIN_SECRET:
                    if part not in pool:
                        pool[part] = tuple(sorted(_forms(part), key=len, reverse=True))
                        _version += 1
                    pool.move_to_end(part)
            while len(pool) > _MAX_SECRETS:
                pool.popitem(last=False)
                _version += 1


def _forms(value: str) -> set[str]:
    """The value as it may appear in a message: raw, URL-encoded (``quote`` and ``quote_plus``),
    JSON-escaped (as ``json.dumps`` writes it, with and without ``ensure_ascii``)."""
    if value.isascii() and value.isalnum():
        return {value}  # letters and digits only: every encoded form is the value itself
    quoted = quote(value, safe="")
    forms = {
        value,
        quoted,
        # quote_plus differs from quote only where it writes a space as "+"
        quote_plus(value) if " " in value else quoted,
        # json.dumps(str) is these two (its C encoder) between quotes
        encode_basestring(value)[1:-1],
        encode_basestring_ascii(value)[1:-1],
    }
    return {f for f in forms if f}


# -- the pass ------------------------------------------------------------------------------------

# A number: digits, optionally in groups joined by one space or dash, optionally ending in X
# (ID numbers). Unicode digits count (a full-width echo is masked too).
_NUMBER_RE = re.compile(r"(?<!\d)\d(?:[ \-]?\d){10,}[XxＸｘ]?")
_RUN_RE = re.compile(r"\d+[XxＸｘ]?")
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}")
_DIGIT_RE = re.compile(r"\d")
_PLACEHOLDER_BASE = 0xF0000  # Supplementary Private Use Area-A: never in a provider's answer
_PLACEHOLDERS = re.compile("[\U000f0000-\U000f00ff]")


def _mask_one(run: str) -> str:
    # Every personal number is 11 (a mobile) to 19 (a card) characters long.
    body = run if run[-1].isdecimal() else run[:-1]
    if not 11 <= len(body) <= 19:
        return run
    masked = mask_personal(run)
    if masked == run and body != run:  # an X that does not end an ID number
        return mask_personal(body) + run[-1]
    return masked


def _mask_number(match: re.Match[str]) -> str:
    token = match.group(0)
    if len(token) < 11:
        return token
    if " " in token or "-" in token:
        joined = token.replace(" ", "").replace("-", "")
        if 11 <= len(joined) <= 19 and personal_kind(joined) is not None:
            return mask_personal(joined)
        return _RUN_RE.sub(lambda m: _mask_one(m.group(0)), token)
    return _mask_one(token)


# What to replace for a set of known values: per value (longest first), its forms (longest
# first), the value and how to mask it (only when a form is found).
_Plan = tuple[tuple[tuple[str, ...], str, Callable[[str], str]], ...]


def _plan(values: Iterable[str], mask: Callable[[str], str]) -> _Plan:
    return tuple(
        (tuple(sorted(_forms(value), key=len, reverse=True)), value, mask)
        for value in sorted(set(values), key=len, reverse=True)
    )


def _replace_known(text: str, plan: _Plan, replacement: Callable[[str], str] | None = None) -> str:
    for forms, value, mask in plan:
        for form in forms:
            if form in text:
                masked = mask(value)
                text = text.replace(form, masked if replacement is None else replacement(masked))
    return text


class SentValues:
    """The personal values one call sent (``names``; ``values`` — ID number, mobile, card), for
    `scrub_text` ``sent=``: every form of each a provider could echo back (plain, URL-quoted,
    ``quote_plus``, JSON-escaped, upper and lower case) is worked out once, on the first scrub
    that could find one, not on every scrub. The repr shows counts only."""

    __slots__ = ("_name_plan", "_names", "_value_plan", "_values")

    def __init__(self, names: Iterable[str | None] = (), values: Iterable[str | None] = ()):
        self._names = tuple(n.strip() for n in names if n and n.strip())
        self._values = tuple(f for v in values if v for f in {v, v.lower(), v.upper()})  # ``…x``
        # Worked out on first use (two threads racing there compute the same thing).
        self._value_plan: _Plan | None = None
        self._name_plan: _Plan | None = None

    def __bool__(self) -> bool:
        return bool(self._names or self._values)

    def value_plan(self, text: str | None = None) -> _Plan:
        """What to replace for the values, and by what; ``()`` when ``text`` cannot hold any
        form of any of them (the common answer, ``"成功"``: the forms are not worked out)."""
        plan = self._value_plan
        if plan is not None or not self._values:
            return plan or ()
        if text is not None and not _may_hold_a_form(text, self._values):
            return ()
        plan = self._value_plan = _plan(self._values, mask_personal_or_stars)
        return plan

    def name_plan(self, text: str | None = None) -> _Plan:
        """What to replace for the names, and by what; ``()`` when ``text`` cannot hold any
        form of any of them."""
        plan = self._name_plan
        if plan is not None or not self._names:
            return plan or ()
        if text is not None and not _may_hold_a_form(text, self._names):
            return ()  # nothing to find: the forms are not even worked out
        plan = self._name_plan = _plan(self._names, mask_name)
        return plan

    def plans(self) -> tuple[_Plan, _Plan]:
        """(values, names): what to replace, and by what."""
        return self.value_plan(), self.name_plan()

    def __repr__(self) -> str:
        return f"SentValues(<{len(self._names)} names>, <{len(self._values)} values>)"


_NOTHING_SENT = SentValues()


def _may_hold_a_form(text: str, values: tuple[str, ...]) -> bool:
    """False only when no form `_forms` gives of any of ``values`` can be in ``text``: each
    form is the value itself, or holds a ``%`` (URL-quoted), a ``+`` (a space, quote_plus) or
    a backslash (JSON-escaped)."""
    return "%" in text or "+" in text or "\\" in text or any(v in text for v in values)


def _redacted(_value: str) -> str:
    return REDACTED


def _registered_pattern() -> re.Pattern[str] | None:
    """One regex for every form of every registered secret, rebuilt after a registration."""
    global _pattern, _pattern_version
    with _secrets_lock:
        if _pattern_version != _version:
            pools = (*_secrets.values(), *_tokens.values())
            forms = sorted({f for fs in pools for f in fs}, key=len, reverse=True)
            _pattern = re.compile("|".join(map(re.escape, forms))) if forms else None
            _pattern_version = _version
        return _pattern


def _scrub(text: str, secrets: _Plan, sent: SentValues) -> str:
    pattern = _registered_pattern()
    if pattern is not None and len(text) >= _MIN_SECRET:
        text = pattern.sub(REDACTED, text)
    if secrets:
        text = _replace_known(text, secrets)
    held: list[str] = []
    values = sent.value_plan(text)
    if values:
        if _PLACEHOLDERS.search(text):  # cannot use placeholders: mask in place
            text = _replace_known(text, values)
        else:
            # A placeholder (one private-use character) ends the digit run, so a number glued
            # to a known value (``6222…`` + ``1101…``) is still seen as a number of its own.
            def hold(masked: str) -> str:
                held.append(masked)
                return chr(_PLACEHOLDER_BASE + len(held) - 1)

            text = _replace_known(text, values, hold)
    names = sent.name_plan(text)
    if names:
        text = _replace_known(text, names)
    if _DIGIT_RE.search(text):
        text = _NUMBER_RE.sub(_mask_number, text)
    for i, masked in enumerate(held):
        text = text.replace(chr(_PLACEHOLDER_BASE + i), masked)
    return text


def scrub_text(
    text: str,
    secrets: Iterable[str | None] = (),
    *,
    names: Iterable[str | None] = (),
    values: Iterable[str | None] = (),
    sent: SentValues | None = None,
    limit: int | None = None,
) -> str:
    """Mask every secret and personal value in ``text`` (see the module docstring).

    ``secrets`` are replaced by ``<redacted>`` (so are the registered ones), ``names`` by their
    masked form (``张*``), ``values`` — the applicant's ID number, mobile, card as sent — by
    theirs. ``sent``: the names and values of a call as a `SentValues`, whose forms are worked
    out once for all its scrubs (instead of ``names=`` and ``values=``). Then numbers are masked
    by pattern. ``limit`` truncates the result (with ``…``), after masking.
    """
    if not isinstance(text, str):
        text = str(text)
    if sent is None:
        sent = SentValues(names, values) if names or values else _NOTHING_SENT
    elif names or values:
        raise TypeError("pass sent= or names=/values=, not both")
    secret_plan: _Plan = ()
    if secrets:
        known_secrets = [s for s in secrets if s and len(s) >= _MIN_SECRET]
        secret_plan = _plan(known_secrets, _redacted)
    if "%" in text and _PERCENT_RE.search(text):
        # URL-encoding glues hex digits to the value (``%226222…%22``) and hides names: look
        # at the decoded text, and keep it (masked) if anything in it needed masking.
        decoded = unquote(text)
        cleaned = _scrub(decoded, secret_plan, sent)
        text = cleaned if cleaned != decoded else _scrub(text, secret_plan, sent)
    else:
        text = _scrub(text, secret_plan, sent)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def mask_personal_or_stars(value: str) -> str:
    """`mask_personal`, or stars of the same length for a value it does not recognise."""
    masked = mask_personal(value)
    return masked if masked != value else "*" * len(value)


def redact_text(text: str) -> str:
    """Mask ID numbers, mobiles, card numbers and registered secrets found in ``text``.

    The pattern half of `scrub_text`, kept under its old name.
    """
    return scrub_text(text)


@functools.lru_cache(maxsize=1)
def _plain_formatter() -> logging.Formatter:
    return logging.Formatter()


class RedactingFilter(logging.Filter):
    """A logging filter that masks ID numbers, mobiles, card numbers and the clients' secrets
    in every record (message, arguments and traceback text).

    The SDK attaches it to its own loggers and to ``httpx``'s; attach it to handlers that also
    see records from your code or from other libraries:

    ```python
    handler.addFilter(RedactingFilter())
    ```
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_creditsdk_scrubbed", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave the record to logging's own handling
            return True
        redacted = scrub_text(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _plain_formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        record._creditsdk_scrubbed = True
        return True


_LOGGERS = ("creditsdk", "creditsdk.audit", "creditsdk.batch", "httpx")
_installed: set[str] = set()


def install_log_filters(*names: str) -> None:
    """Attach a `RedactingFilter` to the SDK's loggers and httpx's (idempotent).

    A logger's filters only see records logged on that very logger, so each is named.
    """
    for name in names or _LOGGERS:
        if name in _installed:
            continue
        logging.getLogger(name).addFilter(RedactingFilter())
        _installed.add(name)


# The SDK's own loggers mask from the start (a record of ours is never shown unmasked, even
# before a client exists); httpx's logger is another library's: filtered on first use only.
install_log_filters(*(name for name in _LOGGERS if name.startswith("creditsdk")))
