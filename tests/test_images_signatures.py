"""Cosign key-pair signatures (kubefort.images.cosign) read from a real OCI registry
(kubefort.images.oci): the CNCF distribution registry on 127.0.0.1 with TLS, images pushed with
crane and signed with cosign, all three built from the Go module proxy by
tools/install-test-registry.sh. Verification passes for the right key and fails for another key,
a re-tagged image, a tampered payload, a signature of a different digest and a missing
signature; an unreachable, untrusted or hostile registry is a RegistryError (not evaluated),
never a pass."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import tool_missing
from kubefort.images.cosign import (
    SIG_ANNOTATION,
    SIMPLESIGNING,
    TrustedKey,
    load_key,
    signature_tag,
    signed_digest,
    verify_image,
)
from kubefort.images.oci import Credentials, Registry, RegistryError, docker_credentials
from test_admission_serve import new_ca

TOOLS = Path(os.environ.get("KUBEFORT_TOOLS_DIR", str(Path.home() / ".cache" / "kubefort" / "tools"))) / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    d: Path
    host: str
    ca: Path
    env: dict[str, str]
    trusted: TrustedKey
    other: TrustedKey

    def run(self, tool: str, *args: str) -> str:
        p = subprocess.run(
            [str(TOOLS / tool), *args], cwd=self.d, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, f"{tool} {' '.join(args)}:\n{p.stderr}"
        return p.stdout.strip()

    def push(self, repo_tag: str, content: str) -> str:
        """An image of one layer holding `content` at host/repo_tag; its digest."""
        layer = self.d / f"layer-{hashlib.sha256(content.encode()).hexdigest()[:12]}"
        layer.mkdir(exist_ok=True)
        (layer / "f.txt").write_text(content)
        subprocess.run(["tar", "cf", f"{layer}.tar", "-C", str(layer), "f.txt"], check=True)
        self.run("crane", "append", "-f", f"{layer}.tar", "-t", f"{self.host}/{repo_tag}")
        return self.run("crane", "digest", f"{self.host}/{repo_tag}")

    def sign(self, key: str, repo: str, digest: str) -> None:
        self.run("cosign", "sign", "--key", key, "--tlog-upload=false", "--yes", f"{self.host}/{repo}@{digest}")

    def registry(self) -> Registry:
        return Registry(self.host, ca_file=str(self.ca))


def write_registry_config(d: Path, addr: str, crt: Path, key: Path, extra: str = "") -> None:
    """`d/config.yml` of a TLS registry storing in `d/data`; `extra`: more top-level YAML lines."""
    (d / "config.yml").write_text(
        "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {d / 'data'}}}}}\n{extra}"
        f"http: {{addr: '{addr}', secret: test, tls: {{certificate: {crt}, key: {key}}}}}\n"
    )


@contextlib.contextmanager
def serve_registry(d: Path, port: int) -> Iterator[None]:
    """The CNCF distribution registry serving `d/config.yml` (listening on `port`) until the block ends."""
    log = open(d / "registry.log", "wb")
    proc = subprocess.Popen(
        [str(TOOLS / "registry"), "serve", str(d / "config.yml")],
        stdout=log,
        stderr=log,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "none"},  # it would export traces to localhost:4318
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (d / "registry.log").read_text()
                time.sleep(0.1)
        yield
    finally:
        proc.kill()
        proc.wait()
        log.close()


def import_key(env: dict[str, str], key: Path, d: Path) -> Path:
    """`cosign import-key-pair` of a PEM private key into `d`: the cosign key file."""
    d.mkdir(exist_ok=True)
    p = subprocess.run(
        [str(TOOLS / "cosign"), "import-key-pair", "--key", str(key)], cwd=d, env=env, capture_output=True, text=True
    )
    assert p.returncode == 0, p.stderr
    return d / "import-cosign.key"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    missing = [t for t in ("registry", "crane", "cosign") if not (TOOLS / t).is_file()]
    if missing:
        tool_missing(f"{', '.join(missing)} not built: run `bash tools/install-test-registry.sh` (needs Go)")
    d = tmp_path_factory.mktemp("registry")
    ca = new_ca(d)
    crt, key = ca.issue(d, "registry")
    port = _free_port()
    write_registry_config(d, f"127.0.0.1:{port}", crt, key)
    env = {
        **os.environ,
        "SSL_CERT_FILE": str(ca.path),  # crane and cosign (Go) trust the test CA
        "COSIGN_PASSWORD": "test",
        "HOME": str(d),  # no docker config, no cosign state of the user's
    }
    with serve_registry(d, port):
        keys = []
        for name in ("trusted", "other"):
            (d / name).mkdir()
            subprocess.run(
                [str(TOOLS / "cosign"), "generate-key-pair"], cwd=d / name, env=env, check=True, capture_output=True
            )
            keys.append(load_key((d / name / "cosign.pub").read_bytes(), f"{name}.pub"))
        yield World(d, f"127.0.0.1:{port}", ca.path, env, keys[0], keys[1])


def _put(world: World, repo: str, path: str, body: bytes, content_type: str) -> None:
    import urllib3

    pool = urllib3.PoolManager(ca_certs=str(world.ca))
    base = f"https://{world.host}/v2/{repo}"
    if path.startswith("blobs/"):
        r = pool.request("POST", f"{base}/blobs/uploads/")
        assert r.status == 202, r.data
        loc = r.headers["Location"]
        url = loc if loc.startswith("http") else f"https://{world.host}{loc}"
        sep = "&" if "?" in url else "?"
        r = pool.request("PUT", f"{url}{sep}digest={path.removeprefix('blobs/')}", body=body,
                         headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    else:
        r = pool.request("PUT", f"{base}/{path}", body=body, headers={"Content-Type": content_type})
    assert r.status == 201, r.data


def _signature_manifest(
    world: World, repo: str, tag: str, payload: bytes, signature: bytes, extra: dict[str, str] | None = None
) -> None:
    """Store a cosign-format signature manifest by hand (the registry API, as cosign does)."""
    config = b"{}"
    blobs = {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in (payload, config)}
    for digest, body in blobs.items():
        _put(world, repo, f"blobs/{digest}", body, "")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": SIMPLESIGNING,
                "digest": "sha256:" + hashlib.sha256(payload).hexdigest(),
                "size": len(payload),
                "annotations": {SIG_ANNOTATION: base64.b64encode(signature).decode(), **(extra or {})},
            }
        ],
    }
    _put(world, repo, f"manifests/{tag}", orjson.dumps(manifest), "application/vnd.oci.image.manifest.v1+json")


def _only_signature(world: World, repo: str, digest: str) -> tuple[bytes, bytes]:
    m = world.registry().manifest(repo, signature_tag(digest))
    assert m is not None
    (layer,) = m.body["layers"]
    payload = world.registry().blob(repo, layer["digest"])
    return payload, base64.b64decode(layer["annotations"][SIG_ANNOTATION])


# ---------------------------------------------------------------------------------------------
# against the real registry, cosign and crane
# ---------------------------------------------------------------------------------------------
def test_a_signature_by_the_trusted_key_verifies(world: World) -> None:
    digest = world.push("shop/web:v1", "web v1")
    world.sign("trusted/cosign.key", "shop/web", digest)
    reg = world.registry()
    m = reg.manifest("shop/web", "v1")
    assert m is not None and m.digest == digest
    v = verify_image(reg, "shop/web", digest, [world.other, world.trusted])
    assert (v.status, v.key, v.signatures) == ("verified", "trusted.pub", 1)
    assert v.message == "signed by trusted.pub"
    # what cosign signed names this digest
    payload, _ = _only_signature(world, "shop/web", digest)
    assert signed_digest(payload) == digest


def test_another_key_is_untrusted(world: World) -> None:
    digest = world.push("shop/api:v1", "api v1")
    world.sign("other/cosign.key", "shop/api", digest)
    v = verify_image(world.registry(), "shop/api", digest, [world.trusted])
    assert (v.status, v.signatures) == ("untrusted", 1)
    assert v.message == "1 signature, none by a trusted key"
    assert verify_image(world.registry(), "shop/api", digest, [world.other]).status == "verified"


def test_a_missing_signature_is_unsigned(world: World) -> None:
    digest = world.push("shop/cart:v1", "cart v1")
    v = verify_image(world.registry(), "shop/cart", digest, [world.trusted])
    assert (v.status, v.signatures, v.message) == ("unsigned", 0, "no cosign signature in the registry")


def test_a_retagged_image_is_not_covered_by_the_old_signature(world: World) -> None:
    old = world.push("shop/pay:v1", "pay v1")
    world.sign("trusted/cosign.key", "shop/pay", old)
    new = world.push("shop/pay:v1", "pay v1, rebuilt")  # the same tag now names another image
    reg = world.registry()
    m = reg.manifest("shop/pay", "v1")
    assert m is not None and m.digest == new != old
    assert verify_image(reg, "shop/pay", new, [world.trusted]).status == "unsigned"
    assert verify_image(reg, "shop/pay", old, [world.trusted]).status == "verified"


def test_a_signature_of_a_different_digest_proves_nothing(world: World) -> None:
    signed = world.push("shop/mail:v1", "mail v1")
    world.sign("trusted/cosign.key", "shop/mail", signed)
    other = world.push("shop/mail:v2", "mail v2")
    # the signed image's signature copied to the other image's signature tag
    world.run(
        "crane",
        "cp",
        f"{world.host}/shop/mail:{signature_tag(signed)}",
        f"{world.host}/shop/mail:{signature_tag(other)}",
    )
    v = verify_image(world.registry(), "shop/mail", other, [world.trusted])
    assert (v.status, v.key, v.signed_digests) == ("other-digest", "trusted.pub", (signed,))
    assert v.message == f"signed by trusted.pub for another digest ({signed}), none for {other}"


def test_a_tampered_payload_does_not_verify(world: World) -> None:
    signed = world.push("shop/auth:v1", "auth v1")
    world.sign("trusted/cosign.key", "shop/auth", signed)
    target = world.push("shop/auth:v2", "auth v2")
    payload, signature = _only_signature(world, "shop/auth", signed)
    # the payload edited to name the other image, the signature kept
    tampered = payload.replace(signed.encode(), target.encode())
    assert tampered != payload and signed_digest(tampered) == target
    _signature_manifest(world, "shop/auth", signature_tag(target), tampered, signature)
    v = verify_image(world.registry(), "shop/auth", target, [world.trusted])
    assert (v.status, v.signatures) == ("untrusted", 1)
    # the untouched payload under the same tag would verify: the test is of the tampering alone
    _signature_manifest(world, "shop/auth", signature_tag(signed), payload, signature)
    assert verify_image(world.registry(), "shop/auth", signed, [world.trusted]).status == "verified"


def test_malformed_signature_layers_are_skipped_with_the_reason(world: World) -> None:
    digest = world.push("shop/odd:v1", "odd v1")
    _signature_manifest(world, "shop/odd", signature_tag(digest), b"not json", b"\x00" * 8)
    v = verify_image(world.registry(), "shop/odd", digest, [world.trusted])
    assert (v.status, v.signatures) == ("untrusted", 1)  # read, verified by no key: never a pass


def test_an_untrusted_certificate_or_a_closed_port_is_an_error_not_a_pass(world: World, tmp_path: Path) -> None:
    digest = world.push("shop/tls:v1", "tls v1")
    with pytest.raises(RegistryError, match=r"certificate verify failed|CERTIFICATE_VERIFY_FAILED"):
        verify_image(Registry(world.host, ca_file=str(new_ca(tmp_path).path)), "shop/tls", digest, [world.trusted])
    with pytest.raises(RegistryError, match=r"127\.0\.0\.1"):
        verify_image(Registry(f"127.0.0.1:{_free_port()}", timeout=2), "shop/tls", digest, [world.trusted])
    assert world.registry().manifest("shop/none", "v1") is None  # a repository without it: 404, None


# ---------------------------------------------------------------------------------------------
# hostile registries (a tiny HTTP server standing for a broken or malicious one)
# ---------------------------------------------------------------------------------------------
class _Hostile(http.server.BaseHTTPRequestHandler):
    mode = "html"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        mode = type(self).mode
        if mode == "html":
            body = b"<html><body>Sign in to continue</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
        elif mode == "redirect":
            self.send_response(302)
            self.send_header("Location", self.path)
            body = b""
        elif mode == "huge":
            body = b"{" + b" " * (5 << 20) + b"}"
            self.send_response(200)
        elif mode == "lying-length":  # no Content-Length: the bound is on what is read
            self.send_response(200)
            self.end_headers()
            for _ in range(6):
                self.wfile.write(b" " * (1 << 20))
            return
        elif mode == "slow":
            time.sleep(3)
            body = b"{}"
            self.send_response(200)
        elif mode == "challenge":
            body = b""
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Negotiate realm="corp"')
        else:
            body = b""
            self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def hostile() -> Iterator[type[_Hostile]]:
    handler = type("Handler", (_Hostile,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler.port = server.server_address[1]  # type: ignore[attr-defined]
    yield handler
    server.shutdown()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("html", "answered text/html, not JSON"),
        ("redirect", "more than 3 redirects"),
        ("huge", "more than the 4,194,304 read"),
        ("lying-length", "more than the 4,194,304 bytes read"),
        ("slow", "timed out"),
        ("challenge", "authentication challenge kubefort cannot answer"),
        ("error", "answered 500"),
    ],
)
def test_hostile_registries_are_errors_never_passes(hostile: Any, mode: str, message: str) -> None:
    hostile.mode = mode
    reg = Registry(f"127.0.0.1:{hostile.port}", plain_http=True, timeout=1)
    with pytest.raises(RegistryError, match=message):
        verify_image(reg, "app", "sha256:" + "a" * 64, [])


# ---------------------------------------------------------------------------------------------
# keys and credentials
# ---------------------------------------------------------------------------------------------
def test_keys_load_from_pem_and_anything_else_is_refused(world: World) -> None:
    assert world.trusted.fingerprint != world.other.fingerprint and len(world.trusted.fingerprint) == 64
    with pytest.raises(ValueError, match="not a PEM public key"):
        load_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "broken.pub")
    with pytest.raises(ValueError, match="not a PEM public key"):
        load_key((world.d / "trusted" / "cosign.key").read_bytes(), "cosign.key")  # the private key


def test_docker_config_credentials() -> None:
    auth = base64.b64encode(b"robot:s3cret").decode()
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
            "registry.example.com": {"auth": auth},
            "https://ghcr.io": {"username": "u", "password": "p"},
            "bad.example.com": {"auth": "%%%"},
        }
    }
    assert docker_credentials("registry.example.com", config) == Credentials("robot", "s3cret")
    assert docker_credentials("docker.io", config) == Credentials("hub", "pw")
    assert docker_credentials("ghcr.io", config) == Credentials("u", "p")
    assert docker_credentials("bad.example.com", config) is None
    assert docker_credentials("quay.io", config) is None
    assert docker_credentials("quay.io", {"auths": []}) is None


# ---------------------------------------------------------------------------------------------
# KF-IMG-011 and KF-IMG-012 in `kubefort scan`, with image_verification in .kubefort.yaml
# ---------------------------------------------------------------------------------------------
def _deployment(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def _scan(d: Path, *args: str) -> tuple[int, dict[tuple[str, str], tuple[str, str]]]:
    """`kubefort scan d` with its .kubefort.yaml: exit code and {(check, object): (status, message)}."""
    from click.testing import CliRunner

    from kubefort.cli import cli

    out = d / "report.json"
    res = CliRunner().invoke(
        cli,
        ["scan", str(d / "k8s"), "--config", str(d / ".kubefort.yaml"), "--checks", "KF-IMG-011,KF-IMG-012",
         "--include-passed", "-q", "-o", f"json={out}", *args],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code in (0, 1, 3), res.output
    doc = orjson.loads(out.read_bytes())
    return res.exit_code, {
        (r["check_id"], r["resource"]["name"]): (r["outcome"], r.get("message") or "")
        for r in doc["results"]
        if r["check_id"] in ("KF-IMG-011", "KF-IMG-012")
    }


@pytest.fixture
def project(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A project whose policy covers 127.0.0.1:PORT/team/*, signed with trusted.pub."""
    import yaml

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))  # no credentials of the user's
    signed = world.push("team/web:v1", "team web v1")
    world.sign("trusted/cosign.key", "team/web", signed)
    unsigned = world.push("team/api:v1", "team api v1")
    other = world.push("team/jobs:v1", "team jobs v1")
    world.sign("other/cosign.key", "team/jobs", other)
    elsewhere = world.push("tools/debug:v1", "tools debug v1")
    h = world.host
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(
        yaml.safe_dump_all(
            [
                _deployment("signed", f"{h}/team/web@{signed}"),
                _deployment("by-tag", f"{h}/team/web:v1"),
                _deployment("unsigned", f"{h}/team/api@{unsigned}"),
                _deployment("other-key", f"{h}/team/jobs@{other}"),
                _deployment("elsewhere", f"{h}/tools/debug@{elsewhere}"),
            ]
        )
    )
    (tmp_path / ".kubefort.yaml").write_text(
        "image_verification:\n"
        f"  policies:\n  - images: ['{h}/team/*']\n    keys: ['{world.d / 'trusted' / 'cosign.pub'}']\n"
        f"  ca_file: {world.ca}\n"
    )
    return tmp_path, {"signed": signed, "unsigned": unsigned, "other": other}


