"""Cosign (Sigstore) image signatures made with key pairs: find them in the registry and verify
them against trusted public keys, as `cosign verify --key` and Kyverno's `verifyImages` do.

Where a signature is (the format cosign v2 writes by default): the manifest tagged
`sha256-<hex of the image digest>.sig` in the image's repository; each of its layers of type
`application/vnd.dev.cosign.simplesigning.v1+json` is one signature: the layer blob is the
signed payload, its annotation `dev.cosignproject.cosign/signature` the base64 signature. When
the registry has the OCI 1.1 referrers API, referrers of the image with artifact type
`application/vnd.dev.cosign.artifact.sig.v1+json` are read the same way.

What a signature proves (`verify_image`): its signature verifies over the payload bytes with
one of the trusted keys (ECDSA P-256/P-384/P-521 with SHA-256 as cosign signs, RSA PKCS#1 v1.5
or PSS with SHA-256, Ed25519), and the payload (a "cosign container image signature") names the
image's digest in `critical.image.docker-manifest-digest`. A signature by a trusted key over
another digest proves nothing about this image (`other-digest`); one by no trusted key is
`untrusted`; no signature at all is `unsigned`. Registry failures raise `RegistryError` (not
evaluated), malformed signatures are skipped with the reason kept.

Attestations (`cosign attest --key`, `verified_attestations`): in-toto statements in DSSE
envelopes under the tag `sha256-<hex>.att`; one counts when a trusted key signed its DSSE
pre-authentication encoding and its statement's subjects name the image's digest.

Keyless signatures (`Keyless`): the signature layer's certificate (and chain) annotations, a
certificate chaining to trusted CA certificates given as a file, valid now, for code signing, of
an allowed identity (OIDC issuer and subject), at the time the transparency log proves (the
Rekor bundle, `images.rekor`) when its keys are configured, else now.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from kubefort.images.oci import DIGEST_RE, MAX_BLOB, Registry, RegistryError

__all__ = [
    "Signature",
    "TrustedKey",
    "Verdict",
    "find_signatures",
    "load_key",
    "signature_tag",
    "verify_image",
]

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
SIG_ANNOTATION = "dev.cosignproject.cosign/signature"
CERT_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"  # the transparency log's answer (images.rekor)
PAYLOAD_TYPE = "cosign container image signature"
MAX_SIGNATURES = 64  # layers read per signature manifest; more is refused, never half-read

Status = Literal["verified", "unsigned", "untrusted", "other-digest"]


def signature_tag(digest: str) -> str:
    """The tag cosign stores an image's signatures under."""
    algo, _, hexdigest = digest.partition(":")
    return f"{algo}-{hexdigest}.sig"


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key signatures may be made with; `name` says which in messages."""

    name: str
    key: Any  # a cryptography public key
    fingerprint: str  # sha256 of its DER SubjectPublicKeyInfo

    def verifies(self, signature: bytes, payload: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

        k = self.key
        try:
            if isinstance(k, ec.EllipticCurvePublicKey):
                k.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            elif isinstance(k, rsa.RSAPublicKey):
                try:
                    k.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
                except InvalidSignature:
                    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
                    k.verify(signature, payload, pss, hashes.SHA256())
            elif isinstance(k, ed25519.Ed25519PublicKey):
                k.verify(signature, payload)
            else:
                return False
        except (InvalidSignature, ValueError):
            return False
        return True


def load_key(pem: bytes, name: str) -> TrustedKey:
    """A PEM public key (cosign.pub, a KMS export); ValueError for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: not a PEM public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError(f"{name}: a {type(key).__name__}; cosign keys are ECDSA, RSA or Ed25519")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustedKey(name, key, hashlib.sha256(der).hexdigest())


@dataclass(frozen=True, slots=True)
class Signature:
    payload: bytes
    signature: bytes
    where: str  # the manifest and layer it was read from
    certificate: bytes | None = None  # keyless: the signing certificate (PEM), and its chain
    chain: bytes | None = None
    bundle: bytes | None = None  # keyless: the transparency log's answer (images.rekor)
    statement: bytes | None = None  # an attestation: the DSSE envelope's payload (`payload` is its PAE)


