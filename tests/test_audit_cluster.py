"""`kubefort audit` end to end against the real API server (tests/kubeapi.py).

A kube-apiserver runs with an audit policy, a log file (`--audit-log-path`) and the webhook
backend (`--audit-webhook-config-file`, batch mode, 1 s batches) pointed at a `kubefort audit
serve` receiver started by this test in a thread (HTTPS with a test CA; the API server
authenticates with a client certificate that CA signed). The test then performs real attacks
against the API server: an exec into a pod, a privileged pod, a cluster-admin binding for a
user, Secret reads by a ServiceAccount with a token from a TokenRequest, a burst of 403s from a
user with no rights outside its namespace, anonymous requests (refused, and allowed through a
bad binding), an impersonated request and a namespace deletion.

Both records of the same requests, the log file read by `kubefort audit LOG -o json` and the
webhook stream analysed by the receiver, must give exactly the expected findings (check ID,
user, verb, object), the same set matched by fingerprint, and the same access metrics.
"""

from __future__ import annotations

import base64
import http.client
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import kubeapi
from conftest import tool_missing
from kubefort.audit.serve import Receiver, build_receiver
from kubefort.audit.serve_http import RunningServer, ServeSettings, start_in_thread
from kubefort.cli import cli

pytestmark = pytest.mark.cluster

NS = "shop"  # where the workloads and Secrets live
DOOMED = "scratch"  # the namespace the attacker deletes
GUARDED = "guarded"  # the namespace whose Pod Security labels the attacker drops
CSR = "mallory-client"  # the client certificate request the attacker approves
PSA = {"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}
SA = "api"  # the ServiceAccount whose token reads Secrets
SA_USER = f"system:serviceaccount:{NS}:{SA}"
BURST = 25  # refused requests by team-viewer (KF-AUDIT-023's default threshold is 20 in 60 s)
RBAC = "rbac.authorization.k8s.io"

# What the detections need, at the level they need it (audit.k8s.io/v1 Policy; the first rule
# that matches a request decides its level, k8s.io/apiserver/pkg/audit/policy/checker.go).
AUDIT_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        # never the bodies of Secrets or of minted tokens (TokenRequest responses hold the token)
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets", "serviceaccounts/token"]}]},
        # pods (privileged specs, exec), namespaces (labels, deletion), RBAC, CSR approvals
        {
            "level": "RequestResponse",
            "resources": [
                {"group": "", "resources": ["pods", "pods/exec", "pods/attach", "pods/portforward", "namespaces"]},
                {"group": RBAC},
                {"group": "certificates.k8s.io", "resources": ["certificatesigningrequests/approval"]},
            ],
        },
        {"level": "Metadata"},
    ],
}


