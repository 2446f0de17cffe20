"""The node loader's X.509 facts (validity, subject) from certificates and kubeconfigs, with
certificates and keys generated here with `cryptography`: RSA, EC and Ed25519 keys, expired and
not-yet-valid certificates, bundles, keys that are not certificates, and broken or hostile input.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from kubefort.drivers.node import scan_node
from kubefort.loaders.node import cert_info, kubeconfig_certs, load_node, pem_certs
from kubefort.model import Status
from kubefort.registry import REGISTRY
from test_node_layouts import Tree

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UTC = dt.UTC
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }


def make_cert(
    key: PrivateKey,
    cn: str | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    serial: int = 1000,
    extra: tuple[x509.NameAttribute, ...] = (),
) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubefort"), *extra]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    name = x509.Name(attrs)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("kubernetes.default.svc")]), critical=False)
    )
    return builder.sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def stamp(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# cert_info: one DER certificate
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["rsa", "ec", "ed25519"])
def test_cert_info_for_each_key_type(keys, kind):
    nb, na = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=90)
    info = cert_info(der(make_cert(keys[kind], f"{kind}-cert", nb, na)))
    assert info == {"notBefore": stamp(nb), "notAfter": stamp(na), "subject": f"CN={kind}-cert"}
    assert list(info) == ["notBefore", "notAfter", "subject"]


def test_expired_and_not_yet_valid_certificates_keep_their_dates(keys):
    expired = make_cert(keys["ec"], "expired", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=35))
    future = make_cert(keys["ec"], "future", NOW + dt.timedelta(days=2), NOW + dt.timedelta(days=700))
    assert cert_info(der(expired))["notAfter"] == stamp(NOW - dt.timedelta(days=35))
    assert cert_info(der(future))["notBefore"] == stamp(NOW + dt.timedelta(days=2))


def test_utc_time_and_generalized_time_ranges(keys):
    # RFC 5280: UTCTime up to 2049 (YY >= 50 is 19YY), GeneralizedTime from 2050 on
    cert = make_cert(
        keys["ec"], "long", dt.datetime(1950, 1, 1, tzinfo=UTC), dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC)
    )
    assert cert_info(der(cert))["notBefore"] == "1950-01-01T00:00:00Z"
    assert cert_info(der(cert))["notAfter"] == "2049-12-31T23:59:59Z"
    cert = make_cert(
        keys["ec"], "longer", dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC), dt.datetime(2050, 1, 1, tzinfo=UTC)
    )
    assert b"\x18\x0f20500101000000Z" in der(cert)  # GeneralizedTime
    assert cert_info(der(cert))["notBefore"] == "2049-12-31T23:59:59Z"
    assert cert_info(der(cert))["notAfter"] == "2050-01-01T00:00:00Z"


def test_subject_is_the_first_common_name(keys):
    nb, na = NOW, NOW + dt.timedelta(days=1)
    assert cert_info(der(make_cert(keys["ec"], None, nb, na)))["subject"] == ""
    two = make_cert(keys["ec"], "second", nb, na, extra=(x509.NameAttribute(NameOID.COMMON_NAME, "first"),))
    assert cert_info(der(two))["subject"] == "CN=first"
    assert cert_info(der(make_cert(keys["ec"], "nœud-ß", nb, na)))["subject"] == "CN=nœud-ß"


def test_sloppy_but_readable_certificates(keys):
    """A serial number that is not positive (cryptography warns) still gives the validity."""
    cert = der(make_cert(keys["ec"], "neg", NOW, NOW + dt.timedelta(days=1), serial=0x7F))
    assert cert.index(b"\x02\x01\x7f") < 20  # the serial, right after the version
    negative = cert.replace(b"\x02\x01\x7f", b"\x02\x01\x80", 1)
    assert cert_info(negative) == {
        "notBefore": stamp(NOW),
        "notAfter": stamp(NOW + dt.timedelta(days=1)),
        "subject": "CN=neg",
    }


def test_undecodable_subject_keeps_the_validity(keys):
    cert = der(make_cert(keys["ec"], "zzzz", NOW, NOW + dt.timedelta(days=1)))
    assert cert.count(b"\x0c\x04zzzz") == 2  # self-signed: issuer and subject
    broken = cert.replace(b"\x0c\x04zzzz", b"\x0c\x04\xff\xfe\xfd\xfc")  # not UTF-8 in a UTF8String
    assert cert_info(broken) == {"notBefore": stamp(NOW), "notAfter": stamp(NOW + dt.timedelta(days=1)), "subject": ""}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated DER"),
        (b"\x30\x03\x02\x01", "truncated DER"),
        (b"\x00\x00\x00", "unexpected DER tag 0x00"),
        (b"garbage", "truncated DER"),  # tag 0x67, length 0x61: longer than the text
        (b"\x04\x00", "unexpected DER tag 0x04"),  # an empty OCTET STRING
        (b"\x30\x85\x01\x02\x03\x04\x05", "invalid DER length"),
    ],
)
def test_garbage_is_not_a_certificate(data, reason):
    with pytest.raises(ValueError, match=r"^not a parsable X\.509 certificate \(") as exc:
        cert_info(data)
    assert str(exc.value) == f"not a parsable X.509 certificate ({reason})"


def test_truncated_and_damaged_certificates_say_what_is_wrong(keys):
    cert = der(make_cert(keys["rsa"], "cut", NOW, NOW + dt.timedelta(days=1)))
    with pytest.raises(ValueError, match=r"^not a parsable X\.509 certificate \(truncated DER") as exc:
        cert_info(cert[: len(cert) // 2])
    assert str(exc.value) == "not a parsable X.509 certificate (truncated DER)"
    with pytest.raises(ValueError) as exc:
        cert_info(cert + b"\x00")
    assert str(exc.value) == "not a parsable X.509 certificate (data after the end of the DER structure)"
    bad_version = cert.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x05", 1)
    with pytest.raises(ValueError) as exc:
        cert_info(bad_version)
    assert str(exc.value) == "not a parsable X.509 certificate (5 is not a valid X509 version)"
    utc = b"\x17\x0d" + (NOW.strftime("%y%m%d%H%M%S") + "Z").encode()
    assert cert.count(utc) == 1
    bad_time = cert.replace(utc, b"\x17\x0d" + b"991399000000Z")  # month 13
    with pytest.raises(ValueError) as exc:
        cert_info(bad_time)
    assert (
        str(exc.value) == "not a parsable X.509 certificate (invalid DER value at tbs_cert.validity.not_before.UtcTime)"
    )


# ---------------------------------------------------------------------------------------------
# pem_certs: files and bundles
# ---------------------------------------------------------------------------------------------
def test_pem_bundle_of_all_key_types(keys):
    nb = NOW - dt.timedelta(days=1)
    certs = [
        make_cert(keys[k], k, nb, NOW + dt.timedelta(days=d)) for k, d in (("rsa", 10), ("ec", 20), ("ed25519", 30))
    ]
    got = pem_certs(b"# a CA bundle\n" + b"".join(pem(c) for c in certs), "ca-bundle.crt")
    assert got == [
        {
            "source": "ca-bundle.crt",
            "notBefore": stamp(nb),
            "notAfter": stamp(NOW + dt.timedelta(days=10)),
            "subject": "CN=rsa",
        },
        {
            "source": "ca-bundle.crt #2",
            "notBefore": stamp(nb),
            "notAfter": stamp(NOW + dt.timedelta(days=20)),
            "subject": "CN=ec",
        },
        {
            "source": "ca-bundle.crt #3",
            "notBefore": stamp(nb),
            "notAfter": stamp(NOW + dt.timedelta(days=30)),
            "subject": "CN=ed25519",
        },
    ]
    assert [list(c) for c in got] == [["source", "notBefore", "notAfter", "subject"]] * 3


def test_keys_and_der_files_hold_no_pem_certificate(keys):
    """Only PEM CERTIFICATE blocks are read: private keys (plain or encrypted), public keys and DER files give nothing."""
    for key in keys.values():
        plain = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        encrypted = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert pem_certs(plain, "k.pem") == pem_certs(encrypted, "k.pem") == pem_certs(public, "k.pem") == []
    assert pem_certs(der(make_cert(keys["ec"], "der", NOW, NOW + dt.timedelta(days=1))), "c.der") == []
    assert pem_certs(b"", "empty.pem") == []


def test_broken_pem_blocks_carry_an_error(keys):
    good = pem(make_cert(keys["ec"], "good", NOW, NOW + dt.timedelta(days=1)))
    truncated = der(make_cert(keys["rsa"], "cut", NOW, NOW + dt.timedelta(days=1)))[:300]
    bundle = (
        good
        + b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(truncated)
        + b"-----END CERTIFICATE-----\n"
        + b"-----BEGIN CERTIFICATE-----\nAAAAA\n-----END CERTIFICATE-----\n"
        + b"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n"
    )
    got = pem_certs(bundle, "ca.crt")
    assert [c["source"] for c in got] == ["ca.crt", "ca.crt #2", "ca.crt #3", "ca.crt #4"]
    assert got[0]["subject"] == "CN=good" and "error" not in got[0]
    assert got[1] == {"source": "ca.crt #2", "error": "not a parsable X.509 certificate (truncated DER)"}
    assert set(got[2]) == {"source", "error"} and "base64" in got[2]["error"].lower()  # binascii's message
    assert got[3] == {"source": "ca.crt #4", "error": "not a parsable X.509 certificate (truncated DER)"}


def test_kubeconfig_embedded_certificates(keys):
    client = make_cert(keys["ec"], "system:admin", NOW, NOW + dt.timedelta(days=5))
    ca = make_cert(keys["rsa"], "kubernetes", NOW, NOW + dt.timedelta(days=3650))
    text = (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: k\n  cluster: {{server: 'https://x:6443', certificate-authority-data: {base64.b64encode(pem(ca)).decode()}}}\n"
        f"users:\n- name: admin\n  user: {{client-certificate-data: {base64.b64encode(pem(client)).decode()}}}\n"
        "- name: broken\n  user: {client-certificate-data: 'x@@'}\n"
        "- name: token\n  user: {token: abc}\n"
    )
    got = kubeconfig_certs(text.encode())
    assert got == [
        {
            "source": "users[admin].client-certificate-data",
            "notBefore": stamp(NOW),
            "notAfter": stamp(NOW + dt.timedelta(days=5)),
            "subject": "CN=system:admin",
        },
        {"source": "users[broken].client-certificate-data", "error": "not base64"},
        {
            "source": "clusters[k].certificate-authority-data",
            "notBefore": stamp(NOW),
            "notAfter": stamp(NOW + dt.timedelta(days=3650)),
            "subject": "CN=kubernetes",
        },
    ]
    assert kubeconfig_certs(b"[]\n") == []


# ---------------------------------------------------------------------------------------------
# through the node loader and the expiry check
# ---------------------------------------------------------------------------------------------
def test_node_files_and_the_expiry_check(tmp_path, keys):
    from kubefort.checks import control_plane  # noqa: F401

    t = Tree(tmp_path)
    pki = "/etc/kubernetes/pki"
    t.write(
        f"{pki}/expired.crt",
        pem(make_cert(keys["rsa"], "old", NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=3))),
        0o644,
    )
    t.write(
        f"{pki}/future.crt",
        pem(make_cert(keys["ed25519"], "new", NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=500))),
        0o644,
    )
    cut = der(make_cert(keys["ec"], "cut", NOW, NOW + dt.timedelta(days=1)))[:100]
    t.write(
        f"{pki}/broken.crt",
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(cut) + b"-----END CERTIFICATE-----\n",
        0o644,
    )
    t.write(
        f"{pki}/ca.key",
        keys["ec"].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
        0o600,
    )
    loaded = load_node(str(tmp_path))
    files = {r.id.name: r.obj for r in loaded.resources() if r.id.kind == "NodeFile"}
    assert files[f"{pki}/expired.crt"]["certificates"] == [
        {
            "source": "expired.crt",
            "notBefore": stamp(NOW - dt.timedelta(days=400)),
            "notAfter": stamp(NOW - dt.timedelta(days=3)),
            "subject": "CN=old",
        }
    ]
    assert files[f"{pki}/future.crt"]["certificates"][0]["notBefore"] == stamp(NOW + dt.timedelta(days=1))
    assert files[f"{pki}/broken.crt"]["certificates"] == [
        {"source": "broken.crt", "error": "not a parsable X.509 certificate (truncated DER)"}
    ]
    assert "certificates" not in files[f"{pki}/ca.key"] and "pki-key" in files[f"{pki}/ca.key"]["roles"]

    result, _ = scan_node(str(tmp_path), ("KF-CP-061",), REGISTRY)
    by_file = {o.resource.name: o for o in result.outcomes if o.check_id == "KF-CP-061"}
    assert by_file[f"{pki}/expired.crt"].status is Status.FAILED
    assert by_file[f"{pki}/expired.crt"].message == (
        f"{pki}/expired.crt: expired.crt (CN=old) expired on {(NOW - dt.timedelta(days=3)):%Y-%m-%d}"
    )
    assert by_file[f"{pki}/future.crt"].status is Status.PASSED
    assert by_file[f"{pki}/broken.crt"].status is Status.NOT_EVALUATED
    assert by_file[f"{pki}/broken.crt"].message == "broken.crt: not a parsable X.509 certificate (truncated DER)"


@pytest.mark.parametrize("text", [b": [\n", b"users:\n- user: {client-certificate-data: !!!bad}\n", b"\x00\xff"])
def test_kubeconfig_that_does_not_parse_gives_an_error_entry_not_an_exception(text: bytes) -> None:
    entries = kubeconfig_certs(text)
    assert len(entries) == 1 and entries[0]["source"] == "kubeconfig" and entries[0]["error"]


def test_unparsable_distribution_config_is_a_warning(tmp_path) -> None:
    cfg = tmp_path / "etc" / "rancher" / "k3s" / "config.yaml"
    cfg.parent.mkdir(parents=True)
    cfg.write_bytes(b": [\n")
    loaded = load_node(str(tmp_path))
    assert any(w.startswith("cannot read") and "config.yaml" in w for w in loaded.warnings)
