"""Reading a batch's input as a stream of rows: a CSV file, a pandas DataFrame, or any iterable
of mappings. Column names are matched to canonical names (``id_card``, ``mobile`` …) through a
few common aliases, or an explicit mapping."""

from __future__ import annotations

import codecs
import csv
import datetime as _dt
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._core.consent import Consent
from ..errors import ConfigurationError, InvalidInputError

__all__ = [
    "CONSENT_COLUMNS",
    "PERSONAL_COLUMNS",
    "InputEncodingError",
    "InputRows",
    "consent_for_row",
    "fingerprint",
    "parse_consent",
]

PERSONAL_COLUMNS = ("name", "id_card", "mobile", "card_no")
CONSENT_COLUMNS = (
    "consent_reference",
    "consent_purpose",
    "consent_granted_at",
    "consent_expires_at",
)

_ALIASES = {
    "name": ("name", "full_name", "姓名"),
    "id_card": (
        *("id_card", "idcard", "id_no", "id_number", "cert_no", "certid"),
        *("身份证号", "身份证号码", "身份证"),
    ),
    "mobile": ("mobile", "mobile_no", "phone", "phone_no", "手机号", "手机号码", "手机"),
    "card_no": ("card_no", "card", "bank_card", "cardno", "银行卡号", "卡号"),
    "trans_date": ("trans_date", "transaction_date", "交易日期"),
    "amount": ("amount", "trans_amount", "交易金额"),
}


#: The encoding offered when a file is not UTF-8 but reads cleanly in it: what Excel and WPS
#: save "CSV" as on a Chinese Windows (GB18030 is a superset of GBK and GB2312).
_SUGGESTED_ENCODING = "gb18030"
_SNIFF_BYTES = 1 << 20


