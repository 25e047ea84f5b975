"""Alipay's public-key certificate mode (公钥证书模式): load the console's certificates, SNs.

X.509 parsing is the ``cryptography`` package's (``pip install 'creditsdk[cryptography]'``);
it is imported only when certificate mode is used.

SN rules (Alipay's Java ``AntCertificationUtil`` / ``AlipaySignature.getCertSN``, PHP
``AopCertClient``, gopay ``GetCertSN``): ``md5(issuer DN + decimal serial number)`` as 32 hex
digits, where the issuer DN is rendered as Java's ``X500Principal.getName()`` (RFC 2253): RDNs in
reverse order, ``k=v`` joined by ``,``, the keywords CN, L, ST, O, OU, C, STREET, DC, UID, any
other attribute as ``dotted.oid=#hex(DER)``. The root SN joins, with ``_``, the SNs of every
certificate in the root bundle that is signed with RSA (signature OID ``1.2.840.113549.1.1.*``:
sha1/sha256-with-RSA), skipping the SM2 and ECDSA roots the bundle also holds.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from .._core.crypto import RsaKey, public_key_from_der
from ..errors import ConfigurationError

__all__ = ["CertBundle", "cert_sn", "load_certificates", "root_cert_sn"]

_PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_RSA_SIG_PREFIX = "1.2.840.113549.1.1."
# Java's RFC 2253 keywords (sun.security.x509.AVAKeyword, rfc2253 = true).
_KEYWORDS = {
    "2.5.4.3": "CN",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
_UTF16 = {30}  # BMPString
_UTF32 = {28}  # UniversalString


def _x509() -> Any:
    try:
        from cryptography import x509
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ConfigurationError(
            "certificate mode needs the 'cryptography' package: "
            "pip install 'creditsdk[cryptography]'"
        ) from None
    return x509


def _escape(value: str) -> str:
    """RFC 2253 §2.4 escaping, as Java renders it."""
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;' or (i == 0 and ch in "# ") or (i == len(value) - 1 and ch == " "):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _der_value(attr: Any) -> bytes:
    tag = int(attr._type.value)
    text = attr.value if isinstance(attr.value, str) else bytes(attr.value).decode("latin-1")
    if tag in _UTF16:
        body = text.encode("utf-16-be")
    elif tag in _UTF32:
        body = text.encode("utf-32-be")
    else:
        body = text.encode("utf-8")
    n = len(body)
    length = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + body


def issuer_dn(cert: Any) -> str:
    """The issuer as Java's ``X500Principal.getName()`` writes it (reverse RDN order)."""
    parts = []
    for rdn in reversed(list(cert.issuer.rdns)):
        avas = []
        for attr in rdn:
            oid = attr.oid.dotted_string
            keyword = _KEYWORDS.get(oid)
            if keyword is not None:
                avas.append(f"{keyword}={_escape(str(attr.value))}")
            else:
                avas.append(f"{oid}=#{_der_value(attr).hex()}")
        parts.append("+".join(avas))
    return ",".join(parts)


def cert_sn(cert: Any) -> str:
    """``md5(issuer DN + decimal serial)``, 32 lowercase hex digits."""
    return hashlib.md5((issuer_dn(cert) + str(cert.serial_number)).encode("utf-8")).hexdigest()


def root_cert_sn(certs: Sequence[Any]) -> str:
    """The SNs of the bundle's RSA-signed certificates, joined with ``_``."""
    sns = [
        cert_sn(c)
        for c in certs
        if c.signature_algorithm_oid.dotted_string.startswith(_RSA_SIG_PREFIX)
    ]
    if not sns:
        raise ConfigurationError("alipay_root_cert holds no RSA-signed certificate")
    return "_".join(sns)


def _read(value: str | bytes | os.PathLike[str] | None, path: str | os.PathLike[str] | None,
          what: str) -> bytes:  # fmt: skip
    if value is not None and path is not None:
        raise ConfigurationError(f"give either {what} or {what}_path, not both")
    if path is not None:
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"{what}_path cannot be read ({type(exc).__name__}: {exc.strerror})"
            ) from None
    if isinstance(value, os.PathLike):
        return _read(None, value, what)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise ConfigurationError(f"{what} is missing (certificate mode needs all three certificates)")


def load_certificates(data: bytes, what: str) -> list[Any]:
    """Every certificate in a PEM file (or one DER certificate); ConfigurationError otherwise."""
    x509 = _x509()
    blocks = _PEM_RE.findall(data)
    try:
        if blocks:
            return [x509.load_pem_x509_certificate(b) for b in blocks]
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise ConfigurationError(f"{what} is not an X.509 certificate (PEM or DER)") from None


def _rsa_public(cert: Any, what: str) -> RsaKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigurationError(f"{what} does not hold an RSA public key")
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public_key_from_der(der, which=what)


def _is_ca(cert: Any) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@attrs.frozen
class CertBundle:
    """What certificate mode needs: the two SNs sent on every request, and Alipay's keys by SN."""

    app_cert_sn: str
    alipay_root_cert_sn: str
    alipay_keys: dict[str, RsaKey]  # SN → public key, the leaf first
    app_public_key: RsaKey

    @property
    def default_alipay_key(self) -> RsaKey:
        return next(iter(self.alipay_keys.values()))

    @classmethod
    def load(
        cls,
        *,
        app_cert: str | bytes | os.PathLike[str] | None = None,
        app_cert_path: str | os.PathLike[str] | None = None,
        alipay_cert: str | bytes | os.PathLike[str] | None = None,
        alipay_cert_path: str | os.PathLike[str] | None = None,
        alipay_root_cert: str | bytes | os.PathLike[str] | None = None,
        alipay_root_cert_path: str | os.PathLike[str] | None = None,
    ) -> CertBundle:
        app = load_certificates(_read(app_cert, app_cert_path, "app_cert"), "app_cert")
        alipay = load_certificates(
            _read(alipay_cert, alipay_cert_path, "alipay_cert"), "alipay_cert"
        )
        root = load_certificates(
            _read(alipay_root_cert, alipay_root_cert_path, "alipay_root_cert"), "alipay_root_cert"
        )
        from cryptography.hazmat.primitives.asymmetric import rsa

        keys: dict[str, RsaKey] = {}
        for cert in alipay:
            # Only end-entity certificates sign answers: the file also holds the issuing CA,
            # whose key must not be accepted for an answer that names its SN.
            if _is_ca(cert) or not isinstance(cert.public_key(), rsa.RSAPublicKey):
                continue
            keys.setdefault(cert_sn(cert), _rsa_public(cert, "alipay_cert"))
        if not keys:
            raise ConfigurationError("alipay_cert holds no RSA end-entity certificate")
        return cls(
            app_cert_sn=cert_sn(app[0]),
            alipay_root_cert_sn=root_cert_sn(root),
            alipay_keys=keys,
            app_public_key=_rsa_public(app[0], "app_cert"),
        )