@dataclass(slots=True)
class Verdict:
    status: Status
    digest: str
    key: str | None = None  # the trusted key that verified (verified, other-digest)
    signed_digests: tuple[str, ...] = ()  # other-digest: what the trusted signatures name
    signatures: int = 0
    skipped: list[str] = field(default_factory=list)  # malformed signatures, with the reason
    rejected: list[str] = field(default_factory=list)  # why keyless signatures did not count

    @property
    def message(self) -> str:
        if self.status == "verified":
            return f"signed by {self.key}"
        if self.status == "unsigned":
            return "no cosign signature in the registry" + _skipped(self.skipped)
        if self.status == "other-digest":
            named = ", ".join(self.signed_digests)
            return f"signed by {self.key} for another digest ({named}), none for {self.digest}"
        n = self.signatures
        why = f" (keyless: {self.rejected[0]})" if self.rejected else ""
        return f"{n} signature{'s' if n != 1 else ''}, none by a trusted key{why}" + _skipped(self.skipped)


def _skipped(skipped: list[str]) -> str:
    return f" ({len(skipped)} unreadable: {skipped[0]})" if skipped else ""


def _layers(manifest: dict[str, Any], where: str) -> list[dict[str, Any]]:
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise RegistryError(f"{where}: a signature manifest without a list of layers")
    if len(layers) > MAX_SIGNATURES:
        raise RegistryError(f"{where}: {len(layers)} signature layers, more than the {MAX_SIGNATURES} read")
    return [x for x in layers if isinstance(x, dict)]


def _signatures_of(
    reg: Registry, repo: str, manifest: dict[str, Any], where: str, skipped: list[str]
) -> list[Signature]:
    out = []
    for i, layer in enumerate(_layers(manifest, where)):
        at = f"{where} layer {i}"
        if layer.get("mediaType") != SIMPLESIGNING:
            continue
        annotations = layer.get("annotations")
        encoded = annotations.get(SIG_ANNOTATION) if isinstance(annotations, dict) else None
        digest = layer.get("digest")
        size = layer.get("size")
        if not isinstance(encoded, str) or not isinstance(digest, str) or not DIGEST_RE.match(digest):
            skipped.append(f"{at}: no signature annotation or digest")
            continue
        if isinstance(size, int) and size > MAX_BLOB:
            skipped.append(f"{at}: a payload of {size:,} bytes")
            continue
        try:
            signature = base64.b64decode(encoded, validate=True)
        except ValueError:
            skipped.append(f"{at}: the signature is not base64")
            continue
        cert, chain = annotations.get(CERT_ANNOTATION), annotations.get(CHAIN_ANNOTATION)  # type: ignore[union-attr]
        bundle = annotations.get(BUNDLE_ANNOTATION)  # type: ignore[union-attr]
        out.append(
            Signature(
                reg.blob(repo, digest),
                signature,
                at,
                cert.encode() if isinstance(cert, str) and cert else None,
                chain.encode() if isinstance(chain, str) and chain else None,
                bundle.encode() if isinstance(bundle, str) and bundle else None,
            )
        )
    return out


def find_signatures(reg: Registry, repo: str, digest: str, skipped: list[str] | None = None) -> list[Signature]:
    """Every key-pair signature stored for the image (tag scheme, then OCI 1.1 referrers)."""
    skipped = skipped if skipped is not None else []
    out: list[Signature] = []
    tag = signature_tag(digest)
    m = reg.manifest(repo, tag)
    if m is not None:
        out += _signatures_of(reg, repo, m.body, f"{reg.host}/{repo}:{tag}", skipped)
    for ref in reg.referrers(repo, digest) or []:
        if ref.get("artifactType") != SIG_ARTIFACT or not isinstance(ref.get("digest"), str):
            continue
        rm = reg.manifest(repo, ref["digest"])
        if rm is not None:
            out += _signatures_of(reg, repo, rm.body, f"{reg.host}/{repo}@{ref['digest']}", skipped)
    return out


