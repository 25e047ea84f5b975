"""Personal data in a batch's files: the fingerprint key (kept outside the output folder), the
``pii`` modes of the output, and masking of passthrough cells that look like personal values.

Nothing the runner writes lets anyone recover an ID number, mobile or card number faster than
guessing the whole space: fingerprints and ``pii="hmac"`` cells are HMAC-SHA256 under a key in
the user's config directory (``$CREDITSDK_CONFIG_DIR``, else ``$XDG_CONFIG_HOME/creditsdk``,
else ``~/.config/creditsdk``), never in the run folder; masked values keep too little to be
checked against anything in the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

from .._core.redact import mask_card, mask_id_card, mask_mobile, mask_name
from ..errors import ConfigurationError

__all__ = [
    "KEY_FILE",
    "PII_MODES",
    "PiiPolicy",
    "default_key_dir",
    "load_key",
    "private_file",
]

PII_MODES = ("mask", "drop", "hmac")
KEY_FILE = "batch-fingerprint.key"

_MASKERS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "id_card": mask_id_card,
    "mobile": mask_mobile,
    "card_no": mask_card,
}

# Cells that look like a resident ID (18 or 15 digits), a mainland mobile or a card number,
# anywhere in the text (digits-bounded). Longest first.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_MOBILE_RE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_CARD_RE = re.compile(r"(?<!\d)\d{12,19}(?!\d)")
_SPACED_CARD_RE = re.compile(r"(?<!\d)\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,3})?(?!\d)")


def default_key_dir() -> Path:
    env = os.environ.get("CREDITSDK_CONFIG_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return base / "creditsdk"


def private_file(path: str) -> None:
    """Create ``path`` (if missing) readable and writable by its owner only; tighten it if it
    exists. Files SQLite makes beside a database (``-wal``, ``-shm``) copy its mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)


def load_key(key_dir: str | os.PathLike[str] | None, *, output: str) -> bytes:
    """The fingerprint key from ``key_dir`` (default `default_key_dir`), made on first use.

    Refused inside the output folder: a key beside the ledger would undo what it protects.
    """
    folder = Path(key_dir) if key_dir is not None else default_key_dir()
    try:
        resolved = folder.resolve()
        out = Path(output).resolve()
    except OSError as exc:  # pragma: no cover - unresolvable paths
        raise ConfigurationError(f"fingerprint key folder {folder}: {exc}") from None
    if resolved == out or out in resolved.parents:
        raise ConfigurationError(
            "the fingerprint key must be kept outside the output folder (key_dir= / "
            "CREDITSDK_CONFIG_DIR): a key beside the ledger would let anyone check guesses"
        )
    path = folder / KEY_FILE
    try:
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except FileExistsError:  # another run made it at the same moment
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"cannot use the fingerprint key {path} ({type(exc).__name__}); set key_dir= "
            "(or CREDITSDK_CONFIG_DIR) to a private folder"
        ) from None
    if len(key) < 16:
        raise ConfigurationError(f"the fingerprint key {path} is too short")
    return key


def key_id(key: bytes) -> str:
    """Names the key in the ledger (so a resume with another key is noticed) without revealing
    anything usable about it."""
    return hmac.new(key, b"creditsdk-batch-key-id", hashlib.sha256).hexdigest()[:16]


class PiiPolicy:
    """How personal values are written to the ledger and the output.

    ``mode``: ``"mask"`` (default: masked like the SDK's reprs), ``"drop"`` (personal columns
    left out) or ``"hmac"`` (a keyed HMAC: rows of the same person match, nothing can be
    recovered). ``raw_columns``: input columns the user passes through unmasked on purpose.
    """

    def __init__(self, mode: str, key: bytes, raw_columns: tuple[str, ...] = ()) -> None:
        if mode not in PII_MODES:
            raise ConfigurationError(f"pii must be one of {', '.join(PII_MODES)}, not {mode!r}")
        self.mode = mode
        self._key = key
        self.raw_columns = frozenset(raw_columns)

    def digest(self, value: str) -> str:
        return hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def personal(self, column: str, value: str) -> str | None:
        """A known personal column's cell as stored (``None``: dropped)."""
        if self.mode == "drop":
            return None
        if not value:
            return ""
        if self.mode == "hmac":
            return self.digest(f"{column}\0{value.strip().upper()}")
        return _MASKERS[column](value)

    def passthrough(self, column: str, value: str) -> str:
        """Any other input cell: values that look like an ID number, mobile or card number are
        masked (or HMAC'd), unless the column is one of ``raw_columns``."""
        if not value or column in self.raw_columns or not any(c.isdigit() for c in value):
            return value
        if self.mode == "hmac":

            def sub(m: re.Match[str]) -> str:
                return "hmac:" + self.digest(re.sub(r"\D", "", m.group(0)))

            for pattern in (_ID_RE, _SPACED_CARD_RE, _MOBILE_RE, _CARD_RE):
                value = pattern.sub(sub, value)
            return value
        value = _ID_RE.sub(lambda m: mask_id_card(m.group(0)), value)
        value = _SPACED_CARD_RE.sub(lambda m: mask_card(re.sub(r"\D", "", m.group(0))), value)
        value = _MOBILE_RE.sub(lambda m: m.group(0)[:-11] + mask_mobile(m.group(0)[-11:]), value)
        return _CARD_RE.sub(lambda m: mask_card(m.group(0)), value)

    def masked_prepared(
        self, masked: Mapping[str, str], prepared_raw: Mapping[str, str]
    ) -> dict[str, str]:
        """The operation's own masked view of the person, in this policy's mode."""
        if self.mode == "mask":
            return dict(masked)
        out: dict[str, str] = {}
        for k, v in masked.items():
            if k in _MASKERS:
                if self.mode == "hmac":
                    out[k] = self.digest(f"{k}\0{prepared_raw.get(k, '').strip().upper()}")
            else:
                out[k] = v
        return out
