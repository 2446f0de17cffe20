"""A seeded synthetic API-server audit log (JSON lines of audit.k8s.io/v1 Event), for the audit benches.

Usage: .venv/bin/python bench/gen_audit.py OUT [--events N | --size 2GB] [--seed S] [--gzip]

The mix follows what a busy cluster's log holds with a common policy (RequestReceived omitted
for most rules, Metadata for reads, RequestResponse for pod writes):

* ~88 % system components: kubelets (`system:node:*`), the controller manager, the scheduler
  and in-cluster service accounts doing get/list/watch/update on pods, nodes, leases,
  endpointslices, configmaps, events; watches with ResponseStarted + ResponseComplete;
* ~11 % people and CI (`kubectl`): gets, lists, applies of Deployments, pod creates whose
  `requestObject` is a realistic pod (1-2 KB), some 403s, Secret reads;
* ~0.2 % attacks: exec into kube-system pods, privileged or hostPath pods, bindings to
  cluster-admin, Secret lists by a stolen service account, bursts of 403/401, anonymous
  requests, impersonation, deleted Events.

Timestamps increase by a few milliseconds per event (microsecond RFC 3339, as the API server
writes them). The same seed gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import orjson

START = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)
NODES = [f"ip-10-0-{i // 250}-{i % 250}.ec2.internal" for i in range(40)]
NAMESPACES = ["shop", "payments", "search", "batch", "monitoring", "ingress", "kube-system"]
CONTROLLERS = [
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:serviceaccount:kube-system:deployment-controller",
    "system:serviceaccount:kube-system:endpointslice-controller",
    "system:serviceaccount:kube-system:job-controller",
    "system:serviceaccount:kube-system:namespace-controller",
    "system:serviceaccount:kube-system:generic-garbage-collector",
]
SERVICE_ACCOUNTS = [
    "system:serviceaccount:monitoring:prometheus",
    "system:serviceaccount:ingress:ingress-nginx",
    "system:serviceaccount:kube-system:coredns",
    "system:serviceaccount:kube-system:kube-proxy",
    "system:serviceaccount:shop:web",
]
PEOPLE = ["alice@example.com", "bob@example.com", "carol@example.com", "ci-deployer"]
READ_RESOURCES = [
    ("", "pods", "v1"),
    ("", "nodes", "v1"),
    ("", "configmaps", "v1"),
    ("", "services", "v1"),
    ("discovery.k8s.io", "endpointslices", "v1"),
    ("apps", "deployments", "v1"),
    ("apps", "replicasets", "v1"),
    ("coordination.k8s.io", "leases", "v1"),
]
CLUSTER_SCOPED = {"nodes", "namespaces", "clusterroles", "clusterrolebindings"}


class Gen:
    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.t = START
        self.n = 0

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))

    def tick(self) -> str:
        self.t += timedelta(microseconds=self.rnd.randint(200, 4000))
        return self.t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def user(self, name: str) -> dict[str, Any]:
        if name.startswith("system:serviceaccount:"):
            ns = name.split(":")[2]
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
        elif name.startswith("system:node:"):
            groups = ["system:nodes", "system:authenticated"]
        elif name == "system:anonymous":
            groups = ["system:unauthenticated"]
        elif name.startswith("system:"):
            groups = ["system:authenticated"]
        else:
            groups = ["developers", "system:authenticated"]
        return {"username": name, "uid": self.uid()[:8], "groups": groups}

    def event(
        self,
        user: str,
        verb: str,
        group: str,
        resource: str,
        version: str,
        *,
        namespace: str = "",
        name: str = "",
        subresource: str = "",
        code: int = 200,
        level: str = "Metadata",
        stage: str = "ResponseComplete",
        request: dict[str, Any] | None = None,
        agent: str = "",
        ip: str = "",
        audit_id: str = "",
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        path = prefix + (f"/namespaces/{namespace}" if namespace and resource not in CLUSTER_SCOPED else "")
        path += f"/{resource}" + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")
        if verb == "watch":
            path += "?allowWatchBookmarks=true&resourceVersion=1234567&timeout=7m12s&watch=true"
        ts = self.tick()
        ref: dict[str, Any] = {"resource": resource, "apiVersion": version}
        if group:
            ref["apiGroup"] = group
        if namespace:
            ref["namespace"] = namespace
        if name:
            ref["name"] = name
        if subresource:
            ref["subresource"] = subresource
        ev: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": audit_id or self.uid(),
            "stage": stage,
            "requestURI": path,
            "verb": verb,
            "user": self.user(user),
            "sourceIPs": [ip or f"10.0.{self.rnd.randint(0, 3)}.{self.rnd.randint(2, 250)}"],
            "userAgent": agent or "kube-controller-manager/v1.37.0 (linux/amd64) kubernetes/abcdef0",
            "objectRef": ref,
        }
        if stage != "RequestReceived":
            ev["responseStatus"] = {"metadata": {}, "code": code}
            if code >= 400:
                ev["responseStatus"].update(status="Failure", reason="Forbidden" if code == 403 else "Unauthorized")
        if request is not None:
            ev["requestObject"] = request
        ev["requestReceivedTimestamp"] = ts
        ev["stageTimestamp"] = ts
        decision = "allow" if code < 400 else "forbid"
        ev["annotations"] = {
            "authorization.k8s.io/decision": decision,
            "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "system:controller" of ClusterRole'
            if decision == "allow"
            else "",
        }
        if extra:
            ev.update(extra)
        return ev

    def pod(self, namespace: str, name: str, *, privileged: bool = False, host_path: str = "") -> dict[str, Any]:
        container: dict[str, Any] = {
            "name": "app",
            "image": f"registry.example.com/{namespace}/app:1.{self.rnd.randint(0, 40)}.{self.rnd.randint(0, 9)}",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
        }
        spec: dict[str, Any] = {"containers": [container], "serviceAccountName": "default"}
        if privileged:
            container["securityContext"] = {"privileged": True}
            spec["hostPID"] = True
        if host_path:
            spec["volumes"] = [{"name": "host", "hostPath": {"path": host_path}}]
            container["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
        return {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web", "pod-template-hash": "7d9f"}},
            "spec": spec,
        }

    # -- the mix --------------------------------------------------------------------------------
    def next_events(self) -> list[dict[str, Any]]:
        r = self.rnd.random()
        if r < 0.88:
            return self.system()
        if r < 0.998:
            return self.person()
        return self.attack()

    def system(self) -> list[dict[str, Any]]:
        rnd = self.rnd
        r = rnd.random()
        node = rnd.choice(NODES)
        if r < 0.30:  # kubelet and controller lease renewals
            holder = f"system:node:{node}" if rnd.random() < 0.7 else "system:kube-controller-manager"
            ns = "kube-node-lease" if holder.startswith("system:node:") else "kube-system"
            return [
                self.event(
                    holder,
                    rnd.choice(["get", "update"]),
                    "coordination.k8s.io",
                    "leases",
                    "v1",
                    namespace=ns,
                    name=node,
                    agent="kubelet/v1.37.0 (linux/amd64) kubernetes/abcdef0",
                )
            ]
        if r < 0.50:  # kubelets read their pods, nodes, configmaps and secrets
            g, res, v = rnd.choice(READ_RESOURCES[:3])
            ns = "" if res == "nodes" else rnd.choice(NAMESPACES)
            return [
                self.event(
                    f"system:node:{node}",
                    rnd.choice(["get", "list"]),
                    g,
                    res,
                    v,
                    namespace=ns,
                    name=node if res == "nodes" else "",
                )
            ]
        if r < 0.62:  # watches: ResponseStarted now, ResponseComplete later (here: at once)
            user = rnd.choice(CONTROLLERS + SERVICE_ACCOUNTS)
            g, res, v = rnd.choice(READ_RESOURCES)
            aid = self.uid()
            ns = "" if res == "nodes" or rnd.random() < 0.5 else rnd.choice(NAMESPACES)
            return [
                self.event(user, "watch", g, res, v, namespace=ns, stage="ResponseStarted", audit_id=aid),
                self.event(user, "watch", g, res, v, namespace=ns, audit_id=aid),
            ]
        if r < 0.80:  # controllers and service accounts get/list
            user = rnd.choice(CONTROLLERS + SERVICE_ACCOUNTS)
            g, res, v = rnd.choice(READ_RESOURCES)
            ns = "" if res == "nodes" else rnd.choice(NAMESPACES)
            return [self.event(user, rnd.choice(["get", "list"]), g, res, v, namespace=ns)]
        if r < 0.88:  # status updates and patches
            user = rnd.choice(CONTROLLERS)
            return [
                self.event(
                    user,
                    rnd.choice(["update", "patch"]),
                    "apps",
                    "replicasets",
                    "v1",
                    namespace=rnd.choice(NAMESPACES),
                    name=f"web-{rnd.randint(1000, 9999)}",
                    subresource="status",
                )
            ]
        if r < 0.95:  # events created by components
            return [
                self.event(
                    rnd.choice(CONTROLLERS),
                    "create",
                    "events.k8s.io",
                    "events",
                    "v1",
                    namespace=rnd.choice(NAMESPACES),
                    code=201,
                    level="Request",
                    request={"kind": "Event", "apiVersion": "events.k8s.io/v1", "reason": "Scheduled", "note": "ok"},
                )
            ]
        # the scheduler binds pods; replicasets create pods with their full spec
        ns = rnd.choice(NAMESPACES[:5])
        name = f"web-{rnd.randint(1000, 9999)}-{rnd.randint(10000, 99999)}"
        if rnd.random() < 0.5:
            return [
                self.event(
                    "system:kube-scheduler", "create", "", "pods", "v1", namespace=ns, name=name, subresource="binding"
                )
            ]
        return [
            self.event(
                "system:serviceaccount:kube-system:replicaset-controller",
                "create",
                "",
                "pods",
                "v1",
                namespace=ns,
                name=name,
                code=201,
                level="RequestResponse",
                request=self.pod(ns, name),
            )
        ]

    def person(self) -> list[dict[str, Any]]:
        rnd = self.rnd
        user = rnd.choice(PEOPLE)
        ip = f"192.168.{rnd.randint(0, 3)}.{rnd.randint(2, 250)}"
        agent = "kubectl/v1.37.0 (darwin/arm64) kubernetes/abcdef0"
        ns = rnd.choice(NAMESPACES[:5])
        r = rnd.random()
        if r < 0.55:
            g, res, v = rnd.choice(READ_RESOURCES)
            return [
                self.event(user, rnd.choice(["get", "list"]), g, res, v, namespace=ns, agent=agent, ip=ip),
            ]
        if r < 0.70:  # apply: RequestReceived and ResponseComplete, the Deployment it produced recorded
            aid = self.uid()
            name = f"web-{rnd.randint(1, 20)}"
            replicas = rnd.randint(1, 5)
            deployment = {
                "kind": "Deployment",
                "apiVersion": "apps/v1",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"replicas": replicas, "template": {"spec": self.pod(ns, name)["spec"]}},
            }
            return [
                self.event(
                    user,
                    "patch",
                    "apps",
                    "deployments",
                    "v1",
                    namespace=ns,
                    name=name,
                    stage=stage,
                    agent=agent,
                    ip=ip,
                    audit_id=aid,
                    level="RequestResponse",
                    request={"spec": {"replicas": replicas}},
                    extra={"responseObject": deployment} if stage == "ResponseComplete" else None,
                )
                for stage in ("RequestReceived", "ResponseComplete")
            ]
        if r < 0.80:
            name = f"debug-{rnd.randint(1, 99)}"
            return [
                self.event(
                    user,
                    "create",
                    "",
                    "pods",
                    "v1",
                    namespace=ns,
                    name=name,
                    code=201,
                    level="RequestResponse",
                    request=self.pod(ns, name),
                    agent=agent,
                    ip=ip,
                )
            ]
        if r < 0.90:  # refused
            return [
                self.event(
                    user,
                    "get",
                    "",
                    rnd.choice(["secrets", "pods"]),
                    "v1",
                    namespace="kube-system",
                    code=403,
                    agent=agent,
                    ip=ip,
                )
            ]
        return [self.event(user, "get", "", "secrets", "v1", namespace=ns, name="db-credentials", agent=agent, ip=ip)]

    def attack(self) -> list[dict[str, Any]]:
        rnd = self.rnd
        ip = f"203.0.113.{rnd.randint(2, 250)}"
        agent = "kubectl/v1.37.0 (linux/amd64) kubernetes/abcdef0"
        kind = rnd.randrange(9)
        if kind == 0:
            aid = self.uid()
            return [
                self.event(
                    "mallory@example.com",
                    "create",
                    "",
                    "pods",
                    "v1",
                    namespace="kube-system",
                    name="etcd-node-1",
                    subresource="exec",
                    code=101,
                    stage=stage,
                    agent=agent,
                    ip=ip,
                    audit_id=aid,
                )
                for stage in ("ResponseStarted", "ResponseComplete")
            ]
        if kind == 1:
            name = f"pwn-{rnd.randint(1, 999)}"
            return [
                self.event(
                    "mallory@example.com",
                    "create",
                    "",
                    "pods",
                    "v1",
                    namespace="default",
                    name=name,
                    code=201,
                    level="RequestResponse",
                    request=self.pod("default", name, privileged=True, host_path="/"),
                    agent=agent,
                    ip=ip,
                )
            ]
        if kind == 2:
            binding = {
                "kind": "ClusterRoleBinding",
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "metadata": {"name": "backdoor"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": [{"kind": "User", "name": "mallory@example.com", "apiGroup": "rbac.authorization.k8s.io"}],
            }
            return [
                self.event(
                    "mallory@example.com",
                    "create",
                    "rbac.authorization.k8s.io",
                    "clusterrolebindings",
                    "v1",
                    name="backdoor",
                    code=201,
                    level="RequestResponse",
                    request=binding,
                    agent=agent,
                    ip=ip,
                )
            ]
        if kind == 3:
            return [
                self.event(
                    "system:serviceaccount:shop:web", "list", "", "secrets", "v1", namespace="kube-system", ip=ip
                )
            ]
        if kind == 4:  # a burst of refusals
            return [
                self.event(
                    "system:serviceaccount:shop:web",
                    rnd.choice(["get", "list"]),
                    "",
                    rnd.choice(["secrets", "pods", "nodes", "configmaps"]),
                    "v1",
                    namespace=rnd.choice(NAMESPACES),
                    code=403,
                    ip=ip,
                )
                for _ in range(rnd.randint(10, 30))
            ]
        if kind == 5:
            return [
                self.event(
                    "system:anonymous", "get", "", "pods", "v1", namespace="default", code=200, ip=ip, agent="curl"
                )
            ]
        if kind == 6:
            return [
                self.event(
                    "alice@example.com",
                    "get",
                    "",
                    "secrets",
                    "v1",
                    namespace="payments",
                    name="stripe",
                    agent=agent,
                    ip=ip,
                    extra={"impersonatedUser": {"username": "system:admin", "groups": ["system:masters"]}},
                )
            ]
        if kind == 7:
            return [
                self.event("mallory@example.com", "delete", "", "events", "v1", namespace="kube-system", ip=ip)
                for _ in range(3)
            ]
        return [self.event("", "get", "", "pods", "v1", namespace="default", code=401, ip=ip, agent="python-requests")]


def lines(n: int | None = None, *, seed: int = 1, size: int | None = None) -> Iterator[bytes]:
    """JSON lines of the log: `n` events, or until about `size` bytes."""
    g = Gen(seed)
    count = written = 0
    while (n is None or count < n) and (size is None or written < size):
        for ev in g.next_events():
            line = orjson.dumps(ev) + b"\n"
            yield line
            count += 1
            written += len(line)
            if n is not None and count >= n:
                return


def write(out: BinaryIO, n: int | None = None, *, seed: int = 1, size: int | None = None) -> tuple[int, int]:
    """Write the log to `out`; returns (events, bytes)."""
    count = written = 0
    buf: list[bytes] = []
    for line in lines(n, seed=seed, size=size):
        buf.append(line)
        count += 1
        written += len(line)
        if len(buf) >= 4096:
            out.write(b"".join(buf))
            buf.clear()
    out.write(b"".join(buf))
    return count, written


def parse_size(text: str) -> int:
    t = text.strip().upper()
    for suffix, mult in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3), ("G", 2**30), ("M", 2**20), ("K", 2**10)):
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * mult)
    return int(t)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("out", help="file to write ('-' for stdout)")
    ap.add_argument("--events", type=int, default=None, help="number of events (default 100,000 unless --size)")
    ap.add_argument("--size", default=None, help="write about this many bytes instead (e.g. 2GB)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="gzip the output")
    a = ap.parse_args()
    size = parse_size(a.size) if a.size else None
    n = a.events if a.events is not None or size is not None else 100_000
    raw: BinaryIO = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")  # noqa: SIM115 - closed below
    try:
        out: BinaryIO = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3) if a.gzip else raw
        count, written = write(out, n, seed=a.seed, size=size)
        if out is not raw:
            out.close()
    finally:
        if raw is not sys.stdout.buffer:
            raw.close()
    print(f"wrote {count:,} events, {written / 1e6:,.1f} MB of JSON", file=sys.stderr)


if __name__ == "__main__":
    main()