def signed_digest(payload: bytes) -> str | None:
    """The image digest a cosign payload names (None: not a cosign image signature payload)."""
    try:
        doc = orjson.loads(payload)
        critical = doc["critical"]
        if critical.get("type") != PAYLOAD_TYPE:
            return None
        digest = critical["image"]["docker-manifest-digest"]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    return digest if isinstance(digest, str) else None


def verify_image(
    reg: Registry, repo: str, digest: str, keys: list[TrustedKey], keyless: Keyless | None = None
) -> Verdict:
    """The verdict on one image digest (module docstring). RegistryError: not evaluated."""
    skipped: list[str] = []
    sigs = find_signatures(reg, repo, digest, skipped)
    verdict = Verdict("unsigned", digest, signatures=len(sigs), skipped=skipped)
    if not sigs:
        return verdict
    other: list[str] = []
    other_key = None
    for sig in sigs:
        signers = [k.name for k in keys if k.verifies(sig.signature, sig.payload)]
        if keyless is not None and sig.certificate is not None:
            who = keyless.signer(sig, verdict.rejected)
            if who is not None:
                signers.append(who)
        for name in signers:
            named = signed_digest(sig.payload)
            if named == digest:
                verdict.status, verdict.key = "verified", name
                return verdict
            other.append(named or "a payload that names no image")
            other_key = other_key or name
    if other:
        verdict.status, verdict.key, verdict.signed_digests = "other-digest", other_key, tuple(dict.fromkeys(other))
    else:
        verdict.status = "untrusted"
    return verdict


