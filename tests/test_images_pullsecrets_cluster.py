"""Registry credentials from a live cluster's image pull secrets (kubefort.images.pullsecrets),
against the real kube-apiserver of the test session and a real registry that requires a login
(the CNCF distribution registry with htpasswd auth over TLS; tools/install-test-registry.sh).

With `image_verification.pull_secrets: true` the scan reads exactly the Secrets the pods name
and verifies the signature with their credentials; without it (or for a Secret it cannot read)
the registry refuses and the check is not evaluated, never passed."""

from __future__ import annotations

import base64
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import tool_missing
from test_admission_serve import new_ca
from test_images_signatures import TOOLS, _deployment, _free_port, serve_registry, write_registry_config

USER, PASSWORD = "puller", "s3cret-pull"


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():  # the crypt module is deprecated; libxcrypt does bcrypt
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("no crypt module to make the registry's bcrypt htpasswd")
        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))  # noqa: S324 - bcrypt, what htpasswd needs
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("this libc cannot make bcrypt hashes")
    return hashed


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A registry that needs a login, with one image signed by a cosign key."""
    missing = [t for t in ("registry", "crane", "cosign") if not (TOOLS / t).is_file()]
    if missing:
        tool_missing(f"{', '.join(missing)} not built: run `bash tools/install-test-registry.sh` (needs Go)")
    d = tmp_path_factory.mktemp("private-registry")
    ca = new_ca(d)
    crt, key = ca.issue(d, "registry")
    port = _free_port()
    host = f"127.0.0.1:{port}"
    (d / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    htpasswd = f"auth: {{htpasswd: {{realm: kubefort-test, path: {d / 'htpasswd'}}}}}\n"
    write_registry_config(d, host, crt, key, htpasswd)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (d / "docker").mkdir()
    (d / "docker" / "config.json").write_text(orjson.dumps({"auths": {host: {"auth": auth}}}).decode())
    env = {**os.environ, "SSL_CERT_FILE": str(ca.path), "COSIGN_PASSWORD": "test", "HOME": str(d),
           "DOCKER_CONFIG": str(d / "docker")}  # fmt: skip

    def run(tool: str, *args: str) -> str:
        p = subprocess.run([str(TOOLS / tool), *args], cwd=d, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"{tool} {' '.join(args)}:\n{p.stderr}"
        return p.stdout.strip()

    with serve_registry(d, port):
        (d / "layer").mkdir()
        (d / "layer" / "f.txt").write_text("private app")
        subprocess.run(["tar", "cf", str(d / "layer.tar"), "-C", str(d / "layer"), "f.txt"], check=True)
        run("crane", "append", "-f", str(d / "layer.tar"), "-t", f"{host}/team/app:v1")
        digest = run("crane", "digest", f"{host}/team/app:v1")
        run("cosign", "generate-key-pair")
        run("cosign", "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", f"{host}/team/app@{digest}")
        yield {"d": d, "host": host, "ca": ca.path, "digest": digest, "auth": auth, "pub": d / "cosign.pub"}


def _pod(name: str, ns: str, image: str, secrets: list[str]) -> dict[str, Any]:
    pod = _deployment(name, image)["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {**pod["spec"], "imagePullSecrets": [{"name": s} for s in secrets]},
    }


def test_pull_secrets_give_the_registry_credentials(
    apiserver: Any, private: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from kubefort.cli import cli

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker"))  # the user's own config has nothing
    host, ns = private["host"], "pull-secrets"
    image = f"{host}/team/app@{private['digest']}"
    config = {"auths": {host: {"auth": private["auth"]}}}
    apiserver.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "regcred", "namespace": ns},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(orjson.dumps(config)).decode()},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "opaque", "namespace": ns},
                "type": "Opaque",
                "data": {"x": "eA=="},
            },
            _pod("app", ns, image, ["regcred"]),
            _pod("odd", ns, image, ["opaque", "missing"]),
        ]
    )
    kc = apiserver.kubeconfig(tmp_path / "kc", "admin")
    cfg = tmp_path / ".kubefort.yaml"
    base = (
        f"image_verification:\n  ca_file: {private['ca']}\n  cache_hours: 0\n"
        f"  policies:\n  - images: ['{host}/team/*']\n    keys: [{private['pub']}]\n"
    )

    def scan(pull_secrets: bool) -> tuple[dict[str, tuple[str, str]], str]:
        cfg.write_text(base + ("  pull_secrets: true\n" if pull_secrets else ""))
        out = tmp_path / "report.json"
        res = CliRunner().invoke(
            cli, ["scan", "--cluster", "--kubeconfig", str(kc), "-n", ns, "--config", str(cfg), "--checks",
                  "KF-IMG-011", "--include-passed", "-q", "-o", f"json={out}"], catch_exceptions=False,
        )  # fmt: skip
        assert res.exit_code == (0 if pull_secrets else 3), res.output  # 3: incomplete (not evaluated)
        doc = orjson.loads(out.read_bytes())
        got = {
            r["resource"]["name"]: (r["outcome"], r["message"])
            for r in doc["results"]
            if r["check_id"] == "KF-IMG-011" and r["resource"]["kind"] == "Pod"
        }
        return got, "\n".join(doc["warnings"])

    got, _ = scan(False)
    assert {k: v[0] for k, v in got.items()} == {"app": "not-evaluated", "odd": "not-evaluated"}
    assert got["app"][1] == (
        f"container 'app': {host}/team/app: the registry could not be read: {host}: asks for a password (Basic) "
        "and none is configured for it"
    )
    got, warned = scan(True)
    # the credentials are the registry's, whichever pod named them (docs/images.md)
    assert {k: v[0] for k, v in got.items()} == {"app": "passed", "odd": "passed"}
    assert f"pull secret {ns}/missing: not read (HTTP 404 Not Found)" in warned
    assert f"pull secret {ns}/opaque: no registry credentials (of type 'Opaque'" in warned
    # `kubefort images --cluster` uses them the same way
    res = CliRunner().invoke(
        cli, ["images", "--cluster", "--kubeconfig", str(kc), "-n", ns, "--config", str(cfg), "-o", "json"],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (entry,) = orjson.loads(res.stdout)["images"]
    assert [s["status"] for s in entry["signatures"]] == ["verified"]
