"""Transparency-log proofs of keyless signatures (Rekor bundles), verified offline.

A keyless signature is made with a Fulcio certificate valid for about ten minutes, so whether
the certificate was valid *when the image was signed* is what matters, and only the
transparency log can say when that was. Cosign keeps the log's answer beside the signature, in
the layer annotation `dev.sigstore.cosign/bundle`:

```json
{"SignedEntryTimestamp": "<base64 signature by the log>",
 "Payload": {"body": "<base64 of the logged entry>", "integratedTime": 1700000000,
             "logIndex": 42, "logID": "<hex sha256 of the log's public key (DER)>"}}
```

`verify_bundle` checks it as `cosign verify` does for a bundle, without asking the log:

1. the log is a trusted one: `logID` is the SHA-256 of the DER public key of one of the
   configured log keys (`transparency_log_keys`, or the `tlogs` of a Sigstore
   `trusted_root.json`), and `integratedTime` lies in that key's validity period when one is given;
2. the signed entry timestamp verifies with that key over the RFC 8785 canonical JSON of
   `{body, integratedTime, logID, logIndex}` (ECDSA with SHA-256, as Rekor signs);
3. the logged entry is this signature: for an image signature a `hashedrekord` (v0.0.1) whose
   SHA-256 is that of the signed payload, whose signature is the layer's, and whose public key
   is the signing certificate (the same DER certificate); for an attestation (a DSSE envelope,
   `cosign attest`) an `intoto` (v0.0.2) entry whose `payloadHash` is the SHA-256 of the
   envelope's payload (the in-toto statement) and one of whose signatures is the envelope's,
   with that certificate as its public key (rekor stores each `sig` base64-encoded once more).

It returns the integrated time, at which the certificate chain must then be valid. Not checked:
the inclusion proof against a signed tree head (a bundle from `--rekor-response` may carry none;
the SET is the log's promise to include the entry), the intoto entry's hash of the whole
envelope (the payload and signature bind it), and other entry kinds.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from kubefort.images.cosign import TrustedKey

__all__ = ["BundleError", "LogKey", "log_key", "read_trust", "verify_bundle"]

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot"  # + "+json;version=0.1" or ".v0.2+json"


class BundleError(ValueError):
    """Why a bundle proves nothing (the signature then does not count)."""


@dataclass(frozen=True, slots=True)
class LogKey:
    """A transparency log's public key; `start`/`end`: the Unix times it signed in (0: open)."""

    key: TrustedKey
    start: float = 0.0
    end: float = 0.0

    @property
    def log_id(self) -> str:
        return self.key.fingerprint  # sha256 of the DER SubjectPublicKeyInfo, in hex, as Rekor names itself


def log_key(der_or_pem: bytes, name: str, start: float = 0.0, end: float = 0.0) -> LogKey:
    """A log key from PEM (`transparency_log_keys`) or DER (a trusted root's `rawBytes`)."""
    from cryptography.hazmat.primitives import serialization

    from kubefort.images.cosign import load_key

    if not der_or_pem.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_der_public_key(der_or_pem)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: not a DER public key ({exc})") from None
        der_or_pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return LogKey(load_key(der_or_pem, name), start, end)


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise BundleError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BundleError(f"{what} is not base64") from None


def _field(doc: object, *keys: str) -> Any:
    for k in keys:
        if not isinstance(doc, dict) or k not in doc:
            raise BundleError(f"the logged entry has no {'.'.join(keys)}")
        doc = doc[k]
    return doc


def _same_certificate(logged_pem: bytes, certificate_pem: bytes) -> bool:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        a = x509.load_pem_x509_certificate(logged_pem)
        b = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        return False
    der = serialization.Encoding.DER
    return bool(a.public_bytes(der) == b.public_bytes(der))


def verify_bundle(
    bundle: bytes,
    keys: tuple[LogKey, ...],
    signature: bytes,
    payload: bytes,
    certificate: bytes,
    *,
    statement: bytes | None = None,
) -> int:
    """The integrated time (Unix seconds) the bundle proves for this signature (module
    docstring); BundleError says why it proves nothing. `statement`: the signature is a DSSE
    envelope's (over `payload`, its pre-authentication encoding) of this in-toto statement."""
    try:
        doc = orjson.loads(bundle)
    except orjson.JSONDecodeError:
        raise BundleError("the bundle is not JSON") from None
    body_b64 = _field(doc, "Payload", "body")
    when, index, log_id = (doc["Payload"].get(k) for k in ("integratedTime", "logIndex", "logID"))
    if type(when) is not int or type(index) is not int or not isinstance(log_id, str):
        raise BundleError("the bundle's integratedTime, logIndex and logID are not two integers and a string")
    log = next((k for k in keys if k.log_id == log_id.lower()), None)
    if log is None:
        raise BundleError(f"logged by an untrusted log ({log_id[:16]}...)")
    if (log.start and when < log.start) or (log.end and when > log.end):
        raise BundleError("logged at a time the log's key was not valid for")
    canonical = orjson.dumps(
        {"body": body_b64, "integratedTime": when, "logID": log_id, "logIndex": index}, option=orjson.OPT_SORT_KEYS
    )
    if not log.key.verifies(_b64(doc.get("SignedEntryTimestamp"), "the signed entry timestamp"), canonical):
        raise BundleError("the log's signed entry timestamp does not verify")
    try:
        entry = orjson.loads(_b64(body_b64, "the logged entry"))
    except orjson.JSONDecodeError:
        raise BundleError("the logged entry is not JSON") from None
    if statement is not None:
        _bind_intoto(entry, signature, statement, certificate)
        return when
    _entry_of(entry, "hashedrekord", "0.0.1", ("spec", "data", "hash"), payload)
    if _b64(_field(entry, "spec", "signature", "content"), "the logged signature") != signature:
        raise BundleError("the logged entry is for another signature")
    logged_key = _b64(_field(entry, "spec", "signature", "publicKey", "content"), "the logged certificate")
    if not _same_certificate(logged_key, certificate):
        raise BundleError("the logged entry is for another certificate")
    return when