# ---------------------------------------------------------------------------------------------
# keyless signatures: a certificate for an identity, issued by a trusted (Fulcio) CA
# ---------------------------------------------------------------------------------------------
ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"  # Fulcio: the OIDC issuer, a DER UTF8String
ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"  # Fulcio's older extension: the issuer as raw bytes
CODE_SIGNING = "1.3.6.1.5.5.7.3.3"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who may sign: the certificate's OIDC issuer (exact) and subject (a regular expression
    matched whole against each email and URI of its subject alternative names)."""

    issuer: str
    subject_regexp: str

    def matches(self, issuer: str | None, subjects: list[str]) -> bool:
        import re

        return issuer == self.issuer and any(re.fullmatch(self.subject_regexp, s) for s in subjects)


def load_roots(pem: bytes, name: str) -> list[Any]:
    """The trusted CA certificates (Fulcio roots and intermediates) of a PEM bundle."""
    from cryptography import x509

    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"{name}: not a PEM bundle of certificates ({exc})") from None
    return roots


def _issuer_of(cert: Any) -> str | None:
    from cryptography import x509

    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        value = ext.value.value if isinstance(ext.value, x509.UnrecognizedExtension) else None
        if value is None:
            continue
        if oid == ISSUER_V2:
            return _utf8_string(value)
        if oid == ISSUER_V1:
            return str(value.decode("utf-8", "replace"))
    return None


def _utf8_string(der: bytes) -> str | None:
    """A DER UTF8String (tag 0x0C; short or long form length), None for anything else."""
    if len(der) < 2 or der[0] != 0x0C:
        return None
    n, start = der[1], 2
    if n & 0x80:
        size = n & 0x7F
        if size == 0 or size > 2 or len(der) < 2 + size:
            return None
        n, start = int.from_bytes(der[2 : 2 + size], "big"), 2 + size
    if len(der) != start + n:
        return None
    return der[start:].decode("utf-8", "replace")


def _subjects_of(cert: Any) -> list[str]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(v) for v in san.get_values_for_type(x509.RFC822Name)] + [
        str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)
    ]


@dataclass(frozen=True, slots=True)
class Keyless:
    """Keyless verification: the trusted CA certificates and the identities allowed to sign.

    A signature counts when its certificate chains (through the chain annotation's
    intermediates) to a trusted certificate, every certificate of the path is valid at the
    signing time, the issuers are CAs, the leaf allows code signing, its identity matches one
    of `identities`, and its public key verifies the signature over the payload.

    The signing time: with `log_keys` (trusted transparency logs), the integrated time of the
    signature's Rekor bundle, which must verify (`images.rekor`; a signature without one does
    not count), as `cosign verify` requires; without them, `now`, so a signature counts only
    while its certificate is valid (Fulcio's last ten minutes: configure the log's key).
    """

    roots: tuple[Any, ...]
    identities: tuple[Identity, ...]
    now: float
    log_keys: tuple[Any, ...] = ()  # images.rekor.LogKey

    def signer(self, sig: Signature, why: list[str] | None = None) -> str | None:
        """The identity that made the signature (None: not a valid keyless signature, and the
        reason appended to `why`)."""
        import datetime as dt

        from cryptography import x509

        why = why if why is not None else []
        try:
            leaf = x509.load_pem_x509_certificate(sig.certificate or b"")
            chain = x509.load_pem_x509_certificates(sig.chain) if sig.chain else []
        except ValueError:
            why.append("the certificate is not PEM")
            return None
        signed_at = self.now
        if self.log_keys:
            from kubefort.images.rekor import BundleError, verify_bundle

            if sig.bundle is None:
                why.append("no transparency-log bundle")
                return None
            try:
                signed_at = verify_bundle(
                    sig.bundle,
                    self.log_keys,
                    sig.signature,
                    sig.payload,
                    sig.certificate or b"",
                    statement=sig.statement,
                )
            except BundleError as exc:
                why.append(str(exc))
                return None
        when = dt.datetime.fromtimestamp(signed_at, dt.UTC)
        if not self._chains(leaf, chain, when):
            at = "when it was logged" if self.log_keys else "now"
            why.append(f"the certificate does not chain to a trusted CA certificate valid {at}")
            return None
        try:
            usages = {u.dotted_string for u in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value}
        except x509.ExtensionNotFound:
            usages = set()
        if CODE_SIGNING not in usages:
            why.append("the certificate is not for code signing")
            return None
        issuer, subjects = _issuer_of(leaf), _subjects_of(leaf)
        if not any(i.matches(issuer, subjects) for i in self.identities):
            why.append(f"{subjects[0] if subjects else 'no subject'} (issuer {issuer}) is not an allowed identity")
            return None
        key = TrustedKey("certificate", leaf.public_key(), "")
        if not key.verifies(sig.signature, sig.payload):
            why.append("the signature does not verify with the certificate's key")
            return None
        return f"{subjects[0]} (issuer {issuer})" if subjects else f"issuer {issuer}"

    def _chains(self, leaf: Any, chain: list[Any], when: Any) -> bool:
        from cryptography import x509

        def valid(c: Any) -> bool:
            return bool(c.not_valid_before_utc <= when <= c.not_valid_after_utc)

        def is_ca(c: Any) -> bool:
            try:
                return bool(c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
            except x509.ExtensionNotFound:
                return False

        trusted = {r.public_bytes(_der()) for r in self.roots}
        cert, pool, depth = leaf, [*chain, *self.roots], 0
        while depth < 5:
            if not valid(cert):
                return False
            if depth and cert.public_bytes(_der()) in trusted:
                return True
            issuer = next((c for c in pool if c.subject == cert.issuer and is_ca(c) and _issued(cert, c)), None)
            if issuer is None:
                return False
            if issuer.public_bytes(_der()) in trusted:
                return valid(issuer)
            cert, depth = issuer, depth + 1
        return False


def _der() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER


def _issued(cert: Any, issuer: Any) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# ---------------------------------------------------------------------------------------------
# attestations (cosign attest --key): in-toto statements in DSSE envelopes, `sha256-<hex>.att`
# ---------------------------------------------------------------------------------------------
DSSE = "application/vnd.dsse.envelope.v1+json"
IN_TOTO = "application/vnd.in-toto+json"
# where each predicate says when it was made (for a maximum age)
_TIMES = {
    "https://cosign.sigstore.dev/attestation/vuln/v1": ("metadata", "scanFinishedOn"),
    "https://slsa.dev/provenance/v1": ("runDetails", "metadata", "finishedOn"),
    "https://slsa.dev/provenance/v0.2": ("metadata", "buildFinishedOn"),
}


def attestation_tag(digest: str) -> str:
    algo, _, hexdigest = digest.partition(":")
    return f"{algo}-{hexdigest}.att"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what an envelope's signatures sign."""
    t = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