def test_scan_judges_signatures_under_the_policy(project: tuple[Path, dict[str, str]], world: World) -> None:
    d, digests = project
    code, got = _scan(d)
    h = world.host
    assert code == 1
    assert got == {
        ("KF-IMG-011", "signed"): ("passed", ""),
        ("KF-IMG-011", "by-tag"): ("passed", ""),  # the digest the tag names now is signed
        ("KF-IMG-011", "unsigned"): (
            "failed",
            f"container 'app' runs {h}/team/api@{digests['unsigned']}: no cosign signature in the registry",
        ),
        ("KF-IMG-011", "other-key"): (
            "failed",
            f"container 'app' runs {h}/team/jobs@{digests['other']}: 1 signature, none by a trusted key",
        ),
        ("KF-IMG-011", "elsewhere"): ("passed", ""),  # no policy names tools/*
        ("KF-IMG-012", "signed"): ("passed", ""),
        ("KF-IMG-012", "by-tag"): (
            "failed",
            f"container 'app' references {h}/team/web:v1, which a signature policy covers, by tag",
        ),
        ("KF-IMG-012", "unsigned"): ("passed", ""),
        ("KF-IMG-012", "other-key"): ("passed", ""),
        ("KF-IMG-012", "elsewhere"): ("passed", ""),
    }


