"""The fast backend: OpenSSL through the ``cryptography`` package (``creditsdk[fast]``).

Same inputs, same bytes and the same failures (as ValueError / False) as the pycryptodome
backend; tests/core/test_crypto_backends.py holds the two to that.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.padding import PKCS7

NAME = "openssl"
_HASHES: dict[str, hashes.HashAlgorithm] = {"RSA2": hashes.SHA256(), "RSA": hashes.SHA1()}
_PKCS1V15 = padding.PKCS1v15()
_PKCS7 = PKCS7(128)


def aes_cbc_encrypt(key: bytes, plaintext: bytes, iv: bytes) -> bytes:
    padder = _PKCS7.padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def aes_cbc_decrypt(key: bytes, ciphertext: bytes, iv: bytes) -> bytes:
    """Raises ValueError on bad padding."""
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = _PKCS7.unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def load_key(data: bytes) -> tuple[Any, bool]:
    """DER (PKCS#1, PKCS#8 or SubjectPublicKeyInfo) → (key, is_private); ValueError if none."""
    key: Any
    try:
        key = serialization.load_der_private_key(data, password=None)
        private = True
    except (ValueError, TypeError):
        try:
            key = serialization.load_der_public_key(data)
        except (ValueError, TypeError):
            key = _certificate_key(data)
        private = False
    if not isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        raise ValueError("not an RSA key")
    return key, private


def _certificate_key(data: bytes) -> Any:
    """The public key of a DER X.509 certificate (pycryptodome's import_key takes those too)."""
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(data).public_key()
    except ValueError:
        raise ValueError("not an RSA key") from None


def public_of(key: Any) -> Any:
    return key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key


def numbers(key: Any) -> tuple[int, int]:
    nums = public_of(key).public_numbers()
    return int(nums.n), int(nums.e)


def native_kind(key: object) -> bool | None:
    """True / False for this library's private / public RSA key; None for anything else."""
    if isinstance(key, rsa.RSAPrivateKey):
        return True
    return False if isinstance(key, rsa.RSAPublicKey) else None


def sign(key: Any, message: bytes, sign_type: str) -> bytes:
    return key.sign(message, _PKCS1V15, _HASHES[sign_type])  # type: ignore[no-any-return]


def verify(public: Any, message: bytes, signature: bytes, sign_type: str) -> bool:
    try:
        public.verify(signature, message, _PKCS1V15, _HASHES[sign_type])
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