@dataclass(frozen=True, slots=True)
class Attestation:
    predicate_type: str
    statement: dict[str, Any]
    key: str  # the trusted key that signed it
    where: str

    def made_at(self) -> float | None:
        """When the predicate says it was made (Unix time; None: it does not say)."""
        import datetime as dt

        value: Any = self.statement.get("predicate")
        for k in _TIMES.get(self.predicate_type, ()):
            value = value.get(k) if isinstance(value, dict) else None
        if not isinstance(value, str):
            return None
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
        return (when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)).timestamp()


def verified_attestations(
    reg: Registry,
    repo: str,
    digest: str,
    keys: list[TrustedKey],
    skipped: list[str] | None = None,
    keyless: Keyless | None = None,
) -> list[Attestation]:
    """The attestations of the image signed by a trusted key, or by an allowed keyless identity
    (the layer's certificate, chain and bundle annotations, judged as for signatures), whose
    statement names its digest (others are left out: `skipped` says why for the unreadable ones)."""
    skipped = skipped if skipped is not None else []
    tag = attestation_tag(digest)
    m = reg.manifest(repo, tag)
    if m is None:
        return []
    where = f"{reg.host}/{repo}:{tag}"
    algo, _, hexdigest = digest.partition(":")
    out = []
    for i, layer in enumerate(_layers(m.body, where)):
        at = f"{where} layer {i}"
        blob_digest = layer.get("digest")
        if layer.get("mediaType") != DSSE or not isinstance(blob_digest, str) or not DIGEST_RE.match(blob_digest):
            continue
        try:
            envelope = orjson.loads(reg.blob(repo, blob_digest))
            payload = base64.b64decode(envelope["payload"], validate=True)
            payload_type = envelope["payloadType"]
            sigs = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
            statement = orjson.loads(payload)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            skipped.append(f"{at}: not a DSSE envelope of an in-toto statement")
            continue
        if payload_type != IN_TOTO or not isinstance(statement, dict):
            skipped.append(f"{at}: payload type {payload_type!r}, not an in-toto statement")
            continue
        signed = pae(payload_type, payload)
        key = next((k.name for k in keys for s in sigs if k.verifies(s, signed)), None)
        found_annotations = layer.get("annotations")
        annotations: dict[str, Any] = found_annotations if isinstance(found_annotations, dict) else {}
        cert = annotations.get(CERT_ANNOTATION)
        if key is None and keyless is not None and isinstance(cert, str) and cert:
            chain, bundle = annotations.get(CHAIN_ANNOTATION), annotations.get(BUNDLE_ANNOTATION)
            for s in sigs:
                found = Signature(
                    signed,
                    s,
                    at,
                    cert.encode(),
                    chain.encode() if isinstance(chain, str) and chain else None,
                    bundle.encode() if isinstance(bundle, str) and bundle else None,
                    statement=payload,
                )
                key = keyless.signer(found)
                if key is not None:
                    break
        if key is None:
            continue
        subjects = statement.get("subject")
        names = isinstance(subjects, list) and any(
            isinstance(s, dict) and isinstance(s.get("digest"), dict) and s["digest"].get(algo) == hexdigest
            for s in subjects
        )
        predicate_type = statement.get("predicateType")
        if names and isinstance(predicate_type, str):
            out.append(Attestation(predicate_type, statement, key, at))
    return out
