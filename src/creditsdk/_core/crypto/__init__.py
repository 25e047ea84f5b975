"""Crypto helpers: AES-CBC envelopes, RSA (PKCS#1 v1.5) sign/verify, key loading.

No primitive is hand-written here; these functions only fix the conventions (IV placement,
padding, base64) and turn every failure into a creditsdk error.

Two backends give byte-identical results: OpenSSL through the ``cryptography`` package (used
when it is installed, e.g. ``pip install 'creditsdk[fast]'``: RSA sign/verify ~4x faster) and
pycryptodome (a core dependency: the portable default and the reference). The backend is
chosen once, at first use, and neither is imported before that. ``CREDITSDK_CRYPTO=openssl``
or ``=pycryptodome`` forces one (``auto``, the default, prefers OpenSSL); `use_backend` does the
same from code. A key stays with the backend that loaded it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, final

from ...errors import ConfigurationError, ResponseIntegrityError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "RsaKey",
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "b64decode_strict",
    "backend_name",
    "load_rsa_private_key",
    "load_rsa_public_key",
    "public_key_from_der",
    "random_iv",
    "rsa_sign",
    "rsa_verify",
    "use_backend",
]

SignType = Literal["RSA2", "RSA"]
#: The environment variable that forces a backend (read once, at first use).
ENV_VAR = "CREDITSDK_CRYPTO"
#: Backend names `use_backend` and ``CREDITSDK_CRYPTO`` accept (besides ``auto``).
BACKENDS = ("openssl", "pycryptodome")
_SIGN_TYPES = ("RSA2", "RSA")
_AES_KEY_SIZES = (16, 24, 32)

_log = logging.getLogger("creditsdk")


class _Backend(Protocol):
    """What `_pycryptodome` and `_openssl` both provide. Failures are ValueError / False."""

    NAME: str

    def aes_cbc_encrypt(self, key: bytes, plaintext: bytes, iv: bytes) -> bytes: ...
    def aes_cbc_decrypt(self, key: bytes, ciphertext: bytes, iv: bytes) -> bytes: ...
    def load_key(self, data: bytes) -> tuple[Any, bool]: ...
    def public_of(self, key: Any) -> Any: ...
    def numbers(self, key: Any) -> tuple[int, int]: ...
    def native_kind(self, key: object) -> bool | None: ...
    def sign(self, key: Any, message: bytes, sign_type: str) -> bytes: ...
    def verify(self, public: Any, message: bytes, signature: bytes, sign_type: str) -> bool: ...


_selected: _Backend | None = None


def _import(name: str) -> _Backend:
    module: ModuleType
    if name == "openssl":
        from . import _openssl as module
    else:
        from . import _pycryptodome as module
    return cast(_Backend, module)


def _resolve(name: str) -> _Backend:
    choice = name.strip().lower()
    if choice in ("", "auto"):
        try:
            return _import("openssl")
        except ImportError:
            return _import("pycryptodome")
    if choice == "openssl":
        try:
            return _import("openssl")
        except ImportError:
            raise ConfigurationError(
                f"{ENV_VAR}=openssl needs the 'cryptography' package (>= 42): "
                "pip install 'creditsdk[fast]'"
            ) from None
    if choice == "pycryptodome":
        return _import("pycryptodome")
    raise ConfigurationError(
        f"{ENV_VAR}={name[:40]!r} is not a crypto backend: use 'openssl', 'pycryptodome' or 'auto'"
    )


def _select(name: str | None) -> _Backend:
    global _selected
    chosen = _resolve(os.environ.get(ENV_VAR, "") if name is None else name)
    _selected = chosen
    _log.debug("creditsdk crypto backend: %s", chosen.NAME)
    return chosen


def _backend() -> _Backend:
    return _selected if _selected is not None else _select(None)


def use_backend(name: str | None) -> str:
    """Select the backend for keys loaded and AES calls made from now on; returns its name.

    ``None`` re-reads ``CREDITSDK_CRYPTO`` (unset or ``auto``: OpenSSL when ``cryptography``
    is installed, else pycryptodome). An unknown name, or ``openssl`` without
    ``cryptography``, is a ConfigurationError naming it. Keys already loaded keep theirs.
    """
    return _select(name).NAME


def backend_name() -> str:
    """The backend in use (``"openssl"`` or ``"pycryptodome"``), choosing it if not yet done."""
    return _backend().NAME


def random_iv() -> bytes:
    return os.urandom(16)


def b64decode_strict(data: str | bytes, *, what: str = "data") -> bytes:
    """Standard base64 with padding; whitespace tolerated; anything else is an integrity error."""
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            raise ResponseIntegrityError(f"{what} is not base64") from None
    try:
        return base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ResponseIntegrityError(f"{what} is not valid base64") from None


def _check_aes(key: bytes, iv: bytes) -> None:
    if len(key) not in _AES_KEY_SIZES:
        raise ConfigurationError(f"AES key must be 16, 24 or 32 bytes, got {len(key)}")
    if len(iv) != 16:
        raise ConfigurationError(f"AES-CBC IV must be 16 bytes, got {len(iv)}")


def aes_cbc_encrypt(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding. Returns ciphertext only (the caller places the IV)."""
    _check_aes(key, iv)
    return _backend().aes_cbc_encrypt(key, plaintext, iv)


