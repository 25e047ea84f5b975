"""The Sandbox's own crypto: OpenSSL and pycryptodome give the same bytes and verdicts."""

from __future__ import annotations

import pytest
from Crypto.Cipher import AES
from Crypto.Hash import SHA1, SHA256
from Crypto.PublicKey import RSA
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import pad

from creditsdk.sandbox._crypto import AesCbc, RsaVerifier, openssl_available

BACKENDS = [False, True] if openssl_available() else [False]
KEY = bytes(range(16))
IV = bytes(range(16, 32))


@pytest.mark.parametrize("openssl", BACKENDS)
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 1000])
def test_aes_matches_the_reference_and_round_trips(openssl: bool, size: int) -> None:
    plain = bytes(i % 251 for i in range(size))
    aes = AesCbc(KEY, openssl=openssl)
    sealed = aes.encrypt(plain, IV)
    assert sealed == AES.new(KEY, AES.MODE_CBC, IV).encrypt(pad(plain, 16))
    assert aes.decrypt(sealed, IV) == plain


@pytest.mark.parametrize("openssl", BACKENDS)
def test_aes_refuses_bad_lengths_and_padding(openssl: bool) -> None:
    aes = AesCbc(KEY, openssl=openssl)
    for bad in (b"", b"x" * 15):
        with pytest.raises(ValueError, match="multiple of the block size"):
            aes.decrypt(bad, IV)
    not_padded = AES.new(KEY, AES.MODE_CBC, IV).encrypt(b"a" * 15 + b"\x00")
    with pytest.raises(ValueError, match="padding"):
        aes.decrypt(not_padded, IV)
    with pytest.raises(ValueError, match="padding"):
        AesCbc(b"another key 16 b", openssl=openssl).decrypt(aes.encrypt(b"secret", IV), IV)


@pytest.fixture(scope="module")
def rsa_key() -> RSA.RsaKey:
    return RSA.generate(2048)


@pytest.mark.parametrize("openssl", BACKENDS)
@pytest.mark.parametrize("sha1", [False, True])
def test_rsa_verify_accepts_good_and_refuses_bad_signatures(
    rsa_key: RSA.RsaKey, openssl: bool, sha1: bool
) -> None:
    message = b"app_id=1&method=x"
    signature = pkcs1_15.new(rsa_key).sign((SHA1 if sha1 else SHA256).new(message))
    verifier = RsaVerifier(rsa_key.public_key().export_key("DER"), openssl=openssl)
    assert verifier.verify(message, signature, sha1=sha1)
    assert not verifier.verify(message + b"!", signature, sha1=sha1)
    assert not verifier.verify(message, signature, sha1=not sha1)
    assert not verifier.verify(message, b"", sha1=sha1)
    assert not verifier.verify(message, signature[:-1] + bytes([signature[-1] ^ 1]), sha1=sha1)
