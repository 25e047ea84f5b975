"""Certificate mode (公钥证书模式): SNs against public figures, and the flow against the Sandbox.

The SN figures are the ones published with public implementations: the root SN
``687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6`` of Alipay's root bundle
(printed in gopay's, yansongda/pay's and alipay-sdk-nodejs' tests). An SN depends only on the
issuer DN and the serial number, so the certificates are rebuilt here with those two values, read
from Alipay's public root certificates (as shipped in gopay's alipay/cert/cert.go): "Ant Financial
Certification Authority R1" (sha256WithRSA) and "iTrusChina Class 2 Root CA - G3" (sha1WithRSA),
plus an ECDSA root that the rule skips. No third-party file is copied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

pytest.importorskip("cryptography")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from creditsdk import Applicant, Consent
from creditsdk.errors import AuthenticationError, ConfigurationError, ResponseIntegrityError
from creditsdk.sandbox import Sandbox
from creditsdk.sesame import SesameClient
from creditsdk.sesame._cert import cert_sn, issuer_dn, root_cert_sn

ALIPAY_ROOT_SN = "687b59193f3f462dd5336e5abf83c5d8_02941eef3187dddf3d3b83462e1dfcf6"


@pytest.fixture(scope="module")
def signer() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _name(*pairs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def _cert(issuer: x509.Name, serial: int, key: object, algorithm: object) -> x509.Certificate:
    public = key.public_key()  # type: ignore[attr-defined]
    return (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(public)
        .serial_number(serial)
        .not_valid_before(dt.datetime(2018, 1, 1))
        .not_valid_after(dt.datetime(2038, 1, 1))
        .sign(key, algorithm)  # type: ignore[arg-type]
    )


def _ant_r1(key: rsa.RSAPrivateKey) -> x509.Certificate:
    return _cert(_name((NameOID.COUNTRY_NAME, "CN"), (NameOID.ORGANIZATION_NAME, "Ant Financial"),
                       (NameOID.ORGANIZATIONAL_UNIT_NAME, "Certification Authority"),
                       (NameOID.COMMON_NAME, "Ant Financial Certification Authority R1")),
                 0x1FCFA18D6A480D11, key, hashes.SHA256())  # fmt: skip


_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")
_SHA1_RSA = bytes.fromhex("06092a864886f70d010105")


def _itrus_g3(key: rsa.RSAPrivateKey) -> x509.Certificate:
    cert = _cert(_name((NameOID.COUNTRY_NAME, "CN"), (NameOID.ORGANIZATION_NAME, "iTrusChina"),
                       (NameOID.ORGANIZATIONAL_UNIT_NAME, "China Trust Network"),
                       (NameOID.COMMON_NAME, "iTrusChina Class 2 Root CA - G3")),
                 0x10C764E9D560384212D9C08FD10E373FDD0FB396, key, hashes.SHA256())  # fmt: skip
    # The real one is sha1WithRSA, which cryptography no longer signs: relabel the algorithm in
    # the DER (same length; the SN does not depend on the signature, which is not checked here).
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(_SHA256_RSA) == 2
    sha1 = x509.load_der_x509_certificate(der.replace(_SHA256_RSA, _SHA1_RSA))
    assert sha1.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.5"
    return sha1


def test_root_sn_matches_the_published_figure(signer: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_root = _cert(_name((NameOID.COMMON_NAME, "Ant Financial Certification Authority E1")),
                    0x417EFA52C07FDF4A, ec_key, hashes.SHA256())  # fmt: skip
    bundle = [ec_root, _ant_r1(signer), ec_root, _itrus_g3(signer)]
    assert root_cert_sn(bundle) == ALIPAY_ROOT_SN
    assert cert_sn(_ant_r1(signer)) == ALIPAY_ROOT_SN.split("_")[0]
    assert issuer_dn(_ant_r1(signer)) == (
        "CN=Ant Financial Certification Authority R1,OU=Certification Authority,"
        "O=Ant Financial,C=CN"
    )


def test_dn_rendering_follows_java_rfc2253(signer: rsa.RSAPrivateKey) -> None:
    issuer = _name((NameOID.COUNTRY_NAME, "CN"), (NameOID.ORGANIZATION_NAME, "A, B+C"),
                   (NameOID.EMAIL_ADDRESS, "ca@x.cn"), (NameOID.COMMON_NAME, " lead#"))  # fmt: skip
    cert = _cert(issuer, 7, signer, hashes.SHA256())
    # Java X500Principal.getName(): reverse order, RFC 2253 escapes, unknown OIDs as #hex(DER)
    assert issuer_dn(cert) == (
        "CN=\\ lead#,1.2.840.113549.1.9.1=#1607636140782e636e,O=A\\, B\\+C,C=CN"
    )


def test_root_without_rsa_certificates_is_a_configuration_error() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    only_ec = _cert(_name((NameOID.COMMON_NAME, "E1")), 1, ec_key, hashes.SHA256())
    with pytest.raises(ConfigurationError, match="RSA"):
        root_cert_sn([only_ec])


# -- against the Sandbox ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(providers=["sesame"], seed=21, options={"sesame": {"cert_mode": True}}) as s:
        yield s


def test_cert_mode_end_to_end(sb: Sandbox, applicant: Applicant, consent: Consent) -> None:
    seen: list[httpx.Request] = []
    hooks = {"request": [seen.append]}
    with httpx.Client(event_hooks=hooks) as http, sb.sesame_client(http_client=http) as zm:
        assert zm.cert_mode
        back = sb.sesame.approve(zm.authorization_url("https://lender.example/cb", "s1"))
        grant = zm.exchange_code(zm.parse_redirect(back, "s1"))
        sb.sesame.set_score(grant.user_id, 688)
        assert zm.score(grant, consent=consent).score == 688
        assert zm.admittance(applicant, 500, consent=consent).admitted is not None
    query = dict(httpx.QueryParams(seen[-1].url.query.decode()))
    assert query["app_cert_sn"] == zm._config.certs.app_cert_sn  # type: ignore[union-attr]
    assert query["alipay_root_cert_sn"].count("_") == 1  # two RSA roots, the ECDSA one skipped


def test_answers_name_the_alipay_cert_they_are_signed_with(sb: Sandbox) -> None:
    with sb.sesame_client() as zm:
        response = httpx.post(zm.gateway_url + "?charset=utf-8", content=b"")
    assert response.json()["alipay_cert_sn"] == sb.sesame.alipay_cert_sn


def test_public_key_mode_client_is_refused_by_a_cert_mode_gateway(sb: Sandbox) -> None:
    with SesameClient(
        app_id=sb.sesame.app_id, app_private_key=sb.sesame.app_private_key,
        alipay_public_key=sb.sesame.alipay_public_key, gateway_url=sb.sesame.gateway_url,
    ) as zm, pytest.raises(AuthenticationError) as info:  # fmt: skip
        zm.exchange_code("code")
    assert info.value.sub_code == "isv.invalid-app-cert-sn"  # type: ignore[attr-defined]


def test_answer_signed_with_an_unknown_cert_sn_is_refused(sb: Sandbox) -> None:
    with sb.sesame_client() as zm, respx.mock:
        respx.post(url__startswith=zm.gateway_url).respond(
            200, content=b'{"alipay_system_oauth_token_response":{"access_token":"x"},'
                         b'"alipay_cert_sn":"5e5a3e0f1c2b7a9d8e6f4a3b2c1d0e9f","sign":"AA=="}',
        )  # fmt: skip
        with pytest.raises(ResponseIntegrityError, match="5e5a3e0f1c2b7a9d8e6f4a3b2c1d0e9f"):
            zm.exchange_code("code")


def test_cert_files_by_path_and_misconfigurations(sb: Sandbox, tmp_path: Path) -> None:
    paths = {}
    for name in ("app_cert", "alipay_cert", "alipay_root_cert"):
        paths[name + "_path"] = tmp_path / f"{name}.crt"
        paths[name + "_path"].write_text(getattr(sb.sesame, name))
    base = {"app_id": sb.sesame.app_id, "app_private_key": sb.sesame.app_private_key,
            "gateway_url": sb.sesame.gateway_url}  # fmt: skip
    with SesameClient(**base, **paths) as zm:  # type: ignore[arg-type]
        assert zm.cert_mode
    with pytest.raises(ConfigurationError, match="not both"):
        SesameClient(**base, alipay_public_key=sb.sesame.alipay_public_key, **paths)  # type: ignore[arg-type]
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()  # fmt: skip
    with pytest.raises(ConfigurationError, match="app_cert does not hold"):
        SesameClient(**{**base, "app_private_key": pem}, **paths)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="app_cert_path cannot be read"):
        SesameClient(**base, **{**paths, "app_cert_path": tmp_path / "missing.crt"})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"alipay_cert is not an X\.509"):
        SesameClient(**base, app_cert=sb.sesame.app_cert, alipay_cert="junk",
                     alipay_root_cert=sb.sesame.alipay_root_cert)  # fmt: skip


def test_the_issuing_ca_in_alipay_cert_cannot_sign_answers(sb: Sandbox) -> None:
    """alipayCertPublicKey_RSA2.crt holds Alipay's certificate *and* its CA: only the former
    verifies answers, even when an answer names the CA's SN."""
    from creditsdk.sesame._cert import load_certificates

    leaf, ca = load_certificates(sb.sesame.alipay_cert.encode(), "alipay_cert")
    with sb.sesame_client() as zm:
        keys = zm._config.certs.alipay_keys  # type: ignore[union-attr]
    assert list(keys) == [cert_sn(leaf)] == [sb.sesame.alipay_cert_sn]
    assert cert_sn(ca) not in keys
