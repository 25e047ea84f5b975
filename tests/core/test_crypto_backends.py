"""The OpenSSL (cryptography) and pycryptodome backends agree byte for byte, fail alike, and are
checked against an outside implementation (the official alipay-sdk-python's SignatureUtils)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from Crypto.Cipher import AES
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from creditsdk._core import crypto
from creditsdk._core.crypto import _openssl, _pycryptodome
from creditsdk.errors import ConfigurationError, ResponseIntegrityError

BACKENDS = {"openssl": _openssl, "pycryptodome": _pycryptodome}
KEY16 = bytes(range(16))
IV = bytes(range(100, 116))

_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PKCS1_PEM = _PRIVATE.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption(),
).decode()
PKCS8_PEM = _PRIVATE.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
SPKI_PEM = (
    _PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
PKCS1_PUBLIC_PEM = (
    _PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    .decode()
)
OTHER_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def body(pem: str) -> str:
    """The bare base64 body, as the providers' consoles hand keys out."""
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


@pytest.fixture(autouse=True)
def _restore_backend() -> Iterator[None]:
    before = crypto._selected
    yield
    crypto._selected = before


def loaded(name: str, pem: str, *, private: bool) -> crypto.RsaKey:
    crypto.use_backend(name)
    key = crypto.load_rsa_private_key(pem) if private else crypto.load_rsa_public_key(pem)
    assert key.backend == name
    return key


