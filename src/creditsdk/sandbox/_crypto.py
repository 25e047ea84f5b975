"""The Sandbox's own crypto primitives: OpenSSL (the ``cryptography`` package) when it is
installed, pycryptodome otherwise.

Deliberately not the client's ``creditsdk._core.crypto``: the Sandbox is the other side of each
protocol, written from the spec, so a client that works against it agrees with the spec rather
than with its own code. Both libraries implement the same standards (AES-CBC with PKCS#7
padding; RSA PKCS#1 v1.5, which is deterministic), so either gives the same bytes; OpenSSL is
several times faster, which keeps the Sandbox's CPU per request small.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AesCbc", "RsaVerifier", "openssl_available"]

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
except ImportError:  # pragma: no cover - the portable path (pycryptodome)
    _OPENSSL = False
else:
    _OPENSSL = True


def openssl_available() -> bool:
    return _OPENSSL


class AesCbc:
    """AES-CBC with PKCS#7 padding under one key; failures are ``ValueError``."""

    def __init__(self, key: bytes, *, openssl: bool | None = None) -> None:
        self._key = key
        self._openssl = _OPENSSL if openssl is None else openssl and _OPENSSL
        if self._openssl:
            self._algorithm: Any = algorithms.AES(key)

    def encrypt(self, plaintext: bytes, iv: bytes) -> bytes:
        pad = 16 - len(plaintext) % 16
        padded = plaintext + bytes((pad,)) * pad
        if self._openssl:
            encryptor = Cipher(self._algorithm, modes.CBC(iv)).encryptor()
            return bytes(encryptor.update(padded) + encryptor.finalize())
        from Crypto.Cipher import AES

        return bytes(AES.new(self._key, AES.MODE_CBC, iv).encrypt(padded))

    def decrypt(self, ciphertext: bytes, iv: bytes) -> bytes:
        if not ciphertext or len(ciphertext) % 16 or len(iv) != 16:
            raise ValueError("ciphertext is not a positive multiple of the block size")
        if self._openssl:
            decryptor = Cipher(self._algorithm, modes.CBC(iv)).decryptor()
            padded = bytes(decryptor.update(ciphertext) + decryptor.finalize())
        else:
            from Crypto.Cipher import AES

            padded = bytes(AES.new(self._key, AES.MODE_CBC, iv).decrypt(ciphertext))
        pad = padded[-1]
        if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
            raise ValueError("bad PKCS#7 padding")
        return padded[:-pad]


class RsaVerifier:
    """Verifies RSA PKCS#1 v1.5 signatures (SHA-256 or SHA-1) with one public key, given as
    DER (SubjectPublicKeyInfo)."""

    def __init__(self, der: bytes, *, openssl: bool | None = None) -> None:
        self._der = der
        self._openssl = _OPENSSL if openssl is None else openssl and _OPENSSL
        if self._openssl:
            self._public: Any = serialization.load_der_public_key(der)
        else:
            from Crypto.PublicKey import RSA

            self._public = RSA.import_key(der)

    def verify(self, message: bytes, signature: bytes, *, sha1: bool) -> bool:
        if self._openssl:
            algorithm = hashes.SHA1() if sha1 else hashes.SHA256()
            try:
                self._public.verify(signature, message, padding.PKCS1v15(), algorithm)
            except InvalidSignature:
                return False
            return True
        from Crypto.Hash import SHA1, SHA256
        from Crypto.Signature import pkcs1_15

        digest = (SHA1 if sha1 else SHA256).new(message)
        try:
            pkcs1_15.new(self._public).verify(digest, signature)
        except (ValueError, TypeError):
            return False
        return True