def test_offline_and_an_unreachable_registry_are_not_evaluated(
    project: tuple[Path, dict[str, str]], world: World
) -> None:
    d, _ = project
    code, got = _scan(d, "--offline")
    assert code == 3
    assert got[("KF-IMG-011", "signed")] == (
        "not-evaluated",
        f"container 'app': {world.host}/team/web: --offline: the registry is not asked",
    )
    assert got[("KF-IMG-012", "by-tag")][0] == "failed"  # needs no registry
    # a CA that does not sign the registry's certificate: never a pass
    cfg = (d / ".kubefort.yaml").read_text().replace(str(world.ca), str(new_ca(d).path))
    (d / ".kubefort.yaml").write_text(cfg.replace("ca_file:", "cache_hours: 0\n  ca_file:"))
    code, got = _scan(d)
    assert code == 3
    status, message = got[("KF-IMG-011", "unsigned")]
    assert status == "not-evaluated" and "the registry could not be read" in message


def test_verified_digests_are_cached_and_only_those(project: tuple[Path, dict[str, str]], world: World) -> None:
    from kubefort.images.verification import cache_path

    d, digests = project
    _scan(d)
    cached = orjson.loads(cache_path().read_bytes())
    assert [k.split("|")[0] for k in cached] == [f"{world.host}/team/web@{digests['signed']}"]
    # the registry's certificate no longer trusted: the cached digest still verifies, the rest cannot
    (d / ".kubefort.yaml").write_text((d / ".kubefort.yaml").read_text().replace(str(world.ca), str(new_ca(d).path)))
    _, got = _scan(d)
    assert got[("KF-IMG-011", "signed")] == ("passed", "")
    assert got[("KF-IMG-011", "unsigned")][0] == "not-evaluated"