# -- AES -----------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    plaintext=st.binary(max_size=80) | st.text(max_size=40).map(lambda t: t.encode("utf-8")),
    key=st.sampled_from([KEY16, bytes(24), bytes(range(32))]),
    iv=st.binary(min_size=16, max_size=16),
)
@example(plaintext=b"", key=KEY16, iv=IV)
@example(plaintext=b"x" * 15, key=KEY16, iv=IV)
@example(plaintext=b"x" * 16, key=KEY16, iv=IV)
@example(plaintext=b"x" * 17, key=KEY16, iv=IV)
@example(plaintext="芝麻信用 · 天远 ✓".encode(), key=KEY16, iv=IV)
def test_aes_bytes_are_identical_and_decrypt_crosswise(
    plaintext: bytes, key: bytes, iv: bytes
) -> None:
    ours = _openssl.aes_cbc_encrypt(key, plaintext, iv)
    ref = _pycryptodome.aes_cbc_encrypt(key, plaintext, iv)
    assert ours == ref
    assert len(ref) == (len(plaintext) // 16 + 1) * 16  # PKCS#7 always adds 1-16 bytes
    assert _openssl.aes_cbc_decrypt(key, ref, iv) == plaintext
    assert _pycryptodome.aes_cbc_decrypt(key, ours, iv) == plaintext


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_public_aes_api_runs_on_the_selected_backend(name: str) -> None:
    crypto.use_backend(name)
    assert crypto.backend_name() == name
    cipher = crypto.aes_cbc_encrypt(KEY16, "天远".encode(), IV)
    assert cipher == AES.new(KEY16, AES.MODE_CBC, IV).encrypt("天远".encode() + b"\x0a" * 10)
    assert crypto.aes_cbc_decrypt(KEY16, cipher, IV) == "天远".encode()


def _raw_cbc(block: bytes) -> bytes:
    """A ciphertext that decrypts (under KEY16, IV) to exactly ``block``, padding included."""
    return AES.new(KEY16, AES.MODE_CBC, IV).encrypt(block)


BAD_PADDINGS = {
    "zero": _raw_cbc(b"A" * 15 + b"\x00"),
    "over_16": _raw_cbc(b"A" * 15 + b"\x11"),
    "inconsistent": _raw_cbc(b"A" * 13 + b"\x01\x03\x03"),
    "last_of_two_blocks": _raw_cbc(b"A" * 16 + b"B" * 15 + b"\x20"),
}


@pytest.mark.parametrize("case", sorted(BAD_PADDINGS))
def test_bad_padding_is_the_same_integrity_error_from_both(case: str) -> None:
    messages = []
    for name in sorted(BACKENDS):
        crypto.use_backend(name)
        with pytest.raises(ResponseIntegrityError) as caught:
            crypto.aes_cbc_decrypt(KEY16, BAD_PADDINGS[case], IV, what="answer data")
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "answer data could not be decrypted" in messages[0]


@settings(max_examples=100, deadline=None)
@given(wrong=st.binary(min_size=16, max_size=16), plaintext=st.binary(max_size=40))
def test_a_wrong_key_fails_or_decodes_the_same_with_both(wrong: bytes, plaintext: bytes) -> None:
    cipher = _pycryptodome.aes_cbc_encrypt(KEY16, plaintext, IV)
    outcomes = []
    for module in (_openssl, _pycryptodome):
        try:
            outcomes.append(module.aes_cbc_decrypt(wrong, cipher, IV))
        except ValueError:
            outcomes.append("ValueError")
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("name", sorted(BACKENDS))
@pytest.mark.parametrize(
    ("key", "iv", "cipher", "error", "message"),
    [
        (
            bytes(15),
            IV,
            bytes(16),
            ConfigurationError,
            "AES key must be 16, 24 or 32 bytes, got 15",
        ),
        (KEY16, bytes(8), bytes(16), ConfigurationError, "AES-CBC IV must be 16 bytes, got 8"),
        (KEY16, IV, b"", ResponseIntegrityError, "ciphertext length 0 is not a positive"),
        (KEY16, IV, bytes(17), ResponseIntegrityError, "ciphertext length 17 is not a positive"),
    ],
)
def test_bad_sizes_are_refused_before_either_backend_runs(
    name: str, key: bytes, iv: bytes, cipher: bytes, error: type[Exception], message: str
) -> None:
    crypto.use_backend(name)
    with pytest.raises(error, match=message):
        crypto.aes_cbc_decrypt(key, cipher, iv)


# -- RSA -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
@pytest.mark.parametrize(
    "message", [b"", b"app_id=1&method=zhima.credit.score.get", "芝麻 }".encode() * 500]
)
def test_signatures_are_identical_and_verify_crosswise(sign_type: str, message: bytes) -> None:
    signatures = {}
    for name in BACKENDS:
        key = loaded(name, PKCS1_PEM, private=True)
        signatures[name] = crypto.rsa_sign(key, message, sign_type)  # type: ignore[arg-type]
    assert signatures["openssl"] == signatures["pycryptodome"]  # PKCS#1 v1.5 is deterministic
    assert len(base64.b64decode(signatures["openssl"])) == 256
    for signer in BACKENDS:
        for verifier in BACKENDS:
            public = loaded(verifier, SPKI_PEM, private=False)
            assert crypto.rsa_verify(public, message, signatures[signer], sign_type)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_bad_signatures_are_false_from_both(name: str) -> None:
    message = b"timestamp=2026-11-22 09:00:00"
    good = crypto.rsa_sign(loaded("pycryptodome", PKCS1_PEM, private=True), message)
    raw = bytearray(base64.b64decode(good))
    raw[100] ^= 1
    tampered = base64.b64encode(bytes(raw)).decode()
    public = loaded(name, SPKI_PEM, private=False)
    other = loaded(name, OTHER_PEM, private=False)
    assert crypto.rsa_verify(public, message, good)
    assert not crypto.rsa_verify(public, message, tampered)
    assert not crypto.rsa_verify(public, message + b"x", good)
    assert not crypto.rsa_verify(other, message, good)
    assert not crypto.rsa_verify(public, message, good, "RSA")  # signed RSA2, checked as RSA
    assert not crypto.rsa_verify(public, message, good[:-8])  # truncated
    assert not crypto.rsa_verify(public, message, "not base64!")
    assert not crypto.rsa_verify(public, message, "")
    assert not crypto.rsa_verify(public, message, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(BACKENDS))
@pytest.mark.parametrize(
    ("text", "private"),
    [
        (PKCS1_PEM, True),
        (PKCS8_PEM, True),
        (body(PKCS1_PEM), True),
        (body(PKCS8_PEM), True),
        (PKCS1_PEM.replace("\n", "\r\n"), True),
        (SPKI_PEM, False),
        (PKCS1_PUBLIC_PEM, False),
        (body(SPKI_PEM), False),
        ("  \n" + body(SPKI_PEM)[:40] + "\n" + body(SPKI_PEM)[40:] + "\n", False),
    ],
)
def test_every_key_format_loads_with_both(name: str, text: str, private: bool) -> None:
    key = loaded(name, text, private=private)
    assert key.has_private() is private
    assert (key.n, key.e) == (_PRIVATE.public_key().public_numbers().n, 65537)
    assert "PRIVATE" not in repr(key)
    assert str(key.n)[:20] not in repr(key)


BAD_KEYS = [
    ("", True, "app_private_key is empty"),
    ("!!!", True, "app_private_key is neither a PEM nor a base64 key body"),
    (
        base64.b64encode(b"not a key").decode(),
        True,
        "app_private_key is not a valid RSA private key",
    ),
    (SPKI_PEM, True, "app_private_key is a public key; a private key is needed here"),
    (PKCS1_PEM, False, "app_private_key is a private key; pass only the public key here"),
    (body(SPKI_PEM)[:-20], False, "app_private_key is"),
    ("-----BEGIN PUBLIC KEY-----\nMIIB", False, "app_private_key is not a complete PEM block"),
]


@pytest.mark.parametrize(("text", "private", "message"), BAD_KEYS)
def test_bad_keys_are_the_same_configuration_error_from_both(
    text: str, private: bool, message: str
) -> None:
    messages = []
    for name in sorted(BACKENDS):
        crypto.use_backend(name)
        load = crypto.load_rsa_private_key if private else crypto.load_rsa_public_key
        with pytest.raises(ConfigurationError) as caught:
            load(text, which="app_private_key")
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(message)
    assert body(SPKI_PEM)[:30] not in messages[0]


def test_keys_compare_by_kind_and_numbers_across_backends() -> None:
    private = {name: loaded(name, PKCS1_PEM, private=True) for name in BACKENDS}
    public = {name: loaded(name, SPKI_PEM, private=False) for name in BACKENDS}
    assert (
        private["openssl"] == private["pycryptodome"] == loaded("openssl", PKCS8_PEM, private=True)
    )
    assert public["openssl"] == public["pycryptodome"] == private["openssl"].public_key()
    assert private["openssl"] != public["openssl"]
    assert public["openssl"] != loaded("openssl", OTHER_PEM, private=False)
    assert len({*private.values(), *public.values()}) == 2


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_a_public_key_cannot_sign(name: str) -> None:
    with pytest.raises(ConfigurationError, match="a public key cannot sign"):
        crypto.rsa_sign(loaded(name, SPKI_PEM, private=False), b"x")


def test_library_key_objects_are_accepted_as_they_are() -> None:
    from Crypto.PublicKey import RSA

    theirs = RSA.import_key(PKCS1_PEM)
    mine = loaded("openssl", PKCS1_PEM, private=True)
    assert crypto.rsa_sign(theirs, b"m") == crypto.rsa_sign(mine, b"m")
    assert crypto.rsa_sign(_PRIVATE, b"m") == crypto.rsa_sign(mine, b"m")  # type: ignore[arg-type]
    assert crypto.rsa_verify(theirs.public_key(), b"m", crypto.rsa_sign(mine, b"m"))
    with pytest.raises(ConfigurationError, match="not an RSA key: str"):
        crypto.rsa_sign("key", b"m")  # type: ignore[arg-type]


# -- against the official SDK ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_signatures_match_the_official_sdk(name: str) -> None:
    from alipay.aop.api.util import SignatureUtils

    content = 'app_id=1&biz_content={"a":"芝麻 }"}&charset=utf-8&method=zhima.credit.score.get'
    key = loaded(name, body(PKCS8_PEM), private=True)
    for sign_type, theirs_sign in (
        ("RSA2", SignatureUtils.sign_with_rsa2),
        ("RSA", SignatureUtils.sign_with_rsa),
    ):
        ours = crypto.rsa_sign(key, content.encode("utf-8"), sign_type)  # type: ignore[arg-type]
        assert SignatureUtils.verify_with_rsa(body(SPKI_PEM), content.encode("utf-8"), ours)
        theirs = theirs_sign(body(PKCS1_PEM), content, "utf-8")
        assert theirs == ours
        public = loaded(name, body(SPKI_PEM), private=False)
        assert crypto.rsa_verify(public, content.encode("utf-8"), theirs, sign_type)  # type: ignore[arg-type]


# -- choosing the backend --------------------------------------------------------------------


def test_env_var_selects_and_an_unknown_value_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDITSDK_CRYPTO", "pycryptodome")
    assert crypto.use_backend(None) == "pycryptodome"
    monkeypatch.setenv("CREDITSDK_CRYPTO", " OpenSSL ")
    assert crypto.use_backend(None) == "openssl"
    monkeypatch.setenv("CREDITSDK_CRYPTO", "auto")
    assert crypto.use_backend(None) == "openssl"  # cryptography is installed (dev dependency)
    monkeypatch.setenv("CREDITSDK_CRYPTO", "libsodium")
    crypto._selected = None
    with pytest.raises(ConfigurationError, match=r"CREDITSDK_CRYPTO='libsodium' is not a crypto"):
        crypto.aes_cbc_encrypt(KEY16, b"", IV)  # chosen at first use, so it fails there


def test_without_cryptography_auto_is_pycryptodome_and_openssl_is_an_error() -> None:
    code = (
        "import sys; sys.modules['cryptography'] = None\n"
        "from creditsdk._core import crypto\n"
        "from creditsdk.errors import ConfigurationError\n"
        "print(crypto.backend_name())\n"
        "try:\n"
        "    crypto.use_backend('openssl')\n"
        "except ConfigurationError as exc:\n"
        "    print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CREDITSDK_CRYPTO"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout.splitlines()
    assert out == [
        "pycryptodome",
        "CREDITSDK_CRYPTO=openssl needs the 'cryptography' package (>= 42): "
        "pip install 'creditsdk[fast]'",
    ]
