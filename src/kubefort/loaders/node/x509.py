"""X.509 certificates on the node: the validity and subject of every certificate in a PEM file or
bundle, and in a kubeconfig's embedded `client-certificate-data` / `certificate-authority-data`.

The DER structure is parsed by `cryptography`; this module only finds the PEM blocks, decodes their
base64, and turns each certificate into the plain facts a NodeFile carries: `notBefore`, `notAfter`
(UTC, `2006-01-02T15:04:05Z`) and `subject` (`CN=<common name>`, empty without one), or an `error`
saying why a block is not a certificate.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from typing import Required, TypedDict

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubefort.loaders.node.documents import first_doc

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class CertInfo(TypedDict):
    """The facts of one certificate (keys as in the NodeFile schema)."""

    notBefore: str
    notAfter: str
    subject: str  # "CN=<common name>", or "" without one


class CertEntry(TypedDict, total=False):
    """One certificate of a file or kubeconfig: its facts, or why it could not be read."""

    source: Required[str]  # the file name, "<file> #2" for the second one of a bundle, or the kubeconfig field
    notBefore: str
    notAfter: str
    subject: str
    error: str


_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.DOTALL)

# cryptography reports malformed DER as `error parsing asn1 value: ParseError { kind: ..., location: [...] }`
_ASN1_KIND = re.compile(r"ParseError \{ kind: (\w+)")
_ASN1_LOCATION = re.compile(r"location: \[(.*)\]")
_ASN1_LOCATION_ITEM = re.compile(r'"([^"]*)"|(\d+)')
_ASN1_TAG = re.compile(r"Tag \{ value: (\d+), constructed: (true|false), class: (\w+) \}")
_ASN1_CLASS = {"Universal": 0x00, "Application": 0x40, "ContextSpecific": 0x80, "Private": 0xC0}
_ASN1_PROBLEMS = {
    "ShortData": "truncated DER",
    "ExtraData": "data after the end of the DER structure",
    "UnexpectedTag": "unexpected DER tag",
    "InvalidTag": "invalid DER tag",
    "InvalidLength": "invalid DER length",
    "InvalidValue": "invalid DER value",
    "IntegerOverflow": "DER integer too large",
    "InvalidSetOrdering": "SET OF elements not in DER order",
    "EncodedDefault": "a DEFAULT value is encoded (not DER)",
    "OidTooLong": "OID too long",
    "UnknownDefinedBy": "unknown algorithm or attribute (DEFINED BY)",
}


def _asn1_reason(message: str) -> str:
    """A readable reason from cryptography's ASN.1 error text: what is wrong, and where in the certificate."""
    kind = _ASN1_KIND.search(message)
    if kind is None or kind.group(1) not in _ASN1_PROBLEMS:
        return message
    reason = _ASN1_PROBLEMS[kind.group(1)]
    tag = _ASN1_TAG.search(message)
    if kind.group(1) == "UnexpectedTag" and tag is not None and int(tag.group(1)) < 31:
        byte = int(tag.group(1)) | (0x20 if tag.group(2) == "true" else 0) | _ASN1_CLASS.get(tag.group(3), 0)
        reason += f" 0x{byte:02x}"
    loc = _ASN1_LOCATION.search(message)
    where = ""
    for name, index in _ASN1_LOCATION_ITEM.findall(loc.group(1) if loc else ""):
        if index:
            where += f"[{index}]"
        else:  # "TbsCertificate::validity" -> "validity"
            where += ("." if where else "") + name.rpartition("::")[2]
    return f"{reason} at {where}" if where else reason


def _common_name(cert: x509.Certificate) -> str | None:
    """The first CN of the subject; None without one, or when the subject's strings cannot be decoded."""
    try:
        attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, KeyError, TypeError):
        # invalid UTF-8 in a UTF8String (ValueError), a string type cryptography does not know (KeyError),
        # a CN that is not a string (TypeError): the validity is still worth reporting
        return None
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def cert_info(der: bytes) -> CertInfo:
    """{notBefore, notAfter, subject} of one DER certificate; raises ValueError when it is not one."""
    try:
        with warnings.catch_warnings():
            # sloppy issuers (a serial that is not positive, an empty CN): cryptography warns, the dates are fine
            warnings.simplefilter("ignore", UserWarning)
            cert = x509.load_der_x509_certificate(der)
            not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
            cn = _common_name(cert)
    except x509.InvalidVersion as exc:
        raise ValueError(f"not a parsable X.509 certificate ({exc})") from None
    except ValueError as exc:
        raise ValueError(f"not a parsable X.509 certificate ({_asn1_reason(str(exc))})") from None
    return {
        "notBefore": not_before.strftime(TIME_FORMAT),
        "notAfter": not_after.strftime(TIME_FORMAT),
        "subject": f"CN={cn}" if cn else "",
    }


def pem_certs(data: bytes, source: str) -> list[CertEntry]:
    """Every certificate in a PEM text (a bundle gives several); unparsable ones carry an error."""
    out: list[CertEntry] = []
    for k, m in enumerate(_PEM.finditer(data)):
        label = source + (f" #{k + 1}" if k else "")
        try:
            info = cert_info(base64.b64decode(m.group(1), validate=False))
        except (ValueError, binascii.Error) as exc:
            out.append({"source": label, "error": str(exc)})
            continue
        out.append(
            {"source": label, "notBefore": info["notBefore"], "notAfter": info["notAfter"], "subject": info["subject"]}
        )
    return out


def kubeconfig_certs(data: bytes) -> list[CertEntry]:
    """Certificates embedded in a kubeconfig (client-certificate-data, certificate-authority-data).
    A kubeconfig that does not parse gives one entry with the error (its certificates are unknown)."""
    try:
        doc = first_doc(data)
    except ValueError as exc:
        return [{"source": "kubeconfig", "error": str(exc)}]
    out: list[CertEntry] = []
    if not isinstance(doc, dict):
        return out
    for section, inner, key in (
        ("users", "user", "client-certificate-data"),
        ("clusters", "cluster", "certificate-authority-data"),
    ):
        items = doc.get(section)
        if not isinstance(items, list):
            continue
        for it in items:
            if not isinstance(it, dict) or not isinstance(it.get(inner), dict):
                continue
            b64 = it[inner].get(key)
            if not isinstance(b64, str):
                continue
            label = f"{section}[{it.get('name')}].{key}"
            try:
                pem = base64.b64decode(b64)
            except (binascii.Error, ValueError):
                out.append({"source": label, "error": "not base64"})
                continue
            out.extend(pem_certs(pem, label))
    return out
