"""`kubefort admission serve` behind the real kube-apiserver (tests/kubeapi.py): the
ValidatingWebhookConfiguration that `kubefort admission install` prints is created through the
API, pointing at the webhook on 127.0.0.1 with a test CA, and requests go through the API server
as kubectl sends them.

Pinned: a privileged pod is denied with kubefort's message; the same pod with an inline exception
is admitted; warn mode shows the warning to the client (the `Warning` header kubectl prints);
audit mode writes the annotation to the API server's audit log; namespace labels come from the
watch cache and changes reach it; a stopped webhook fails closed in enforcing namespaces and
open elsewhere, as failurePolicy says.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import tool_missing
from test_admission_serve import CA, PRIVILEGED_POD, new_ca

pytestmark = pytest.mark.cluster

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources: [{group: "", resources: [pods]}]
- level: None
"""
VWC_PATH = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


@dataclass
class Env:
    cluster: Any  # kubeapi.TestCluster
    ca: CA
    port: int
    proc: subprocess.Popen[bytes]
    audit_log: Path
    log: Path

    def namespace(self, name: str, labels: dict[str, str]) -> None:
        status, body = self.cluster.create(
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
        )
        assert status == 201, body

    def create_pod(self, namespace: str, pod: dict[str, Any], dry_run: bool = False) -> tuple[int, Any, list[str]]:
        """POST the pod as admin: (status, body, Warning headers)."""
        c = self.cluster
        url = f"{c.url}/api/v1/namespaces/{namespace}/pods" + ("?dryRun=All" if dry_run else "")
        req = urllib.request.Request(
            url,
            data=json.dumps(pod).encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {c.TOKENS['admin'][0]}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        ctx = ssl.create_default_context(cafile=str(c.ca_file))
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
                return r.status, json.loads(r.read()), r.headers.get_all("Warning") or []
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read()), e.headers.get_all("Warning") or []

    def server_log(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def pod(name: str, **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {**PRIVILEGED_POD, "metadata": meta}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kubefort() -> list[str]:
    exe = Path(sys.executable).parent / "kubefort"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "kubefort"]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    import kubeapi

    if not kubeapi.binaries_ready():
        tool_missing(
            f"kube-apiserver and etcd {kubeapi.k8s_version()} are not built: run `bash tools/install-test-cluster.sh` (needs Go)"
        )
    if shutil.which("openssl") is None:
        tool_missing("openssl is needed to make the test cluster's certificates")
    d = tmp_path_factory.mktemp("admission")
    (d / "audit-policy.yaml").write_text(AUDIT_POLICY)
    audit_log = d / "audit.log"
    cluster = kubeapi.TestCluster(
        extra_args=[f"--audit-policy-file={d / 'audit-policy.yaml'}", f"--audit-log-path={audit_log}"]
    ).start()
    proc = None
    try:
        ca = new_ca(d)
        crt, key = ca.issue(d, "kubefort-webhook")
        kubeconfig = cluster.kubeconfig(d / "kubeconfig")
        port = _free_port()
        log = d / "serve.log"
        proc = subprocess.Popen(
            [
                *_kubefort(),
                "admission",
                "serve",
                "--tls-cert-file",
                str(crt),
                "--tls-private-key-file",
                str(key),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-config",
                "--kubeconfig",
                str(kubeconfig),
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(log, "wb"),  # the server writes to it for the module's life
            preexec_fn=kubeapi._die_with_parent,
        )
        e = Env(cluster, ca, port, proc, audit_log, log)
        ctx = ssl.create_default_context(cafile=str(ca.path))
        deadline = time.monotonic() + 60
        while True:  # ready: the namespace cache has synced
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=ctx, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, e.server_log()
            time.sleep(0.2)
        p = subprocess.run(
            [*_kubefort(), "admission", "install", "--no-config", "--url", f"https://127.0.0.1:{port}"]
            + ["--ca-bundle", str(ca.path), "--namespace", "kubefort", "-o", "json"],
            capture_output=True,
            check=True,
        )
        status, body = cluster.create(VWC_PATH, json.loads(p.stdout))
        assert status == 201, body
        # the API server picks the configuration up through an informer: wait until it is in force
        e.namespace("probe", {"kubefort.io/enforce": "critical"})
        deadline = time.monotonic() + 30
        while e.create_pod("probe", pod("probe"), dry_run=True)[0] != 403:
            assert time.monotonic() < deadline, "the webhook configuration did not take effect\n" + e.server_log()
            time.sleep(0.2)
        yield e
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        cluster.stop()


def test_privileged_pod_is_denied_with_kubeforts_message(env: Env) -> None:
    env.namespace("enforced", {"kubefort.io/enforce": "critical"})
    status, body, _warnings = env.create_pod("enforced", pod("root"))
    assert status == 403, body
    assert body["reason"] == "Forbidden"
    msg = body["message"]
    assert msg.startswith(
        'admission webhook "labelled.webhook.kubefort.io" denied the request: kubefort: Pod root fails 1 check '
        "enforced at critical and above (namespace enforced):\n- KF-POD-001 privileged-container (critical): "
        "container 'app' sets securityContext.privileged=true [spec.containers[0].securityContext.privileged]. Fix: "
    ), msg
    assert body["details"]["causes"][0] == {
        "reason": "KF-POD-001",
        "message": "container 'app' sets securityContext.privileged=true",
        "field": "spec.containers[0].securityContext.privileged",
    }
    # a dry run gets the same answer, and nothing was stored
    assert env.create_pod("enforced", pod("root"), dry_run=True)[:2] == (status, body)
    assert env.cluster.request("GET", "/api/v1/namespaces/enforced/pods/root")[0] == 404


def test_the_same_pod_with_an_inline_exception_is_admitted(env: Env) -> None:
    env.namespace("excepted", {"kubefort.io/enforce": "critical"})
    status, body, _ = env.create_pod("excepted", pod("agent", **{"kubefort.io/ignore": "KF-POD-001=the CNI agent"}))
    assert status == 201, body
    status, body, _ = env.create_pod("excepted", pod("other", **{"kubefort.io/ignore": "KF-POD-005=unrelated"}))
    assert status == 403, body


def test_warn_mode_shows_the_warning_to_the_client(env: Env) -> None:
    env.namespace("warned", {"kubefort.io/enforce": "off", "kubefort.io/warn": "high"})
    status, body, warnings = env.create_pod("warned", pod("loud"))
    assert status == 201, body
    # the API server's Warning header: 299 - "<text>" (what kubectl prints as "Warning: <text>")
    texts = [w.split(" ", 2)[2].strip().strip('"') for w in warnings]
    assert any(
        t.startswith(
            "kubefort KF-POD-001 privileged-container (critical): container 'app' sets securityContext.privileged=true"
        )
        for t in texts
    ), warnings
    assert not any("(medium)" in t for t in texts)  # below the warn level


def test_audit_mode_writes_the_annotation_to_the_audit_log(env: Env) -> None:
    env.namespace("audited", {"kubefort.io/enforce": "off", "kubefort.io/warn": "off", "kubefort.io/audit": "low"})
    status, body, warnings = env.create_pod("audited", pod("quiet"))
    assert status == 201 and warnings == [], body
    deadline = time.monotonic() + 10
    while True:
        events = [json.loads(line) for line in env.audit_log.read_text().splitlines() if line.strip()]
        ours = [
            ev
            for ev in events
            if ev.get("verb") == "create"
            and (ev.get("objectRef") or {}).get("namespace") == "audited"
            and ev.get("stage") == "ResponseComplete"
        ]
        if ours:
            break
        assert time.monotonic() < deadline, "no audit event for the create"
        time.sleep(0.2)
    annotations = ours[0]["annotations"]
    value = annotations["namespaced.webhook.kubefort.io/audit-violations"]
    assert "KF-POD-001 privileged-container (critical): container 'app' sets securityContext.privileged=true" in value
    assert "KF-RES-001 cpu-request-missing (low)" in value
    assert "KF-WL-001 service-account-token-automounted (low)" in value  # from the ServiceAccount cache


def test_namespace_labels_come_from_the_watch(env: Env) -> None:
    env.namespace("relabelled", {"kubefort.io/enforce": "critical"})
    assert env.create_pod("relabelled", pod("a"), dry_run=True)[0] == 403
    patch = json.dumps({"metadata": {"labels": {"kubefort.io/enforce": "off"}}}).encode()
    status, body = env.cluster.request(
        "PATCH", "/api/v1/namespaces/relabelled", patch, content_type="application/merge-patch+json"
    )
    assert status == 200, body
    deadline = time.monotonic() + 15  # the watch event, and the API server's namespace informer
    while env.create_pod("relabelled", pod("a"), dry_run=True)[0] != 201:
        assert time.monotonic() < deadline, env.server_log()
        time.sleep(0.2)


def _rbac_warnings(env: Env, namespace: str) -> list[str]:
    """The KF-RBAC-019 warnings on a dry-run create of a plain pod running as `deployer`."""
    plain = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "app"},
        "spec": {"serviceAccountName": "deployer", "containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    status, body, warnings = env.create_pod(namespace, plain, dry_run=True)
    assert status == 201, body
    return [w for w in warnings if "KF-RBAC-019" in w]


def test_the_accounts_bindings_come_from_the_watch(env: Env) -> None:
    # KF-RBAC-019 at admission: what the pod's ServiceAccount can do, from the cached RBAC objects
    env.namespace("bound", {"kubefort.io/enforce": "off", "kubefort.io/warn": "high"})
    status, body = env.cluster.create(
        "/api/v1/namespaces/bound/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "bound"}},
    )
    assert status == 201, body
    assert _rbac_warnings(env, "bound") == []  # bound to nothing yet
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "deployer-edit", "namespace": "bound"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "bound"}],
    }
    status, body = env.cluster.create("/apis/rbac.authorization.k8s.io/v1/namespaces/bound/rolebindings", binding)
    assert status == 201, body
    deadline = time.monotonic() + 15  # the watch event reaches the webhook
    while not (found := _rbac_warnings(env, "bound")):
        assert time.monotonic() < deadline, env.server_log()
        time.sleep(0.2)
    # `edit` is aggregated from the cluster's ClusterRoles: it reads Secrets and creates pods
    assert "KF-RBAC-019 workload-with-privileged-rbac (high): runs as ServiceAccount:bound:deployer" in found[0]
    assert (
        "Secrets in namespace 'bound' (RoleBinding/bound/deployer-edit -> ClusterRole/edit (aggregated from" in found[0]
    )
    status, body = env.cluster.request(
        "DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/bound/rolebindings/deployer-edit"
    )
    assert status == 200, body
    deadline = time.monotonic() + 15
    while _rbac_warnings(env, "bound"):
        assert time.monotonic() < deadline, env.server_log()
        time.sleep(0.2)


def test_zz_a_stopped_webhook_behaves_as_the_failure_policy_says(env: Env) -> None:
    """Last (it stops the webhook): enforcing namespaces fail closed, the others open."""
    env.namespace("closed", {"kubefort.io/enforce": "high"})
    env.namespace("open", {})
    env.proc.terminate()
    env.proc.wait(20)
    status, body, _ = env.create_pod("closed", pod("x"))
    assert status == 500 and 'failed calling webhook "labelled.webhook.kubefort.io"' in body["message"], body
    status, body, _ = env.create_pod("open", pod("x"))
    assert status == 201, body  # failurePolicy Ignore: admitted unjudged
    assert os.path.exists(env.audit_log)
    status, body = env.cluster.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "made-while-down"}}
    )
    assert status == 201, body  # cluster-scoped objects fail open too
