"""Public NetworkPolicy examples from ../shared/conformance/netpol (Cyclonus' policies), evaluated on
Cyclonus' model cluster: namespaces x, y, z (label ns=<name>), pods a, b, c in each (label
pod=<name>), every pod serving 80 and 81 on TCP, UDP and SCTP (ports named serve-<port>-<proto>).

The expectations are derived by hand from the networking.k8s.io/v1 API reference, not taken
from Cyclonus' output: each case lists the (source, destination) pairs that are DENIED for a
probe; every other pair of the 9 x 9 matrix is allowed. Skipped when ../shared is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubefort.kube.netpol import Analysis, Cluster, ports_contain
from kubefort.loaders.manifests import InputSpec, load
from kubefort.model import Resource, ResourceId, Source

NS = ["x", "y", "z"]
PODS = ["a", "b", "c"]
ALL = [f"{n}/{p}" for n in NS for p in PODS]
CYCLONUS = "conformance/netpol/mattfenwick+cyclonus/networkpolicies"


def model() -> list[Resource]:
    out = []
    for n in NS:
        out.append(
            Resource(
                ResourceId("v1", "Namespace", None, n), {"metadata": {"name": n, "labels": {"ns": n}}}, Source("model")
            )
        )
        for p in PODS:
            ports = [
                {"name": f"serve-{port}-{proto.lower()}", "containerPort": port, "protocol": proto}
                for port in (80, 81)
                for proto in ("TCP", "UDP", "SCTP")
            ]
            obj = {
                "metadata": {"name": p, "namespace": n, "labels": {"pod": p}},
                "spec": {"containers": [{"name": "c", "image": "agnhost", "ports": ports}]},
            }
            out.append(Resource(ResourceId("v1", "Pod", n, p), obj, Source("model")))
    return out


def into(dst: str, but: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    return {(s, dst) for s in ALL if s not in but}


def out_of(src: str, but: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    return {(src, d) for d in ALL if d not in but}


CASES = [
    # ingress: [] on every pod of y: nothing enters y
    ("simple-example/deny-all.yaml", 80, "TCP", set().union(*(into(f"y/{p}") for p in PODS))),
    # egress: [] with policyTypes [Egress] on every pod of y: nothing leaves y
    ("simple-example/deny-all-egress.yaml", 80, "TCP", set().union(*(out_of(f"y/{p}") for p in PODS))),
    ("simple-example/deny-all-for-label.yaml", 81, "UDP", into("y/a")),
    # y/a accepts only y/c (podSelector alone: the policy's namespace)
    ("simple-example/allow-label-to-label.yaml", 80, "TCP", into("y/a", but=("y/c",))),
    # `- {}` rules: isolated but everything allowed
    ("simple-example/allow-all-for-label.yaml", 80, "SCTP", set()),
    ("simple-example/allow-all-egress-by-label.yaml", 81, "TCP", set()),
    # ipBlock 0.0.0.0/24 never matches a pod (pod IPs are unknown): y/c accepts no pod
    ("simple-example/allow-by-ip.yaml", 80, "TCP", into("y/c")),
    # x/a may send only to pods of namespaces labelled ns=y with pod=a on TCP 80, and UDP 53 anywhere
    ("upstream_test_cases/allow-to-ns-y-pod-a.yaml", 80, "TCP", out_of("x/a", but=("y/a",))),
    ("upstream_test_cases/allow-to-ns-y-pod-a.yaml", 81, "TCP", out_of("x/a")),
    ("upstream_test_cases/allow-to-ns-y-pod-a.yaml", 80, "UDP", out_of("x/a")),
    # the same with endPort 103: 81 is inside 80-103
    ("features/portrange1.yaml", 81, "TCP", out_of("x/a", but=("y/a",))),
    ("features/portrange1.yaml", 81, "SCTP", out_of("x/a")),
]


@pytest.mark.parametrize("case, port, proto, denied", CASES, ids=lambda v: str(v) if not isinstance(v, set) else "")
def test_cyclonus_example(shared: Path, case: str, port: int, proto: str, denied: set[tuple[str, str]]) -> None:
    path = shared / CYCLONUS / case
    li = load(InputSpec("file", str(path), path.stat().st_size))
    assert not li.problems and li.resources
    cluster = Cluster.from_resources(model() + li.resources, externals=())
    assert not cluster.problems, [str(p) for p in cluster.problems]
    m = Analysis(cluster).matrix()
    name = {i: f"{w.namespace}/{w.name}" for i, w in enumerate(cluster.workloads)}
    got = {(name[s], name[d]) for s in name for d in name if not ports_contain(m.ports(s, d), port, proto)}
    assert got == denied