class InputEncodingError(ConfigurationError):
    """The input file cannot be read in the encoding given (``encoding``).

    ``suggested`` is an encoding the whole file decodes in cleanly (``"gb18030"`` for a GBK /
    GB18030 export), or None when none of those tried does; ``row`` the input row where
    decoding failed (None: in the header, or found before reading any row)."""

    def __init__(
        self,
        message: str,
        *,
        path: str,
        encoding: str,
        suggested: str | None,
        row: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.encoding = encoding
        self.suggested = suggested
        self.row = row


def _decodes(path: str, encoding: str) -> bool:
    """Whether the whole file decodes in ``encoding`` (streamed: constant memory)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_SNIFF_BYTES):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except (UnicodeDecodeError, OSError):
        return False
    return True


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    except LookupError:
        return False


def _encoding_error(
    path: str, encoding: str, exc: UnicodeDecodeError, *, cli: bool, row: int | None = None
) -> InputEncodingError:
    # the reader decodes ahead of the rows it hands out: the bad byte is in this row or later
    where = f" (at or after input row {row})" if row is not None else ""
    what = (
        f"input {path!r} is not {'UTF-8' if _is_utf8(encoding) else encoding}{where}: "
        f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start} of the part read cannot be "
        "decoded"
    )
    suggested = None
    if _is_utf8(encoding) and _decodes(path, _SUGGESTED_ENCODING):
        suggested = _SUGGESTED_ENCODING
    if suggested is not None:
        how = f"--encoding {suggested}" if cli else f"encoding={suggested!r}"
        message = (
            f"{what}. The whole file reads cleanly as {suggested.upper()} (what Excel saves "
            f"on a Chinese Windows): run again with {how}"
        )
    else:
        how = "--encoding" if cli else "encoding="
        message = f"{what}. Give the file's encoding with {how} (e.g. gb18030, big5, utf-16)"
    return InputEncodingError(message, path=path, encoding=encoding, suggested=suggested, row=row)


def _sniff(path: str, encoding: str, *, cli: bool) -> None:
    """Decode the start of a file the runner is told is UTF-8, so that a GBK export fails
    before any row is sent (the rest is checked as it is read)."""
    if not _is_utf8(encoding):
        return
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
            decoder.decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, encoding, exc, cli=cli) from None
    except OSError:
        return  # open() below says what is wrong with the path


def _canonical_names(header: Iterable[str], mapping: Mapping[str, str] | None) -> dict[str, str]:
    """source column → canonical column (columns with no canonical name map to themselves)."""
    names = [h for h in header if h is not None]
    out = {h: h.strip() for h in names}
    explicit = dict(mapping or {})
    by_lower = {h.strip().lower(): h for h in names}
    for canonical, source in explicit.items():
        if source not in out:
            found = by_lower.get(source.strip().lower())
            if found is None:
                raise ConfigurationError(
                    f"column mapping {canonical}={source}: the input has no column {source!r}"
                )
            source = found
        out[source] = canonical
    taken = set(explicit)
    for canonical, aliases in _ALIASES.items():
        if canonical in taken:
            continue
        for alias in aliases:
            match = by_lower.get(alias)
            if match is not None and out[match] == match.strip():
                out[match] = canonical
                break
    for source in names:  # consent columns are matched case-insensitively
        lowered = source.strip().lower()
        if lowered in CONSENT_COLUMNS:
            out[source] = lowered
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # pandas NaN
            return ""
        if value.is_integer():  # a numeric column with gaps: 13800138000.0
            return str(int(value))
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return str(value)


class InputRows:
    """``for row_no, row in InputRows(source):`` rows numbered from 1, values as strings.

    ``columns`` lists the canonical column names (known after construction: the CSV header
    is read at once, an iterable's first row is peeked).
    """

    def __init__(
        self,
        source: str | os.PathLike[str] | Iterable[Mapping[str, Any]] | Any,
        *,
        encoding: str = "utf-8-sig",
        mapping: Mapping[str, str] | None = None,
        cli: bool = False,
    ) -> None:
        self._mapping = mapping
        self._path: str | None = None
        self._encoding = encoding
        self._cli = cli
        self._handle: Any = None
        self._iter: Iterator[Mapping[str, Any]]
        if isinstance(source, (str, os.PathLike)):
            path = self._path = os.fspath(source)
            try:
                _sniff(path, encoding, cli=cli)
                self._handle = open(path, newline="", encoding=encoding)  # noqa: SIM115
                reader = csv.DictReader(self._handle)
                header = reader.fieldnames
            except UnicodeDecodeError as exc:
                self.close()
                raise _encoding_error(path, encoding, exc, cli=cli) from None
            except (OSError, LookupError, csv.Error) as exc:
                self.close()
                raise ConfigurationError(
                    f"cannot read input {path!r} ({type(exc).__name__}: {exc})"
                ) from None
            if not header:
                self.close()
                raise ConfigurationError(f"input {path!r} is empty (no header row)")
            self._iter = iter(reader)
            self._names = _canonical_names(header, mapping)
            self._peeked: Mapping[str, Any] | None = None
        else:
            if hasattr(source, "itertuples") and hasattr(source, "columns"):
                source = _dataframe_rows(source)
            self._iter = iter(source)
            self._peeked = next(self._iter, None)
            header = list(self._peeked.keys()) if self._peeked is not None else []
            self._names = _canonical_names([str(h) for h in header], mapping)
        self.columns = list(dict.fromkeys(self._names.values()))

    def check_columns(self, required: Iterable[str], *, cli: bool = True) -> None:
        missing = [c for c in required if c not in self.columns]
        if missing:
            how = "--column CANONICAL=SOURCE" if cli else "columns={'CANONICAL': 'SOURCE column'}"
            raise ConfigurationError(
                f"the input has no column(s) {missing}; it has {self.columns} (map one with {how})"
            )

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        row_no = 0
        names = self._names
        try:
            if self._peeked is not None:
                row_no += 1
                yield row_no, {names.get(str(k), str(k)): _cell(v) for k, v in self._peeked.items()}
                self._peeked = None
            for raw in self._iter:
                row_no += 1
                yield (
                    row_no,
                    {names.get(str(k), str(k)): _cell(v) for k, v in raw.items() if k is not None},
                )
        except UnicodeDecodeError as exc:
            if self._path is None:  # pragma: no cover - only files are decoded here
                raise
            raise _encoding_error(
                self._path, self._encoding, exc, cli=self._cli, row=row_no + 1
            ) from None
        except csv.Error as exc:
            raise ConfigurationError(
                f"input row {row_no + 1} cannot be read ({type(exc).__name__}: {exc})"
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _dataframe_rows(frame: Any) -> Iterator[dict[str, Any]]:
    columns = [str(c) for c in frame.columns]
    for values in frame.itertuples(index=False, name=None):
        yield dict(zip(columns, values, strict=True))


def fingerprint(salt: str, row: Mapping[str, str], secret: bytes | None = None) -> str:
    """A keyed digest of a row, to notice a resumed batch whose input has changed.

    ``secret`` (kept outside the output folder, see ``_pii.load_key``) makes it an HMAC: without
    the key, nothing in the output folder can check a guessed ID or card against it. ``None``
    is the unkeyed digest of ledgers written before keyed fingerprints.
    """
    if secret is not None:
        h = hashlib.blake2b(salt.encode("ascii"), digest_size=16, key=secret[:64])
    else:
        h = hashlib.blake2b(salt.encode("ascii"), digest_size=12)
    for key in sorted(row):
        h.update(key.encode("utf-8", "replace") + b"\0")
        h.update(row[key].strip().encode("utf-8", "replace") + b"\x01")
    return h.hexdigest()


def _datetime(value: str, field: str) -> _dt.datetime:
    try:
        return _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            "must be an ISO date-time (e.g. 2026-11-01T09:00)", field=field, rule="format"
        ) from None


def parse_consent(
    reference: str | None,
    purpose: str | None,
    granted_at: str | _dt.datetime | None,
    expires_at: str | _dt.datetime | None = None,
    *,
    field_prefix: str = "consent",
) -> Consent:
    """A Consent from strings (CLI options or CSV cells)."""
    if not granted_at:
        raise InvalidInputError("is empty", field=f"{field_prefix}_granted_at", rule="required")
    granted = (
        granted_at
        if isinstance(granted_at, _dt.datetime)
        else _datetime(granted_at, f"{field_prefix}_granted_at")
    )
    expires = None
    if expires_at:
        expires = (
            expires_at
            if isinstance(expires_at, _dt.datetime)
            else _datetime(expires_at, f"{field_prefix}_expires_at")
        )
    return Consent(
        reference=reference or "",
        purpose=purpose or "",
        granted_at=granted,
        expires_at=expires,
    )


def consent_for_row(row: Mapping[str, str], default: Consent | None) -> Consent | None:
    """The row's own consent when it has a ``consent_reference``, else the run's."""
    reference = row.get("consent_reference", "").strip()
    if not reference:
        return default
    if not row.get("consent_granted_at", "").strip():
        raise InvalidInputError(
            "is empty in this row, which has a consent_reference: fill the consent_granted_at "
            "column with the ISO date-time the applicant's consent was granted "
            "(e.g. 2026-11-01T09:00)",
            field="consent_granted_at",
            rule="required",
        )
    return parse_consent(
        reference,
        row.get("consent_purpose", "").strip() or (default.purpose if default else ""),
        row.get("consent_granted_at", "").strip(),
        row.get("consent_expires_at", "").strip() or None,
    )
