"""Keyless signatures with a transparency-log proof (kubefort.images.rekor), against the real
registry and cosign of test_images_signatures: the payload comes from `cosign generate`, the
signature, certificate, chain and Rekor bundle are attached by `cosign attach signature`.

The log is a test one: its key signs each bundle's entry timestamp as Rekor does (ECDSA P-256
over the canonical JSON of body, integratedTime, logID and logIndex), so that certificates that
expired since (as every Fulcio certificate does after ten minutes) verify at the logged time, and
every way a bundle can fail to prove that time is refused with its reason.

`cosign attach signature --rekor-response` checks its argument against a real log and writes no
bundle annotation here, so the test adds the annotation to cosign's layer itself, in the form
`cosign sign` writes (cosign's specs/SIGNATURE_SPEC.md: `dev.sigstore.cosign/bundle`)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

import test_images_signatures
from kubefort.images.cosign import BUNDLE_ANNOTATION, Identity, Keyless, signature_tag, verify_image
from kubefort.images.rekor import BundleError, LogKey, log_key, read_trust, verify_bundle
from test_admission_serve import new_ca
from test_images_signatures import GITHUB, WORKFLOW, World, _put

world = test_images_signatures.world  # the registry fixture (a module's own: one registry per module)

OURS = Identity(GITHUB, r"https://github\.com/acme/.*")


class Log:
    """A test transparency log: its key, and bundles for entries it "integrated"."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.key = ec.generate_private_key(ec.SECP256R1())
        self.pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.log_id = hashlib.sha256(self.der).hexdigest()

    def public(self) -> LogKey:
        return log_key(self.pem, "test-log")

    def bundle(self, payload: bytes, signature: bytes, cert_pem: bytes, at: int, **tamper: Any) -> bytes:
        """The bundle cosign keeps for a hashedrekord entry; `tamper` overrides fields after signing."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        entry = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()}},
                "signature": {
                    "content": base64.b64encode(signature).decode(),
                    "publicKey": {"content": base64.b64encode(cert_pem).decode()},
                },
            },
        }
        entry.update(tamper.pop("entry", {}))
        body = base64.b64encode(orjson.dumps(entry)).decode()
        signed = {"body": body, "integratedTime": at, "logID": self.log_id, "logIndex": 7}
        canonical = orjson.dumps(signed, option=orjson.OPT_SORT_KEYS)
        set_ = self.key.sign(canonical, ec.ECDSA(hashes.SHA256()))
        signed.update(tamper)
        return orjson.dumps({"SignedEntryTimestamp": base64.b64encode(set_).decode(), "Payload": signed})


def _expired_leaf(ca: Any, d: Path, name: str) -> tuple[Path, Any, int]:
    """A Fulcio-like certificate valid for one minute that ended two minutes ago, its key, and a
    time inside its validity (when the log integrated the signature)."""
    from cryptography.hazmat.primitives import serialization

    from test_images_signatures import _leaf

    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=3)
    cert, key = _leaf(ca, d, name, hours=1 / 60, not_before=start)
    return cert, serialization.load_pem_private_key(key.read_bytes(), None), int(start.timestamp()) + 30


@pytest.fixture(scope="module")
def fulcio(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return new_ca(tmp_path_factory.mktemp("fulcio"))


def _attach(world: World, ca: Any, repo: str, digest: str, d: Path, name: str, log: Log | None, **tamper: Any) -> None:
    """`cosign generate` the payload, sign it with an expired certificate's key, and `cosign
    attach signature` it with the certificate, chain and (unless `log` is None) a bundle."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    cert, key, at = _expired_leaf(ca, d, name)
    payload = world.run("cosign", "generate", f"{world.host}/{repo}@{digest}").encode()
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    (d / f"{name}.payload").write_bytes(payload)
    (d / f"{name}.sig").write_text(base64.b64encode(signature).decode())
    args = [
        "attach", "signature", "--payload", str(d / f"{name}.payload"), "--signature", str(d / f"{name}.sig"),
        "--certificate", str(cert), "--certificate-chain", str(ca.path),
    ]  # fmt: skip
    world.run("cosign", *args, f"{world.host}/{repo}@{digest}")
    if log is not None:
        when = tamper.pop("at", at)
        bundle = log.bundle(payload, signature, cert.read_bytes(), when, **tamper)
        tag = signature_tag(digest)
        m = world.registry().manifest(repo, tag)
        assert m is not None
        (layer,) = m.body["layers"]
        layer["annotations"][BUNDLE_ANNOTATION] = bundle.decode()
        _put(world, repo, f"manifests/{tag}", orjson.dumps(m.body), "application/vnd.oci.image.manifest.v1+json")


def test_an_expired_certificate_verifies_at_the_time_the_log_proves(world: World, fulcio: Any, tmp_path: Path) -> None:
    log, rogue_log = Log(), Log()
    now = time.time()
    roots = (fulcio.cert,)
    digests = {}
    tampered: dict[str, dict[str, Any]] = {
        "good": {},
        "no-bundle": {},
        "other-log": {},
        "late": {"at": int(now)},  # logged after the certificate expired
        "moved-time": {"integratedTime": 1},  # the time changed after the log signed it
        "other-payload": {"entry": {"spec": {"data": {"hash": {"algorithm": "sha256", "value": "00" * 32}}}}},
    }
    for name, tamper in tampered.items():
        digests[name] = world.push(f"rekor/{name}:v1", f"rekor {name}")
        signer = None if name == "no-bundle" else rogue_log if name == "other-log" else log
        _attach(world, fulcio, f"rekor/{name}", digests[name], tmp_path, name, signer, **tamper)

    def verdict(name: str, logs: tuple[LogKey, ...] = (log.public(),)) -> tuple[str, str]:
        v = verify_image(world.registry(), f"rekor/{name}", digests[name], [], Keyless(roots, (OURS,), now, logs))
        return v.status, v.message

    assert verdict("good") == ("verified", f"signed by {WORKFLOW} (issuer {GITHUB})")
    # without a trusted log the certificate is judged now, and it has expired
    assert verdict("good", ()) == (
        "untrusted",
        "1 signature, none by a trusted key (keyless: the certificate does not chain to a trusted CA certificate "
        "valid now)",
    )
    reasons = {
        "no-bundle": "no transparency-log bundle",
        "other-log": f"logged by an untrusted log ({rogue_log.log_id[:16]}...)",
        "late": "the certificate does not chain to a trusted CA certificate valid when it was logged",
        "moved-time": "the log's signed entry timestamp does not verify",
        "other-payload": "the logged entry is for another payload",
    }
    for name, why in reasons.items():
        assert verdict(name) == ("untrusted", f"1 signature, none by a trusted key (keyless: {why})"), name
    # the log key's validity period bounds the times it can prove
    ended = LogKey(log.public().key, 0.0, now - 3600)
    assert verdict("good", (ended,))[1].endswith("(keyless: logged at a time the log's key was not valid for)")


def test_a_bundle_binds_signature_payload_and_certificate(fulcio: Any, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    log = Log()
    cert, key, at = _expired_leaf(fulcio, tmp_path, "leaf")
    other_cert, _, _ = _expired_leaf(fulcio, tmp_path, "other")
    payload = b'{"critical": {}}'
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    pem = cert.read_bytes()
    good = log.bundle(payload, signature, pem, at)
    assert verify_bundle(good, (log.public(),), signature, payload, pem) == at
    cases = {
        "the logged entry is for another payload": (good, signature, payload + b" ", pem),
        "the logged entry is for another signature": (good, key.sign(payload, ec.ECDSA(hashes.SHA256())), payload, pem),
        "the logged entry is for another certificate": (good, signature, payload, other_cert.read_bytes()),
        "the bundle is not JSON": (b"<html>", signature, payload, pem),
        "the logged entry has no Payload.body": (b'{"Payload": {}}', signature, payload, pem),
        "a logged entry of kind 'rekord', not hashedrekord 0.0.1": (
            log.bundle(payload, signature, pem, at, entry={"kind": "rekord"}), signature, payload, pem,
        ),
        "the bundle's integratedTime, logIndex and logID are not two integers and a string": (
            log.bundle(payload, signature, pem, at, integratedTime="soon"), signature, payload, pem,
        ),
        "the signed entry timestamp is not base64": (
            orjson.dumps({**orjson.loads(good), "SignedEntryTimestamp": "%%"}), signature, payload, pem,
        ),
    }  # fmt: skip
    for why, (bundle, sig, data, cert_pem) in cases.items():
        with pytest.raises(BundleError) as err:
            verify_bundle(bundle, (log.public(),), sig, data, cert_pem)
        assert str(err.value) == why


def _trusted_root(fulcio: Any, log: Log, *, log_end: str | None = None) -> bytes:
    """A Sigstore trusted_root.json (protobuf-specs TrustedRoot, JSON form) of the test CA and log."""
    from cryptography.hazmat.primitives import serialization

    valid: dict[str, str] = {"start": "2020-01-01T00:00:00Z"}
    if log_end:
        valid["end"] = log_end
    return orjson.dumps(
        {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [
                {
                    "baseUrl": "https://rekor.test",
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": {
                        "rawBytes": base64.b64encode(log.der).decode(),
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "validFor": valid,
                    },
                    "logId": {"keyId": base64.b64encode(bytes.fromhex(log.log_id)).decode()},
                }
            ],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "test", "commonName": "kubefort-test-ca"},
                    "uri": "https://fulcio.test",
                    "certChain": {
                        "certificates": [
                            {
                                "rawBytes": base64.b64encode(
                                    fulcio.cert.public_bytes(serialization.Encoding.DER)
                                ).decode()
                            }
                        ]
                    },
                    "validFor": {"start": "2020-01-01T00:00:00Z"},
                }
            ],
            "ctlogs": [],
            "timestampAuthorities": [],
        }
    )


def test_trusted_root_json_gives_the_cas_and_the_logs(fulcio: Any) -> None:
    log = Log()
    roots, logs = read_trust(_trusted_root(fulcio, log, log_end="2030-01-01T00:00:00Z"), "trusted_root.json")
    assert [r.subject for r in roots] == [fulcio.cert.subject]
    assert [(k.log_id, k.start, k.end) for k in logs] == [
        (log.log_id, dt.datetime(2020, 1, 1, tzinfo=dt.UTC).timestamp(), dt.datetime(2030, 1, 1, tzinfo=dt.UTC).timestamp())
    ]  # fmt: skip
    for data, why in [
        (b'{"mediaType": "application/json"}', "not a Sigstore trusted root"),
        (b"{nope", "not JSON"),
        (b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}', "no certificate authorities"),
        (
            b'{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1", '
            b'"certificateAuthorities": [{"certChain": {"certificates": [{"rawBytes": "AAAA"}]}}]}',
            "certificateAuthorities[0].certChain.certificates[0].rawBytes: not a base64 DER certificate",
        ),
    ]:
        with pytest.raises(ValueError, match=r"trusted_root\.json") as err:
            read_trust(data, "trusted_root.json")
        assert why in str(err.value)


def test_scan_with_a_trusted_root_json(
    world: World, fulcio: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml
    from click.testing import CliRunner

    from kubefort.cli import cli
    from test_images_signatures import _deployment

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    log = Log()
    logged = world.push("tr/logged:v1", "tr logged")
    _attach(world, fulcio, "tr/logged", logged, tmp_path, "logged", log)
    unlogged = world.push("tr/unlogged:v1", "tr unlogged")
    _attach(world, fulcio, "tr/unlogged", unlogged, tmp_path, "unlogged", None)
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(
        yaml.safe_dump_all(
            [_deployment("logged", f"{world.host}/tr/logged@{logged}"), _deployment("unlogged", f"{world.host}/tr/unlogged@{unlogged}")]
        )
    )  # fmt: skip
    root = tmp_path / "trusted_root.json"
    cfg = tmp_path / ".kubefort.yaml"
    cfg.write_text(
        f"image_verification:\n  trusted_roots: {root}\n  ca_file: {world.ca}\n  cache_hours: 0\n"
        f"  policies:\n  - images: ['{world.host}/tr/*']\n"
        f"    identities: [{{issuer: '{GITHUB}', subject_regexp: 'https://github\\.com/acme/.*'}}]\n"
    )

    def outcomes() -> dict[str, tuple[str, str]]:
        out = tmp_path / "report.json"
        res = CliRunner().invoke(
            cli, ["scan", str(tmp_path / "k8s"), "--config", str(cfg), "--checks", "KF-IMG-011", "--include-passed",
                  "-q", "-o", f"json={out}"], catch_exceptions=False,
        )  # fmt: skip
        assert res.exit_code in (0, 1), res.output
        return {
            r["resource"]["name"]: (r["outcome"], r["message"])
            for r in orjson.loads(out.read_bytes())["results"]
            if r["check_id"] == "KF-IMG-011"
        }

    root.write_bytes(_trusted_root(fulcio, log))
    got = outcomes()
    assert got["logged"][0] == "passed"
    assert got["unlogged"][0] == "failed" and "no transparency-log bundle" in got["unlogged"][1]
    # a log key that stopped being valid before the entry was logged proves nothing
    root.write_bytes(_trusted_root(fulcio, log, log_end="2021-01-01T00:00:00Z"))
    assert outcomes()["logged"][0] == "failed"
    # the same log's key given as a PEM file beside a PEM bundle of CA certificates
    (tmp_path / "rekor.pub").write_bytes(log.pem)
    cfg.write_text(
        cfg.read_text().replace(f"trusted_roots: {root}", f"trusted_roots: {fulcio.path}\n  transparency_log_keys: [rekor.pub]")
    )  # fmt: skip
    assert {k: v[0] for k, v in outcomes().items()} == {"logged": "passed", "unlogged": "failed"}


# ---------------------------------------------------------------------------------------------
# keyless attestations: `cosign attest` with a certificate; with a log, an intoto v0.0.2 bundle
# ---------------------------------------------------------------------------------------------
def _intoto_bundle(log: Log, statement: bytes, envelope_sig: str, cert_pem: bytes, at: int) -> bytes:
    """The bundle of an intoto v0.0.2 entry (rekor's pkg/types/intoto/v0.0.2: each `sig` is the
    envelope's base64 signature text, base64-encoded again)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    entry = {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payloadType": "application/vnd.in-toto+json",
                    "signatures": [
                        {
                            "sig": base64.b64encode(envelope_sig.encode()).decode(),
                            "publicKey": base64.b64encode(cert_pem).decode(),
                        }
                    ],
                },
                "hash": {"algorithm": "sha256", "value": "00" * 32},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(statement).hexdigest()},
            }
        },
    }
    body = base64.b64encode(orjson.dumps(entry)).decode()
    signed = {"body": body, "integratedTime": at, "logID": log.log_id, "logIndex": 9}
    set_ = log.key.sign(orjson.dumps(signed, option=orjson.OPT_SORT_KEYS), ec.ECDSA(hashes.SHA256()))
    return orjson.dumps({"SignedEntryTimestamp": base64.b64encode(set_).decode(), "Payload": signed})


def test_keyless_attestations_verify_by_identity_and_log(world: World, fulcio: Any, tmp_path: Path) -> None:
    from kubefort.images.cosign import attestation_tag, verified_attestations
    from test_images_signatures import _leaf, _vuln_predicate, import_key

    cert, key = _leaf(fulcio, tmp_path, "attester")
    cosign_key = import_key(world.env, key, tmp_path / "attester-keys")
    digest = world.push("ka/app:v1", "keyless attested app")
    world.run(
        "cosign", "attest", "--key", str(cosign_key), "--certificate", str(cert),
        "--certificate-chain", str(fulcio.path), "--tlog-upload=false", "--yes", "--type", "vuln",
        "--predicate", str(_vuln_predicate(tmp_path, "2026-12-01T00:00:00Z")), f"{world.host}/ka/app@{digest}",
    )  # fmt: skip
    now = time.time()
    roots = (fulcio.cert,)

    def found(keyless: Keyless | None) -> list[tuple[str, str]]:
        got = verified_attestations(world.registry(), "ka/app", digest, [], keyless=keyless)
        return [(a.predicate_type, a.key) for a in got]

    vuln = "https://cosign.sigstore.dev/attestation/vuln/v1"
    assert found(Keyless(roots, (OURS,), now)) == [(vuln, f"{WORKFLOW} (issuer {GITHUB})")]
    assert found(Keyless(roots, (Identity(GITHUB, "https://github.com/other/.*"),), now)) == []
    assert found(None) == []  # no key and no keyless policy: nothing counts
    # with a trusted log the attestation needs its intoto entry, bound to the statement and signature
    log = Log()
    logs = (log.public(),)
    assert found(Keyless(roots, (OURS,), now, logs)) == []  # no bundle yet
    tag = attestation_tag(digest)
    m = world.registry().manifest("ka/app", tag)
    assert m is not None
    (layer,) = m.body["layers"]
    envelope = orjson.loads(world.registry().blob("ka/app", layer["digest"]))
    statement = base64.b64decode(envelope["payload"])
    for bundle, ok in [
        (_intoto_bundle(log, statement, envelope["signatures"][0]["sig"], cert.read_bytes(), int(now)), True),
        (_intoto_bundle(log, statement + b" ", envelope["signatures"][0]["sig"], cert.read_bytes(), int(now)), False),
        (log.bundle(statement, b"x", cert.read_bytes(), int(now)), False),  # a hashedrekord: not this entry
    ]:
        layer["annotations"][BUNDLE_ANNOTATION] = bundle.decode()
        _put(world, "ka/app", f"manifests/{tag}", orjson.dumps(m.body), "application/vnd.oci.image.manifest.v1+json")
        assert bool(found(Keyless(roots, (OURS,), now, logs))) is ok
