"""The portable backend: pycryptodome (a core dependency, and the reference for the other)."""

from __future__ import annotations

from typing import Any

from Crypto.Cipher import AES
from Crypto.Hash import SHA1, SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import pad, unpad

NAME = "pycryptodome"
_HASHES = {"RSA2": SHA256, "RSA": SHA1}


def aes_cbc_encrypt(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    return AES.new(key, AES.MODE_CBC, iv).encrypt(pad(plaintext, 16))


def aes_cbc_decrypt(key: bytes, ciphertext: bytes, iv: bytes) -> bytes:
    """Raises ValueError on bad padding."""
    return unpad(AES.new(key, AES.MODE_CBC, iv).decrypt(ciphertext), 16)


def load_key(data: bytes) -> tuple[Any, bool]:
    """DER (PKCS#1, PKCS#8 or SubjectPublicKeyInfo) → (key, is_private); ValueError if none."""
    try:
        key = RSA.import_key(data)
    except (ValueError, IndexError, TypeError):
        raise ValueError("not an RSA key") from None
    return key, key.has_private()


def public_of(key: Any) -> Any:
    return key.public_key()


def numbers(key: Any) -> tuple[int, int]:
    return int(key.n), int(key.e)


def native_kind(key: object) -> bool | None:
    """True / False for this library's private / public RSA key; None for anything else."""
    return key.has_private() if isinstance(key, RSA.RsaKey) else None


def sign(key: Any, message: bytes, sign_type: str) -> bytes:
    return pkcs1_15.new(key).sign(_HASHES[sign_type].new(message))


def verify(public: Any, message: bytes, signature: bytes, sign_type: str) -> bool:
    try:
        pkcs1_15.new(public).verify(_HASHES[sign_type].new(message), signature)
    except (ValueError, TypeError):
        return False
    return True