# ------------------------------------------------------------------------------------------------
# the receiver and the API server
# ------------------------------------------------------------------------------------------------
def make_certs(d: Path) -> None:
    """A test CA; a serving certificate for the receiver (127.0.0.1) and a client certificate
    for the API server, both signed by it."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    kubeapi._openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=kf-ca", cwd=d
    )
    (d / "serving.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, ext in (("serving", "serving.ext"), ("client", "client.ext")):
        kubeapi._openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
        kubeapi._openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", ext, cwd=d,
        )  # fmt: skip


def webhook_kubeconfig(d: Path, url: str) -> Path:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubefort", "cluster": {"server": url, "certificate-authority": str(d / "ca.crt")}}],
        "users": [
            {
                "name": "kube-apiserver",
                "user": {"client-certificate": str(d / "client.crt"), "client-key": str(d / "client.key")},
            }
        ],
        "contexts": [{"name": "kubefort", "context": {"cluster": "kubefort", "user": "kube-apiserver"}}],
        "current-context": "kubefort",
    }
    path = d / "webhook.kubeconfig"
    path.write_text(json.dumps(cfg))
    return path


@dataclass
class World:
    cluster: kubeapi.TestCluster
    log: Path
    receiver: Receiver
    server: RunningServer
    stream: Path  # the receiver's findings, JSON lines


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not kubeapi.binaries_ready():
        tool_missing(
            f"kube-apiserver and etcd {kubeapi.k8s_version()} are not built: run `bash tools/install-test-cluster.sh`"
        )
    if shutil.which("openssl") is None:
        tool_missing("openssl is needed to make the test certificates")
    d = tmp_path_factory.mktemp("audit-e2e")
    make_certs(d)
    stream = d / "findings.jsonl"
    out = open(stream, "ab")
    receiver = build_receiver(out)
    settings = ServeSettings(
        str(d / "serving.crt"), str(d / "serving.key"), host="127.0.0.1", port=0, client_ca_file=str(d / "ca.crt")
    )
    server = start_in_thread(settings, receiver)
    policy = d / "policy.json"
    policy.write_text(json.dumps(AUDIT_POLICY))
    log = d / "audit.log"
    cluster = kubeapi.TestCluster(
        extra_args=[
            f"--audit-policy-file={policy}",
            f"--audit-log-path={log}",
            "--audit-log-maxsize=0",
            f"--audit-webhook-config-file={webhook_kubeconfig(d, server.url)}",
            "--audit-webhook-mode=batch",
            "--audit-webhook-batch-max-wait=1s",
        ]
    )
    try:
        cluster.start()
        yield World(cluster, log, receiver, server, stream)
    finally:
        cluster.stop()
        server.stop()
        out.close()


# ------------------------------------------------------------------------------------------------
# requests
# ------------------------------------------------------------------------------------------------
def call(
    cluster: kubeapi.TestCluster,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> int:
    """One request with any bearer token (None: anonymous) and extra headers; its status code."""
    conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=cluster._ctx(), timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else b""
        hdrs = {"Accept": "application/json", "Content-Length": str(len(data)), **(headers or {})}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def pod(name: str, privileged: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if privileged:
        container["securityContext"] = {"privileged": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [container]},
    }


def wait_until(cond: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout:.0f} s"
        time.sleep(0.1)


def authorizer_allows(c: kubeapi.TestCluster, user: str, groups: list[str], verb: str, resource: str) -> bool:
    """A SubjectAccessReview (as admin): does the authorizer already see a new binding? Asking
    this way, instead of retrying the request, keeps the attacker's requests exactly counted."""
    status, body = c.create(
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": groups,
                "resourceAttributes": {"namespace": NS, "verb": verb, "resource": resource},
            },
        },
    )
    assert status == 201, body
    return bool(body["status"].get("allowed"))


def binding(kind: str, name: str, role_kind: str, role: str, subject: dict[str, str]) -> dict[str, Any]:
    meta = {"name": name, "namespace": NS} if kind == "RoleBinding" else {"name": name}
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": [subject],
    }


