"""Crypto helpers over pycryptodome: AES-CBC envelopes, RSA (PKCS#1 v1.5) sign/verify, key loading.

No primitive is hand-written here; these functions only fix the conventions (IV placement,
padding, base64) and turn every failure into a creditsdk error.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Literal

from Crypto.Cipher import AES
from Crypto.Hash import SHA1, SHA256
from Crypto.PublicKey import RSA
from Crypto.Random import get_random_bytes
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import pad, unpad

from ..errors import ConfigurationError, ResponseIntegrityError

__all__ = [
    "aes_cbc_decrypt",
    "aes_cbc_encrypt",
    "b64decode_strict",
    "load_rsa_private_key",
    "load_rsa_public_key",
    "random_iv",
    "rsa_sign",
    "rsa_verify",
]

SignType = Literal["RSA2", "RSA"]
_HASHES = {"RSA2": SHA256, "RSA": SHA1}


def random_iv() -> bytes:
    return get_random_bytes(16)


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


def aes_cbc_encrypt(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    """AES-CBC with PKCS#7 padding. Returns ciphertext only (the caller places the IV)."""
    return AES.new(key, AES.MODE_CBC, iv).encrypt(pad(plaintext, AES.block_size))


def aes_cbc_decrypt(key: bytes, ciphertext: bytes, iv: bytes, *, what: str = "data") -> bytes:
    """Inverse of `aes_cbc_encrypt`; a wrong key, length or padding → integrity error."""
    if not ciphertext or len(ciphertext) % AES.block_size:
        raise ResponseIntegrityError(
            f"{what}: ciphertext length {len(ciphertext)} is not a positive multiple of 16"
        )
    try:
        return unpad(AES.new(key, AES.MODE_CBC, iv).decrypt(ciphertext), AES.block_size)
    except ValueError:
        raise ResponseIntegrityError(
            f"{what} could not be decrypted (wrong key or corrupted ciphertext)"
        ) from None


_PEM_RE = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.S)


def _key_bytes(value: str | bytes, which: str) -> bytes | str:
    """Accept a PEM or the bare base64 body (as providers' consoles hand it out)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{which} is empty")
    text = value.strip()
    if "-----BEGIN" in text:
        return text
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(f"{which} is neither a PEM nor a base64 key body") from None


def load_rsa_private_key(value: str | bytes, *, which: str = "private key") -> RSA.RsaKey:
    """PKCS#1 or PKCS#8, PEM or bare base64 DER. Errors name ``which``, never the key."""
    try:
        key = RSA.import_key(_key_bytes(value, which))
    except (ValueError, IndexError, TypeError):
        raise ConfigurationError(f"{which} is not a valid RSA private key") from None
    if not key.has_private():
        raise ConfigurationError(f"{which} is a public key; a private key is needed here")
    return key


def load_rsa_public_key(value: str | bytes, *, which: str = "public key") -> RSA.RsaKey:
    """X.509 SubjectPublicKeyInfo (or PKCS#1), PEM or bare base64 DER. A private key is refused."""
    try:
        key = RSA.import_key(_key_bytes(value, which))
    except (ValueError, IndexError, TypeError):
        raise ConfigurationError(f"{which} is not a valid RSA public key") from None
    if key.has_private():
        raise ConfigurationError(f"{which} is a private key; pass only the public key here")
    return key


def rsa_sign(key: RSA.RsaKey, message: bytes, sign_type: SignType = "RSA2") -> str:
    """SHA256withRSA (``RSA2``) or SHA1withRSA (``RSA``), PKCS#1 v1.5, base64."""
    digest = _HASHES[sign_type].new(message)
    return base64.b64encode(pkcs1_15.new(key).sign(digest)).decode("ascii")


def rsa_verify(
    key: RSA.RsaKey, message: bytes, signature: str, sign_type: SignType = "RSA2"
) -> bool:
    """True when ``signature`` (base64) is valid for ``message``; never raises on bad input."""
    try:
        raw = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError, AttributeError):
        return False
    try:
        pkcs1_15.new(key).verify(_HASHES[sign_type].new(message), raw)
    except (ValueError, TypeError):
        return False
    return True