def test_policy_errors_are_config_errors(tmp_path: Path, world: World) -> None:
    from click.testing import CliRunner

    from kubefort.cli import cli

    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    for body, needle in [
        ("image_verification: {policies: []}\n", "non-empty list"),
        ("image_verification: {policies: [{images: ['x/*'], keys: [missing.pub]}]}\n", "cannot read"),
        ("image_verification: {policies: [{images: ['x/*'], keys: [bad.pub]}]}\n", "not a PEM public key"),
        (
            "image_verification: {policies: [{images: ['x/*'], identities: [x]}]}\n",
            "expected {issuer: URL, subject_regexp",
        ),
        ("image_verification: {policies: [{images: ['x/*'], signers: [x]}]}\n", "images, keys and/or identities"),
        ("image_verification: {policies: [{images: ['x/*']}]}\n", "give keys (public key files) and/or identities"),
        ("image_verification: {policies: [{images: ['x/*'], keys: [k.pub]}], cache_hours: -1}\n", "cache_hours"),
    ]:
        (tmp_path / "bad.pub").write_text("not a key\n")
        (tmp_path / "k.pub").write_bytes((world.d / "trusted" / "cosign.pub").read_bytes())
        (tmp_path / ".kubefort.yaml").write_text(body)
        res = CliRunner().invoke(cli, ["scan", str(tmp_path / "k8s"), "--config", str(tmp_path / ".kubefort.yaml")])
        assert res.exit_code == 2 and needle in res.output, (body, res.output)