def attack(c: kubeapi.TestCluster) -> dict[str, int]:
    """Set the scene as admin, then attack; returns the status code of each attack."""
    admin = c.TOKENS["admin"][0]
    viewer = c.TOKENS["team-viewer"][0]
    c.apply(
        [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DOOMED}},
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GUARDED, "labels": PSA}},
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA, "namespace": NS}},
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "db", "namespace": NS},
                "stringData": {"pw": "x"},
            },
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "public", "namespace": NS}},
            pod("web"),
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "Role",
                "metadata": {"name": "secret-reader", "namespace": NS},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
            },
            {
                "apiVersion": f"{RBAC}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods", "configmaps"], "verbs": ["get", "list"]}],
            },
            binding(
                "RoleBinding",
                "api-reads-secrets",
                "Role",
                "secret-reader",
                {"kind": "ServiceAccount", "name": SA, "namespace": NS},
            ),
            binding(
                "RoleBinding",
                "team-viewer-reads",
                "ClusterRole",
                "reader",
                {"apiGroup": RBAC, "kind": "User", "name": "team-viewer"},
            ),
        ]
    )
    sa_groups = ["system:serviceaccounts", f"system:serviceaccounts:{NS}", "system:authenticated"]
    wait_until(lambda: authorizer_allows(c, SA_USER, sa_groups, "get", "secrets"), "the ServiceAccount's binding")
    wait_until(lambda: authorizer_allows(c, "team-viewer", [], "list", "pods"), "team-viewer's binding")
    codes: dict[str, int] = {}
    # a shell into the pod: no kubelet runs (the pod has no node), so the API server answers 400
    # after the authorizer allowed the request
    path = f"/api/v1/namespaces/{NS}/pods/web/exec?command=sh&stdin=true&stdout=true"
    codes["exec"] = call(c, "POST", path, token=admin)
    codes["privileged pod"] = call(
        c, "POST", f"/api/v1/namespaces/{NS}/pods", pod("root", privileged=True), token=admin
    )
    codes["cluster-admin binding"] = call(
        c,
        "POST",
        f"/apis/{RBAC}/v1/clusterrolebindings",
        binding(
            "ClusterRoleBinding",
            "mallory-admin",
            "ClusterRole",
            "cluster-admin",
            {"apiGroup": RBAC, "kind": "User", "name": "mallory"},
        ),
        token=admin,
    )
    status, body = c.create(
        f"/api/v1/namespaces/{NS}/serviceaccounts/{SA}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}},
    )
    assert status == 201, body
    sa_token = body["status"]["token"]
    codes["secret get"] = call(c, "GET", f"/api/v1/namespaces/{NS}/secrets/db", token=sa_token)
    codes["secret list"] = call(c, "GET", f"/api/v1/namespaces/{NS}/secrets", token=sa_token)
    codes["team-viewer in its namespace"] = call(c, "GET", f"/api/v1/namespaces/{NS}/pods", token=viewer)
    refused = {call(c, "GET", f"/api/v1/namespaces/kube-system/secrets/s-{i}", token=viewer) for i in range(BURST)}
    codes["team-viewer outside"] = refused.pop() if len(refused) == 1 else -1
    codes["anonymous secrets"] = call(c, "GET", f"/api/v1/namespaces/{NS}/secrets")
    codes["anonymous healthz"] = call(c, "GET", "/healthz")
    # a bad binding lets anyone read ConfigMaps in the namespace, and someone does
    codes["anonymous binding"] = call(
        c,
        "POST",
        f"/apis/{RBAC}/v1/namespaces/{NS}/rolebindings",
        binding(
            "RoleBinding",
            "anyone-reads",
            "ClusterRole",
            "reader",
            {"apiGroup": RBAC, "kind": "Group", "name": "system:unauthenticated"},
        ),
        token=admin,
    )
    anon = ["system:unauthenticated"]
    wait_until(lambda: authorizer_allows(c, "system:anonymous", anon, "get", "configmaps"), "the anonymous binding")
    codes["anonymous configmap"] = call(c, "GET", f"/api/v1/namespaces/{NS}/configmaps/public")
    codes["impersonated"] = call(
        c, "GET", f"/api/v1/namespaces/{NS}/pods", token=admin, headers={"Impersonate-User": "team-viewer"}
    )
    codes["namespace deleted"] = call(c, "DELETE", f"/api/v1/namespaces/{DOOMED}", token=admin)
    # a whole-object update that leaves the Pod Security labels out: the event does not show the
    # labels before it, the namespace's create earlier in the log does
    status, ns = c.request("GET", f"/api/v1/namespaces/{GUARDED}")
    assert status == 200, ns
    ns["metadata"]["labels"] = {k: v for k, v in ns["metadata"]["labels"].items() if k not in PSA}
    codes["namespace labels dropped"] = call(c, "PUT", f"/api/v1/namespaces/{GUARDED}", ns, token=admin)
    codes["csr approved"] = approve_client_csr(c, admin)
    return codes