def _entry_of(entry: Any, kind: str, version: str, hash_at: tuple[str, ...], data: bytes) -> None:
    """The logged entry is of `kind` and `version`, and the SHA-256 at `hash_at` is `data`'s."""
    if _field(entry, "kind") != kind or _field(entry, "apiVersion") != version:
        raise BundleError(f"a logged entry of kind {entry.get('kind')!r}, not {kind} {version}")
    digest = _field(entry, *hash_at)
    if not isinstance(digest, dict) or digest.get("algorithm") != "sha256":
        raise BundleError(f"the logged entry's {hash_at[-1]} is not a sha256")
    if digest.get("value") != hashlib.sha256(data).hexdigest():
        raise BundleError("the logged entry is for another payload")


def _bind_intoto(entry: Any, signature: bytes, statement: bytes, certificate: bytes) -> None:
    """The logged intoto v0.0.2 entry is this DSSE signature of this statement (BundleError if not)."""
    _entry_of(entry, "intoto", "0.0.2", ("spec", "content", "payloadHash"), statement)
    sigs = _field(entry, "spec", "content", "envelope", "signatures")
    if not isinstance(sigs, list):
        raise BundleError("the logged entry has no list of signatures")
    for item in sigs:
        if not isinstance(item, dict):
            continue
        try:  # base64 of the envelope's own base64 signature text
            raw = base64.b64decode(base64.b64decode(str(item.get("sig")), validate=True), validate=True)
            key = base64.b64decode(str(item.get("publicKey")), validate=True)
        except ValueError:
            continue
        if raw == signature:
            if not _same_certificate(key, certificate):
                raise BundleError("the logged entry is for another certificate")
            return
    raise BundleError("the logged entry is for another signature")


def _time(value: object, what: str) -> float:
    """An RFC 3339 time of a trusted root (`validFor.start`/`end`) as Unix seconds (0: absent)."""
    import datetime as dt

    if value is None:
        return 0.0
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected an RFC 3339 time")
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an RFC 3339 time") from None
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).timestamp()


def read_trust(data: bytes, name: str) -> tuple[list[Any], list[LogKey]]:
    """The CA certificates keyless signatures chain to and the transparency logs' keys, from
    a PEM bundle of certificates (no logs) or a Sigstore `trusted_root.json` (its
    `certificateAuthorities[].certChain` and `tlogs[].publicKey` with their `validFor`).
    ValueError names what is wrong."""
    from cryptography import x509

    from kubefort.images.cosign import load_roots

    if not data.lstrip().startswith(b"{"):
        return load_roots(data, name), []
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{name}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or not str(doc.get("mediaType", "")).startswith(TRUSTED_ROOT_MEDIA_TYPE):
        raise ValueError(f"{name}: not a Sigstore trusted root (mediaType {TRUSTED_ROOT_MEDIA_TYPE}...)")
    roots: list[Any] = []
    logs: list[LogKey] = []
    for i, ca in enumerate(doc.get("certificateAuthorities") or []):
        at = f"{name}: certificateAuthorities[{i}]"
        certs = ca.get("certChain", {}).get("certificates") if isinstance(ca, dict) else None
        if not isinstance(certs, list) or not certs:
            raise ValueError(f"{at}.certChain.certificates: expected a list")
        for j, c in enumerate(certs):
            raw = c.get("rawBytes") if isinstance(c, dict) else None
            try:
                roots.append(x509.load_der_x509_certificate(base64.b64decode(str(raw), validate=True)))
            except ValueError:
                raise ValueError(f"{at}.certChain.certificates[{j}].rawBytes: not a base64 DER certificate") from None
    for i, tlog in enumerate(doc.get("tlogs") or []):
        at = f"{name}: tlogs[{i}].publicKey"
        pk = tlog.get("publicKey") if isinstance(tlog, dict) else None
        if not isinstance(pk, dict):
            raise ValueError(f"{at}: expected a mapping")
        try:
            raw = base64.b64decode(str(pk.get("rawBytes")), validate=True)
        except ValueError:
            raise ValueError(f"{at}.rawBytes: not base64") from None
        valid = pk.get("validFor")
        valid = valid if isinstance(valid, dict) else {}
        logs.append(log_key(raw, f"{name} tlogs[{i}]", _time(valid.get("start"), at), _time(valid.get("end"), at)))
    if not roots:
        raise ValueError(f"{name}: no certificate authorities")
    return roots, logs
