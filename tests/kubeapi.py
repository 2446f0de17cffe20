"""A real etcd + kube-apiserver on loopback for integration tests and benchmarks. No mocks.

The binaries come from tools/install-test-cluster.sh (built from k8s.io/kubernetes through the Go
module proxy). The server runs with TLS (a throw-away CA), a static token file, a client CA for
certificate users, RBAC authorization and the default admission plugins (PodSecurity included).
Controllers do not run: nothing creates ServiceAccounts, ReplicaSets or Pods behind the tests' back.

Users (see TestCluster.TOKENS):
  admin        token, group system:masters
  team-viewer  token, no groups; tests bind it to `view` in one namespace only
  exec-admin   token handed out by an exec credential plugin, group system:masters
  cert-admin   client certificate (CN=cert-admin, O=system:masters)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "tools" / "install-test-cluster.sh"


def k8s_version() -> str:
    for line in (ROOT / "tools" / "testcluster" / "go.mod").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "require":
            parts = parts[1:]
        if len(parts) >= 2 and parts[0] == "k8s.io/kubernetes" and parts[1].startswith("v"):
            return parts[1]
    raise RuntimeError("tools/testcluster/go.mod names no k8s.io/kubernetes version")


def binary_dir() -> Path:
    tools = Path(os.environ.get("KUBEFORT_TOOLS_DIR", Path.home() / ".cache" / "kubefort" / "tools"))
    return tools / "testcluster" / k8s_version()


def binaries_ready() -> bool:
    d = binary_dir()
    return (d / "kube-apiserver").is_file() and (d / "etcd").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


try:  # loaded here, not in the forked child, where importing could deadlock
    import ctypes

    _PRCTL = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child before exec: Linux kills it when the test process dies, however it dies, so
    no API server outlives a killed test run (SIGKILL: a graceful API server shutdown would wait
    for an etcd that is gone)."""
    if _PRCTL is not None:
        _PRCTL(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class TestCluster:
    __test__ = False  # not a pytest test class

    TOKENS: ClassVar[dict[str, tuple[str, str]]] = {
        "admin": ("admin-token-0123456789", "system:masters"),
        "team-viewer": ("viewer-token-0123456789", ""),
        "exec-admin": ("exec-token-0123456789", "system:masters"),
    }

    def __init__(
        self, workdir: Path | None = None, bin_dir: Path | None = None, extra_args: Sequence[str] = ()
    ) -> None:
        """`extra_args`: more kube-apiserver flags (for example `--audit-policy-file=...` and
        `--audit-log-path=...` for tests that read the audit log)."""
        self.bin = bin_dir or binary_dir()
        self.extra_args = tuple(extra_args)
        self.dir = Path(
            workdir
            or tempfile.mkdtemp(prefix="kubefort-apiserver-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        )
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = _free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.ca_file = self.dir / "ca.crt"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> TestCluster:
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        self._certs()
        (d / "tokens.csv").write_text(
            "".join(f'{tok},{user},uid-{user},"{groups}"\n' for user, (tok, groups) in self.TOKENS.items())
        )
        etcd_client, etcd_peer = _free_port(), _free_port()
        self.etcd_url = f"http://127.0.0.1:{etcd_client}"
        etcd_log = open(d / "etcd.log", "wb")
        self.procs.append(
            subprocess.Popen(
                [
                    str(self.bin / "etcd"),
                    "--name",
                    "test",
                    "--data-dir",
                    str(d / "etcd"),
                    "--listen-client-urls",
                    f"http://127.0.0.1:{etcd_client}",
                    "--advertise-client-urls",
                    f"http://127.0.0.1:{etcd_client}",
                    "--listen-peer-urls",
                    f"http://127.0.0.1:{etcd_peer}",
                    "--initial-advertise-peer-urls",
                    f"http://127.0.0.1:{etcd_peer}",
                    "--initial-cluster",
                    f"test=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync",
                    "--log-level",
                    "warn",
                    "--quota-backend-bytes",
                    str(4 * 1024**3),
                ],
                stdout=etcd_log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        )
        api_log = open(d / "apiserver.log", "wb")
        self.procs.append(
            subprocess.Popen(
                [
                    str(self.bin / "kube-apiserver"),
                    f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={self.port}",
                    "--advertise-address=127.0.0.1",
                    f"--tls-cert-file={d / 'server.crt'}",
                    f"--tls-private-key-file={d / 'server.key'}",
                    f"--client-ca-file={d / 'ca.crt'}",
                    f"--token-auth-file={d / 'tokens.csv'}",
                    "--authorization-mode=RBAC",
                    "--anonymous-auth=true",
                    "--allow-privileged=true",
                    f"--service-account-key-file={d / 'sa.pub'}",
                    f"--service-account-signing-key-file={d / 'sa.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc",
                    "--api-audiences=https://kubernetes.default.svc",
                    "--service-cluster-ip-range=10.96.0.0/16",
                    "--endpoint-reconciler-type=none",
                    # nothing runs the controllers that create default ServiceAccounts
                    "--disable-admission-plugins=ServiceAccount",
                    f"--cert-dir={d / 'certs'}",
                    "--profiling=false",
                    "--v=1",
                    # PodTemplates bypass the watch cache, so their continue tokens come from etcd and expire
                    # when etcd is compacted (tests of the 410 Gone restart use them)
                    "--watch-cache-sizes=podtemplates#0",
                    *self.extra_args,
                ],
                stdout=api_log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        )
        deadline = time.monotonic() + timeout
        while True:
            for p in self.procs:
                if p.poll() is not None:
                    logs = self.logs()
                    self.stop()
                    raise RuntimeError(f"{p.args[0]} exited with {p.returncode}:\n{logs[-3000:]}")
            try:
                status, _body = self.request("GET", "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                logs = self.logs()
                self.stop()
                raise RuntimeError(f"kube-apiserver not ready after {timeout:.0f} s:\n{logs[-3000:]}")
            time.sleep(0.3)
        return self

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def logs(self) -> str:
        out = []
        for name in ("etcd.log", "apiserver.log"):
            f = self.dir / name
            if f.exists():
                out.append(f"--- {name}\n" + f.read_text(errors="replace")[-4000:])
        return "\n".join(out)

    def __enter__(self) -> TestCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _certs(self) -> None:
        d = self.dir
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl(
            "req",
            "-x509",
            *ec,
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "3",
            "-subj",
            "/CN=kubefort-test-ca",
            cwd=d,
        )
        (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
        for name, subj, ext in (
            ("server", "/CN=kube-apiserver", "san.ext"),
            ("client", "/O=system:masters/CN=cert-admin", "client.ext"),
        ):
            _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
            _openssl(
                "x509",
                "-req",
                "-in",
                f"{name}.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                f"{name}.crt",
                "-days",
                "3",
                "-extfile",
                ext,
                cwd=d,
            )
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
        _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)

    # -- talking to it (test set-up only; kubefort itself uses the kubernetes client) --------
    def _ctx(self, cert: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if cert:
            ctx.load_cert_chain(str(self.dir / "client.crt"), str(self.dir / "client.key"))
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        user: str | None = "admin",
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if user is not None:
            headers["Authorization"] = f"Bearer {self.TOKENS[user][0]}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self._ctx(), timeout=30) as r:
                raw = r.read()
                status = r.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def create(self, path: str, obj: dict[str, Any], dry_run: bool = False) -> tuple[int, Any]:
        return self.request("POST", path + ("?dryRun=All" if dry_run else ""), obj)

    def apply(self, objects: list[dict[str, Any]]) -> None:
        """Create objects (core and well-known groups) as admin; 409 (exists) is fine."""
        for obj in objects:
            status, body = self.create(object_collection_path(obj), obj)
            if status not in (200, 201, 409):
                raise RuntimeError(f"creating {obj.get('kind')}/{obj['metadata'].get('name')}: {status} {body}")

    def grant_namespace_read(self, user: str, namespace: str) -> None:
        """Let `user` get/list everything but Secrets in one namespace (the built-in `view` role is
        aggregated by kube-controller-manager, which does not run here, so it is empty)."""
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "kubefort-test-read"},
            "rules": [
                {
                    "apiGroups": [
                        "",
                        "apps",
                        "batch",
                        "networking.k8s.io",
                        "policy",
                        "rbac.authorization.k8s.io",
                        "autoscaling",
                        "discovery.k8s.io",
                        "coordination.k8s.io",
                    ],
                    "resources": [
                        "pods",
                        "services",
                        "configmaps",
                        "serviceaccounts",
                        "endpoints",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "podtemplates",
                        "resourcequotas",
                        "limitranges",
                        "deployments",
                        "replicasets",
                        "statefulsets",
                        "daemonsets",
                        "controllerrevisions",
                        "jobs",
                        "cronjobs",
                        "networkpolicies",
                        "ingresses",
                        "poddisruptionbudgets",
                        "roles",
                        "rolebindings",
                        "horizontalpodautoscalers",
                        "endpointslices",
                        "leases",
                    ],
                    "verbs": ["get", "list"],
                }
            ],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"read-{user}", "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubefort-test-read"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        self.apply([role, binding])
        deadline = time.monotonic() + 10  # the authorizer sees new bindings through an informer
        while self.request("GET", f"/api/v1/namespaces/{namespace}/pods", user=user)[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user} still cannot read namespace {namespace}")
            time.sleep(0.1)

    def compact_etcd(self) -> int:
        """Compact etcd at its current revision (through etcd's JSON gateway): continue tokens
        issued before now expire, so the next page of a paginated list answers 410 Gone."""

        def post(path: str, body: dict[str, Any]) -> Any:
            req = urllib.request.Request(
                self.etcd_url + path,
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                raise RuntimeError(f"etcd {path}: {e.code} {e.read()[:300]!r}") from None

        # write a key outside the API server's prefix so that there is always a new revision
        rev = int(post("/v3/kv/put", {"key": "L2t1YmVmb3J0LXRlc3QvYnVtcA==", "value": "MQ=="})["header"]["revision"])
        post("/v3/kv/compaction", {"revision": rev, "physical": True})
        return rev

    # -- kubeconfigs ---------------------------------------------------------------------------
    def kubeconfig(self, path: Path, user: str = "admin", namespace: str | None = None) -> Path:
        """A kubeconfig for `user`: a token user, "cert-admin" (client certificate) or "exec-admin"
        (an exec credential plugin that prints the token)."""
        if user == "cert-admin":
            auth: dict[str, Any] = {
                "client-certificate": str(self.dir / "client.crt"),
                "client-key": str(self.dir / "client.key"),
            }
        elif user == "exec-admin":
            plugin = self.dir / "exec-plugin.py"
            plugin.write_text(
                "import json\n"
                "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
                f" 'status': {{'token': {self.TOKENS['exec-admin'][0]!r}}}}}))\n"
            )
            auth = {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": sys.executable,
                    "args": [str(plugin)],
                    "interactiveMode": "Never",
                }
            }
        else:
            auth = {"token": self.TOKENS[user][0]}
        ctx: dict[str, Any] = {"cluster": "test", "user": user}
        if namespace:
            ctx["namespace"] = namespace
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": f"{user}@test",
            "clusters": [{"name": "test", "cluster": {"server": self.url, "certificate-authority": str(self.ca_file)}}],
            "users": [{"name": user, "user": auth}],
            "contexts": [{"name": f"{user}@test", "context": ctx}],
        }
        path.write_text(json.dumps(cfg))
        return path


CORE_KINDS = {
    "Pod": "pods",
    "Namespace": "namespaces",
    "Service": "services",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "ServiceAccount": "serviceaccounts",
    "ResourceQuota": "resourcequotas",
    "LimitRange": "limitranges",
    "Node": "nodes",
}
GROUP_KINDS = {
    "Deployment": "deployments",
    "DaemonSet": "daemonsets",
    "StatefulSet": "statefulsets",
    "ReplicaSet": "replicasets",
    "Job": "jobs",
    "CronJob": "cronjobs",
    "NetworkPolicy": "networkpolicies",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "CustomResourceDefinition": "customresourcedefinitions",
}
CLUSTER_SCOPED = {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def object_collection_path(obj: dict[str, Any], plural: str | None = None) -> str:
    kind, av = obj["kind"], obj["apiVersion"]
    plural = plural or CORE_KINDS.get(kind) or GROUP_KINDS.get(kind) or kind.lower() + "s"
    base = f"/api/{av}" if "/" not in av else f"/apis/{av}"
    ns = obj.get("metadata", {}).get("namespace")
    if kind in CLUSTER_SCOPED or not ns:
        return f"{base}/{plural}"
    return f"{base}/namespaces/{ns}/{plural}"