def approve_client_csr(c: kubeapi.TestCluster, token: str) -> int:
    """Create a kube-apiserver-client CSR and approve it (what `kubectl certificate approve`
    sends); the approval's status code."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        kubeapi._openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "k.pem", "-out", "r.pem", "-subj", "/CN=mallory", cwd=d,
        )  # fmt: skip
        request = base64.b64encode((d / "r.pem").read_bytes()).decode()
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": CSR},
        "spec": {"request": request, "signerName": "kubernetes.io/kube-apiserver-client", "usages": ["client auth"]},
    }
    status, body = c.create("/apis/certificates.k8s.io/v1/certificatesigningrequests", csr)
    assert status == 201, body
    body["status"] = {
        "conditions": [{"type": "Approved", "status": "True", "reason": "Manual", "message": "approved by hand"}]
    }
    return call(c, "PUT", f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{CSR}/approval", body, token=token)


# ------------------------------------------------------------------------------------------------
# the two records
# ------------------------------------------------------------------------------------------------
Key = tuple[str, str, str, str, str, str]


def key(f: dict[str, Any]) -> Key:
    """(check, user, verb, resource[/subresource], namespace/name, outcome) of one finding."""
    ev = f["event"]
    ref = ev.get("objectRef") or {}
    obj = "/".join(x for x in (ref.get("namespace"), ref.get("name")) if x)
    what = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
    return (f["check_id"], ev["user"]["username"], ev["verb"], what, obj, f["outcome"])


FAILED, NOT_EVALUATED = "failed", "not-evaluated"
EXPECTED: set[Key] = {
    # the exec the authorizer allowed (the API server then answered 400: no kubelet to reach)
    ("KF-AUDIT-001", "admin", "create", "pods/exec", f"{NS}/web", FAILED),
    ("KF-AUDIT-003", "admin", "create", "pods", f"{NS}/root", FAILED),
    ("KF-AUDIT-004", "admin", "create", "clusterrolebindings", "mallory-admin", FAILED),
    # bindings to the test's own roles: without the cluster's RBAC the check cannot judge them
    ("KF-AUDIT-004", "admin", "create", "rolebindings", f"{NS}/api-reads-secrets", NOT_EVALUATED),
    ("KF-AUDIT-004", "admin", "create", "rolebindings", f"{NS}/team-viewer-reads", NOT_EVALUATED),
    ("KF-AUDIT-004", "admin", "create", "rolebindings", f"{NS}/anyone-reads", NOT_EVALUATED),
    # every RBAC change by a person (admin is no control-plane identity)
    ("KF-AUDIT-005", "admin", "create", "roles", f"{NS}/secret-reader", FAILED),
    ("KF-AUDIT-005", "admin", "create", "clusterroles", "reader", FAILED),
    ("KF-AUDIT-005", "admin", "create", "rolebindings", f"{NS}/api-reads-secrets", FAILED),
    ("KF-AUDIT-005", "admin", "create", "rolebindings", f"{NS}/team-viewer-reads", FAILED),
    ("KF-AUDIT-005", "admin", "create", "clusterrolebindings", "mallory-admin", FAILED),
    ("KF-AUDIT-005", "admin", "create", "rolebindings", f"{NS}/anyone-reads", FAILED),
    ("KF-AUDIT-007", "admin", "list", "pods", NS, FAILED),
    ("KF-AUDIT-008", "system:anonymous", "get", "configmaps", f"{NS}/public", FAILED),
    ("KF-AUDIT-012", "admin", "update", "namespaces", f"{GUARDED}/{GUARDED}", FAILED),
    ("KF-AUDIT-013", "admin", "update", "certificatesigningrequests/approval", CSR, FAILED),
    ("KF-AUDIT-014", "admin", "delete", "namespaces", f"{DOOMED}/{DOOMED}", FAILED),
    ("KF-AUDIT-015", "admin", "create", "serviceaccounts/token", f"{NS}/{SA}", FAILED),
    ("KF-AUDIT-020", SA_USER, "get", "secrets", f"{NS}/db", FAILED),
    ("KF-AUDIT-020", SA_USER, "list", "secrets", NS, FAILED),
    # one burst, reported once: at the 10th refusal (the default threshold), not at the 25 after
    ("KF-AUDIT-023", "team-viewer", "get", "secrets", "kube-system/s-9", FAILED),
}


def log_report(log: Path, tmp: Path) -> tuple[int, dict[str, Any]]:
    report = tmp / "report.json"
    r = CliRunner().invoke(
        cli, ["audit", str(log), "-o", f"json={report}"], catch_exceptions=False, prog_name="kubefort"
    )
    assert report.exists(), r.output
    doc: dict[str, Any] = json.loads(report.read_text())
    return r.exit_code, doc


def stream_findings(stream: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.read_bytes().splitlines() if line.strip()]


def by_key(findings: list[dict[str, Any]]) -> dict[Key, str]:
    """key -> fingerprint; a key seen twice would be a request judged twice."""
    out: dict[Key, str] = {}
    for f in findings:
        k = key(f)
        assert k not in out, f"{k} reported twice"
        out[k] = f["fingerprint"]
    return out


def test_log_and_webhook_give_the_same_exact_findings(world: World, tmp_path: Path) -> None:
    codes = attack(world.cluster)
    assert codes == {
        "exec": 400,
        "privileged pod": 201,
        "cluster-admin binding": 201,
        "secret get": 200,
        "secret list": 200,
        "team-viewer in its namespace": 200,
        "team-viewer outside": 403,
        "anonymous secrets": 403,
        "anonymous healthz": 200,
        "anonymous binding": 201,
        "anonymous configmap": 200,
        "impersonated": 200,
        "namespace deleted": 200,
        "namespace labels dropped": 200,
        "csr approved": 200,
    }

    # the webhook batches (1 s max wait) arrive; the receiver's output grows to the expected set
    def stream_done() -> bool:
        return {key(f) for f in stream_findings(world.stream)} >= EXPECTED

    wait_until(stream_done, "the webhook stream's findings", timeout=30)
    time.sleep(1.5)  # one more batch window: nothing else may arrive
    stream = by_key(stream_findings(world.stream))

    # the log backend writes before the webhook batch is sent: the file has every request now
    exit_code, doc = log_report(world.log, tmp_path)
    log = by_key([r for r in doc["results"] if r["outcome"] != "passed"])

    assert set(stream) == EXPECTED
    assert set(log) == EXPECTED
    assert log == stream  # the same fingerprints: one baseline serves both
    # 3 not-evaluated outcomes (KF-AUDIT-004 on bindings to roles it was not given) make the run
    # incomplete, as for `kubefort scan`
    assert exit_code == 3

    # the metrics: the same counts from both records
    metrics = {"log": doc["extras"]["audit"], "webhook": world.receiver.access_snapshot()}
    for source, m in metrics.items():
        violations = m["access_violations"]
        assert violations["by_principal"] == {"counts": {"team-viewer": BURST, "system:anonymous": 1}, "other": 0}, (
            source
        )
        assert violations["by_code"] == {"403": BURST + 1}, source
        secrets = m["secrets"]["by_principal"]["counts"]
        assert (secrets[SA_USER], secrets["team-viewer"], secrets["admin"]) == (2, BURST, 1), source
        # the exec was judged once (at ResponseStarted) and is a finding: the authorizer allowed it
        assert m["checks"]["KF-AUDIT-001"] == {"evaluated": 1, "findings": 1}, source
        assert {c: v["findings"] for c, v in m["checks"].items() if v["findings"]} == {
            "KF-AUDIT-001": 1, "KF-AUDIT-003": 1, "KF-AUDIT-004": 1, "KF-AUDIT-005": 6, "KF-AUDIT-007": 1, "KF-AUDIT-008": 1,
            "KF-AUDIT-012": 1, "KF-AUDIT-013": 1, "KF-AUDIT-014": 1, "KF-AUDIT-015": 1, "KF-AUDIT-020": 2,
            "KF-AUDIT-023": 1,
        }, source  # fmt: skip

    # what the API server recorded for the exec: authorized, answered 400
    exec_events = [
        json.loads(line)
        for line in world.log.read_text().splitlines()
        if '"subresource":"exec"' in line and '"stage":"ResponseStarted"' in line
    ]
    assert len(exec_events) == 1
    assert exec_events[0]["responseStatus"]["code"] == 400
    assert exec_events[0]["annotations"]["authorization.k8s.io/decision"] == "allow"