def aes_cbc_decrypt(key: bytes, ciphertext: bytes, iv: bytes, *, what: str = "data") -> bytes:
    """Inverse of `aes_cbc_encrypt`; a wrong key, length or padding → integrity error."""
    _check_aes(key, iv)
    if not ciphertext or len(ciphertext) % 16:
        raise ResponseIntegrityError(
            f"{what}: ciphertext length {len(ciphertext)} is not a positive multiple of 16"
        )
    try:
        return _backend().aes_cbc_decrypt(key, ciphertext, iv)
    except ValueError:
        raise ResponseIntegrityError(
            f"{what} could not be decrypted (wrong key or corrupted ciphertext)"
        ) from None


# -- RSA -----------------------------------------------------------------------------------------


@final
class RsaKey:
    """An RSA key, private or public, held by the backend that loaded it (which also signs and
    verifies with it). ``n`` and ``e`` are the public numbers; ``repr()`` shows no key material.
    """

    __slots__ = ("_backend", "_native", "_private", "_public")

    def __init__(self, backend: _Backend, native: Any, private: bool) -> None:
        self._backend = backend
        self._native = native
        self._private = private
        self._public = backend.public_of(native) if private else native

    @property
    def n(self) -> int:
        return self._backend.numbers(self._public)[0]

    @property
    def e(self) -> int:
        return self._backend.numbers(self._public)[1]

    @property
    def backend(self) -> str:
        return self._backend.NAME

    def has_private(self) -> bool:
        return self._private

    def public_key(self) -> RsaKey:
        return self if not self._private else RsaKey(self._backend, self._public, False)

    def __eq__(self, other: object) -> bool:
        """Equal when both are private or both public with the same ``n`` and ``e`` (``n``
        and ``e`` fix the private exponent), whichever backend loaded them."""
        if type(other) is not RsaKey:
            return NotImplemented
        return (self._private, self.n, self.e) == (other._private, other.n, other.e)

    def __hash__(self) -> int:
        return hash((self._private, self.n, self.e))

    def __repr__(self) -> str:
        kind = "private" if self._private else "public"
        return f"<RsaKey {self.n.bit_length()}-bit {kind} ({self._backend.NAME})>"


def _wrap(key: object) -> RsaKey:
    """Our key as is; a pycryptodome or ``cryptography`` RSA key object wrapped for its own
    library (so callers that built keys themselves keep working)."""
    if type(key) is RsaKey:
        return key
    module = type(key).__module__
    name = "pycryptodome" if module.startswith("Crypto.") else "openssl"
    if module.startswith(("Crypto.", "cryptography")):
        backend = _import(name)
        private = backend.native_kind(key)
        if private is not None:
            return RsaKey(backend, key, private)
    raise ConfigurationError(f"not an RSA key: {type(key).__name__}")


_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def _key_der(value: str | bytes, which: str) -> bytes:
    """Accept a PEM or the bare base64 body (as providers' consoles hand it out)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{which} is empty")
    text = value.strip()
    if "-----BEGIN" in text:
        match = _PEM_RE.search(text)
        if match is None:
            raise ConfigurationError(f"{which} is not a complete PEM block")
        # Header lines (``Proc-Type: 4,ENCRYPTED`` …) are not base64: such a key fails below.
        text = "".join(line for line in match.group(2).split() if ":" not in line)
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{which} is neither a PEM nor a base64 key body") from None


def _load(der: bytes, which: str, kind: str) -> RsaKey:
    backend = _backend()
    try:
        native, private = backend.load_key(der)
    except ValueError:
        raise ConfigurationError(f"{which} is not a valid RSA {kind} key") from None
    return RsaKey(backend, native, private)


def load_rsa_private_key(value: str | bytes, *, which: str = "private key") -> RsaKey:
    """PKCS#1 or PKCS#8, PEM or bare base64 DER. Errors name ``which``, never the key."""
    key = _load(_key_der(value, which), which, "private")
    if not key.has_private():
        raise ConfigurationError(f"{which} is a public key; a private key is needed here")
    return key


def load_rsa_public_key(value: str | bytes, *, which: str = "public key") -> RsaKey:
    """X.509 SubjectPublicKeyInfo (or PKCS#1), PEM or bare base64 DER. A private key is refused."""
    return public_key_from_der(_key_der(value, which), which=which)


def public_key_from_der(der: bytes, *, which: str = "public key") -> RsaKey:
    """`load_rsa_public_key` for DER bytes already in hand (e.g. from a certificate)."""
    key = _load(der, which, "public")
    if key.has_private():
        raise ConfigurationError(f"{which} is a private key; pass only the public key here")
    return key


def rsa_sign(key: RsaKey, message: bytes, sign_type: SignType = "RSA2") -> str:
    """SHA256withRSA (``RSA2``) or SHA1withRSA (``RSA``), PKCS#1 v1.5, base64."""
    key = _wrap(key)
    if not key._private:
        raise ConfigurationError("a public key cannot sign: pass the private key")
    if sign_type not in _SIGN_TYPES:
        raise ConfigurationError(f"sign_type must be 'RSA2' or 'RSA', not {sign_type!r}")
    raw = key._backend.sign(key._native, message, sign_type)
    return base64.b64encode(raw).decode("ascii")


def rsa_verify(key: RsaKey, message: bytes, signature: str, sign_type: SignType = "RSA2") -> bool:
    """True when ``signature`` (base64) is valid for ``message``; never raises on bad input."""
    try:
        raw = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        return False
    if sign_type not in _SIGN_TYPES:
        return False
    key = _wrap(key)
    return key._backend.verify(key._public, message, raw, sign_type)