# ---------------------------------------------------------------------------------------------
# attestations (cosign attest --key) and KF-IMG-013
# ---------------------------------------------------------------------------------------------
def _vuln_predicate(d: Path, finished: str) -> Path:
    p = d / f"vuln-{finished[:10]}.json"
    p.write_text(
        orjson.dumps(
            {
                "invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
                "scanner": {"uri": "pkg:github/aquasecurity/trivy@0.50.0", "version": "0.50.0", "result": {}},
                "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished},
            }
        ).decode()
    )
    return p


def _attest(world: World, key: str, repo: str, digest: str, kind: str, predicate: Path) -> None:
    world.run(
        "cosign", "attest", "--key", key, "--tlog-upload=false", "--yes", "--type", kind,
        "--predicate", str(predicate), f"{world.host}/{repo}@{digest}",
    )  # fmt: skip


def test_attestations_are_verified_by_key_and_subject(world: World) -> None:
    import datetime as dt

    from kubefort.images import PREDICATE_TYPES
    from kubefort.images.cosign import verified_attestations

    digest = world.push("shop/att:v1", "att v1")
    other = world.push("shop/att:v2", "att v2")
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _attest(world, "trusted/cosign.key", "shop/att", digest, "vuln", _vuln_predicate(world.d, now))
    _attest(world, "other/cosign.key", "shop/att", digest, "custom", _vuln_predicate(world.d, now))
    found = verified_attestations(world.registry(), "shop/att", digest, [world.trusted])
    assert [(a.predicate_type, a.key) for a in found] == [(PREDICATE_TYPES["vuln"], "trusted.pub")]
    made = found[0].made_at()
    assert made is not None and abs(made - dt.datetime.now(dt.UTC).timestamp()) < 120
    # the other key's attestation counts with that key only
    assert [a.predicate_type for a in verified_attestations(world.registry(), "shop/att", digest, [world.other])] == [
        PREDICATE_TYPES["custom"]
    ]
    # copied to another image, the statement names the wrong digest: it is not that image's
    world.run(
        "crane", "cp", f"{world.host}/shop/att:sha256-{digest[7:]}.att", f"{world.host}/shop/att:sha256-{other[7:]}.att"
    )
    assert verified_attestations(world.registry(), "shop/att", other, [world.trusted, world.other]) == []


def test_scan_requires_fresh_attestations(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    import yaml

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    fresh = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    images = {}
    for name, when in (("fresh", fresh), ("stale", stale), ("none", None)):
        digest = world.push(f"att/{name}:v1", f"att {name}")
        world.sign("trusted/cosign.key", f"att/{name}", digest)
        if when is not None:
            _attest(world, "trusted/cosign.key", f"att/{name}", digest, "vuln", _vuln_predicate(world.d, when))
        images[name] = digest
    h = world.host
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(
        yaml.safe_dump_all([_deployment(n, f"{h}/att/{n}@{dg}") for n, dg in images.items()])
    )
    (tmp_path / ".kubefort.yaml").write_text(
        "image_verification:\n"
        f"  policies:\n  - images: ['{h}/att/*']\n    keys: ['{world.d / 'trusted' / 'cosign.pub'}']\n"
        "    attestations: [{type: vuln, max_age_days: 7}]\n"
        f"  ca_file: {world.ca}\n"
    )
    from click.testing import CliRunner

    from kubefort.cli import cli

    out = tmp_path / "report.json"
    res = CliRunner().invoke(
        cli,
        ["scan", str(tmp_path / "k8s"), "--config", str(tmp_path / ".kubefort.yaml"), "--checks",
         "KF-IMG-011,KF-IMG-013", "--include-passed", "-q", "-o", f"json={out}"],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output  # KF-IMG-013 is medium, below the default --fail-on high
    got = {
        (r["check_id"], r["resource"]["name"]): (r["outcome"], r.get("message") or "")
        for r in orjson.loads(out.read_bytes())["results"]
        if r["check_id"].startswith("KF-IMG-01")
    }
    assert got == {
        ("KF-IMG-011", "fresh"): ("passed", ""),
        ("KF-IMG-011", "stale"): ("passed", ""),
        ("KF-IMG-011", "none"): ("passed", ""),
        ("KF-IMG-013", "fresh"): ("passed", ""),
        ("KF-IMG-013", "stale"): (
            "failed",
            f"container 'app' runs {h}/att/stale@{images['stale']}: its newest vuln attestation is 10 days old (at most 7)",
        ),
        ("KF-IMG-013", "none"): (
            "failed",
            f"container 'app' runs {h}/att/none@{images['none']}: no vuln attestation signed by a trusted key",
        ),
    }


def test_images_lists_each_images_signature_verdict(project: tuple[Path, dict[str, str]], world: World) -> None:
    from click.testing import CliRunner

    from kubefort.cli import cli

    d, digests = project
    args = ["images", str(d / "k8s"), "--config", str(d / ".kubefort.yaml"), "-o", "json"]
    res = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    doc = orjson.loads(res.stdout)
    h = world.host
    got = {
        e["image"]: [(s["reference"], s["status"]) for s in e["signatures"]] if e["signatures"] else None
        for e in doc["images"]
    }
    assert got == {
        f"{h}/team/web@{digests['signed']}": [(digests["signed"], "verified")],
        f"{h}/team/web:v1": [("v1", "verified")],  # the digest the tag names now
        f"{h}/team/api@{digests['unsigned']}": [(digests["unsigned"], "unsigned")],
        f"{h}/team/jobs@{digests['other']}": [(digests["other"], "untrusted")],
        f"{h}/tools/debug@{next(e['digest'] for e in doc['images'] if 'tools/debug' in e['image'])}": None,
    }
    assert doc["summary"]["signatures_verified"] == 2
    # --offline: nothing is verified, and the inventory says it is incomplete (exit 3)
    res = CliRunner().invoke(cli, [*args, "--offline"], catch_exceptions=False)
    assert res.exit_code == 3
    assert {s["status"] for e in orjson.loads(res.stdout)["images"] for s in e["signatures"] or []} == {"error"}
    assert "signature not verified: --offline: the registry is not asked" in res.stderr
    # without a policy there is no signature field at all, and no registry access
    res = CliRunner().invoke(cli, ["images", str(d / "k8s"), "--no-config", "-o", "json"], catch_exceptions=False)
    assert res.exit_code == 0 and "signatures" not in orjson.loads(res.stdout)["images"][0]


# ---------------------------------------------------------------------------------------------
# keyless: a certificate for a workflow identity, issued by a (test) Fulcio CA, attached by cosign
# ---------------------------------------------------------------------------------------------
GITHUB = "https://token.actions.githubusercontent.com"
WORKFLOW = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"


def _leaf(ca: Any, d: Path, name: str, *, issuer: str = GITHUB, subject: str = WORKFLOW, code_signing: bool = True,
          hours: float = 1.0, not_before: Any = None) -> tuple[Path, Path]:  # fmt: skip
    """A Fulcio-like signing certificate (SAN URI, the issuer extension, code signing) and its key."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = [ExtendedKeyUsageOID.CODE_SIGNING if code_signing else ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(minutes=1))
        .not_valid_after((not_before or now) + dt.timedelta(hours=hours))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(subject)]), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("1.3.6.1.4.1.57264.1.8"), b"\x0c" + bytes([len(issuer)]) + issuer.encode()),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )  # fmt: skip
    (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return d / f"{name}.pem", d / f"{name}.key"


def _sign_keyless(world: World, ca: Any, cert: Path, key: Path, repo: str, digest: str) -> None:
    """cosign signs with the certificate's key and attaches the certificate and its chain."""
    cosign_key = import_key(world.env, key, key.parent / key.stem)
    world.run(
        "cosign", "sign", "--key", str(cosign_key), "--certificate", str(cert),
        "--certificate-chain", str(ca.path), "--tlog-upload=false", "--yes", f"{world.host}/{repo}@{digest}",
    )  # fmt: skip


def test_keyless_signatures_verify_by_identity_and_trusted_ca(world: World, tmp_path: Path) -> None:
    from kubefort.images.cosign import Identity, Keyless, load_roots

    for d in ("fulcio", "rogue"):
        (tmp_path / d).mkdir()
    fulcio, rogue = new_ca(tmp_path / "fulcio"), new_ca(tmp_path / "rogue")
    roots = tuple(load_roots(fulcio.path.read_bytes(), "fulcio"))
    now = time.time()
    ours = Identity(GITHUB, r"https://github\.com/acme/.*")

    def verdict(repo: str, digest: str, identity: Identity = ours, at: float = now) -> tuple[str, str]:
        v = verify_image(world.registry(), repo, digest, [], Keyless(roots, (identity,), at))
        return v.status, v.message

    cases = {
        "good": _leaf(fulcio, tmp_path, "good"),
        "rogue-ca": _leaf(rogue, tmp_path, "rogue"),
        "other-subject": _leaf(fulcio, tmp_path, "other", subject="https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main"),
        "other-issuer": _leaf(fulcio, tmp_path, "issuer", issuer="https://accounts.google.com"),
    }  # fmt: skip
    digests = {}
    for name, (cert, key) in cases.items():
        digests[name] = world.push(f"keyless/{name}:v1", f"keyless {name}")
        _sign_keyless(world, rogue if name == "rogue-ca" else fulcio, cert, key, f"keyless/{name}", digests[name])
    # a certificate without code signing (cosign refuses to use it): the signature made by hand
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cert, key = _leaf(fulcio, tmp_path, "client", code_signing=False)
    digests["no-code-signing"] = world.push("keyless/no-code-signing:v1", "keyless no-code-signing")
    good_payload, _ = _only_signature(world, "keyless/good", digests["good"])
    payload = good_payload.replace(digests["good"].encode(), digests["no-code-signing"].encode())
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    _signature_manifest(
        world, "keyless/no-code-signing", signature_tag(digests["no-code-signing"]), payload,
        private.sign(payload, ec.ECDSA(hashes.SHA256())),
        {"dev.sigstore.cosign/certificate": cert.read_text(), "dev.sigstore.cosign/chain": fulcio.path.read_text()},
    )  # fmt: skip
    assert verdict("keyless/good", digests["good"]) == ("verified", f"signed by {WORKFLOW} (issuer {GITHUB})")
    for name in ("rogue-ca", "other-subject", "other-issuer", "no-code-signing"):
        assert verdict(f"keyless/{name}", digests[name])[0] == "untrusted", name
    # the identity policy decides: another workflow's regexp refuses the good certificate
    assert (
        verdict("keyless/good", digests["good"], Identity(GITHUB, r"https://github\.com/acme/other/.*"))[0]
        == "untrusted"
    )
    # after the certificate expired, without a transparency-log time it no longer verifies
    assert verdict("keyless/good", digests["good"], at=now + 2 * 3600)[0] == "untrusted"
    # and no trusted key makes the keyless signature pass on its own
    assert verify_image(world.registry(), "keyless/good", digests["good"], [world.trusted]).status == "untrusted"


def test_scan_with_a_keyless_policy(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml
    from click.testing import CliRunner

    from kubefort.cli import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "fulcio").mkdir()
    fulcio = new_ca(tmp_path / "fulcio")
    cert, key = _leaf(fulcio, tmp_path, "release")
    signed = world.push("ci/app:v1", "ci app v1")
    _sign_keyless(world, fulcio, cert, key, "ci/app", signed)
    unsigned = world.push("ci/tool:v1", "ci tool v1")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(
        yaml.safe_dump_all(
            [
                _deployment("app", f"{world.host}/ci/app@{signed}"),
                _deployment("tool", f"{world.host}/ci/tool@{unsigned}"),
            ]
        )
    )
    cfg = tmp_path / ".kubefort.yaml"
    cfg.write_text(
        "image_verification:\n"
        f"  trusted_roots: {fulcio.path}\n  ca_file: {world.ca}\n"
        f"  policies:\n  - images: ['{world.host}/ci/*']\n"
        f"    identities: [{{issuer: '{GITHUB}', subject_regexp: 'https://github\\.com/acme/.*'}}]\n"
    )
    out = tmp_path / "report.json"
    res = CliRunner().invoke(
        cli, ["scan", str(tmp_path / "k8s"), "--config", str(cfg), "--checks", "KF-IMG-011", "--include-passed",
              "-q", "-o", f"json={out}"], catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    got = {
        r["resource"]["name"]: r["outcome"]
        for r in orjson.loads(out.read_bytes())["results"]
        if r["check_id"] == "KF-IMG-011"
    }
    assert got == {"app": "passed", "tool": "failed"}
    # the verified digest is cached; other trusted CA certificates are never answered from it
    from kubefort.images.verification import cache_path

    assert cache_path().is_file()
    (tmp_path / "rogue").mkdir()
    good = cfg.read_text()
    cfg.write_text(good.replace(str(fulcio.path), str(new_ca(tmp_path / "rogue").path)))
    res = CliRunner().invoke(
        cli, ["scan", str(tmp_path / "k8s"), "--config", str(cfg), "--checks", "KF-IMG-011", "--include-passed",
              "-q", "-o", f"json={out}"], catch_exceptions=False,
    )  # fmt: skip
    got = {
        r["resource"]["name"]: r["outcome"]
        for r in orjson.loads(out.read_bytes())["results"]
        if r["check_id"] == "KF-IMG-011"
    }
    assert got == {"app": "failed", "tool": "failed"}
    cfg.write_text(good)
    # keyless signers need the CA certificates; a regexp must compile
    for body, needle in [
        (cfg.read_text().replace(f"  trusted_roots: {fulcio.path}\n", ""), "need trusted_roots"),
        (cfg.read_text().replace("https://github\\.com/acme/.*", "(unclosed"), "not a regular expression"),
    ]:
        cfg.write_text(body)
        res = CliRunner().invoke(cli, ["scan", str(tmp_path / "k8s"), "--config", str(cfg)])
        assert res.exit_code == 2 and needle in res.output, res.output
