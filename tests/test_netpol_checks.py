"""KF-NET checks against their fixtures (tests/fixtures/checks/KF-NET-*.yaml), with the same exact
harness as tests/test_checks.py, plus the scope rules and the shared model cache.

The check module is imported here (not at collection) so that this file also runs before
`kubefort.checks.network` is registered in kubefort/checks/__init__.py.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from conftest import FIXTURES, scan_file, scan_text
from test_checks import _annotation, _expectations

NET_IDS = [f"KF-NET-{i:03d}" for i in range(1, 11)]


@pytest.fixture(autouse=True, scope="module")
def _network_checks():
    import kubefort.checks.network  # noqa: F401


@pytest.mark.parametrize("check_id", NET_IDS)
def test_net_check_fixture_exact_outcomes(check_id):
    from kubefort.registry import REGISTRY

    meta = REGISTRY.get(check_id)
    path = FIXTURES / "checks" / f"{check_id}.yaml"
    expected = _expectations(path)
    assert {"failed", "passed"} <= {s for e in expected.values() for s in e.values()}
    outcomes = [o for o in scan_file(path, (check_id,)) if o.check_id == check_id]
    actual: dict[str, dict] = defaultdict(dict)
    for o in outcomes:
        assert None not in actual[o.resource.name], f"two outcomes for {o.resource.name}"
        actual[o.resource.name][None] = o.status.value
    assert dict(actual) == expected
    for o in outcomes:
        if o.status.value != "passed":
            assert o.location is not None and o.location.line is not None and o.fingerprint and o.message, o
        line = _annotation(path, o.resource.name, "test.kubefort.io/line")
        if line and o.status.value == "failed":
            assert o.location.line == int(line), (o.resource.name, o.location)
        msg = _annotation(path, o.resource.name, "test.kubefort.io/message")
        if msg and o.status.value == "failed":
            assert msg in o.message, o.message
    assert meta.target == "cluster"


def test_single_deployment_scan_reports_nothing(tmp_path):
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "nginx:1.27"}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80}]}
"""
    outs = [o for o in scan_text(tmp_path, text, checks=tuple(NET_IDS)) if o.check_id.startswith("KF-NET")]
    assert outs == []


def test_model_is_built_once_per_scan(tmp_path, monkeypatch):
    from kubefort.checks import network

    built = []
    real = network._Model.__init__

    def counting(self, index, ctx):
        built.append(index)
        real(self, index, ctx)

    monkeypatch.setattr(network._Model, "__init__", counting)
    text = (FIXTURES / "checks" / "KF-NET-003.yaml").read_text()
    outs = scan_text(tmp_path, text, checks=tuple(NET_IDS))
    assert len(built) == 1 and len([o for o in outs if o.check_id.startswith("KF-NET")]) > 10


TWO_APPS = """\
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: other}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: other}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: "nginx:1.27"}]}
"""


@pytest.mark.parametrize("group_kind", sorted(__import__("kubefort.kube.netpol.kinds", fromlist=["x"]).UNMODELLED))
def test_a_policy_kind_not_modelled_makes_the_namespaces_it_may_govern_not_evaluated(tmp_path, group_kind):
    """Every CNI policy kind kubefort does not model yet: the namespace of a namespaced one (every
    namespace, for a cluster-scoped one) gets not-evaluated KF-NET verdicts naming it, never the
    verdicts of a namespace without it; other namespaces keep theirs."""
    from kubefort.kube.netpol.kinds import UNMODELLED

    group, kind = group_kind
    cluster_scoped = UNMODELLED[group_kind]
    meta = "{name: p}" if cluster_scoped else "{name: p, namespace: shop}"
    text = TWO_APPS + f"---\napiVersion: {group}/v1\nkind: {kind}\nmetadata: {meta}\nspec: {{}}\n"
    outs = scan_text(tmp_path, text, checks=("KF-NET-001", "KF-NET-003", "KF-NET-006"))
    by = {(o.check_id, o.resource.namespace or o.resource.name): o for o in outs if o.resource is not None}
    for cid, ns in [("KF-NET-001", "shop"), ("KF-NET-003", "shop"), ("KF-NET-006", "shop")]:
        o = by[(cid, ns)]
        assert o.status.value == "not-evaluated", (cid, o)
        assert kind in o.message and "does not model" in o.message
    other = by[("KF-NET-003", "other")]
    if cluster_scoped:
        assert other.status.value == "not-evaluated"
    else:
        assert other.status.value == "failed"  # no policy at all in `other`: judged as before


def test_a_scan_warns_of_each_policy_kind_it_does_not_model(tmp_path):
    from kubefort.drivers.manifests import scan
    from kubefort.engine import EngineSettings
    from kubefort.loaders.manifests import discover

    (tmp_path / "a.yaml").write_text(
        TWO_APPS + "---\napiVersion: crd.antrea.io/v1beta1\nkind: NetworkPolicy\n"
        "metadata: {name: deny, namespace: shop}\nspec: {}\n"
    )
    result = scan(discover([str(tmp_path)]), EngineSettings(check_ids=("KF-NET-003",), keep_passed=False))
    assert [w for w in result.warnings if "NetworkPolicy shop/deny (crd.antrea.io/v1beta1)" in w]


METADATA_ALLOWED_BY = {
    "networkpolicy": (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: out, namespace: shop}\n"
        "spec: {podSelector: {}, policyTypes: [Egress], egress: [{ports: [{port: 53, protocol: UDP}]}]}\n",
        "on UDP/53: allowed by shop/out egress[0]",
    ),
    "cilium": (
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: out, namespace: shop}\n"
        "spec: {endpointSelector: {}, egress: [{toEntities: [world], toPorts: [{ports: [{port: '53', protocol: UDP}]}]}]}\n",
        "on UDP/53: allowed by CiliumNetworkPolicy/shop/out egress[0]",
    ),
    "calico": (
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: out, namespace: shop}\n"
        "spec: {selector: all(), types: [Egress], egress: [{action: Allow, protocol: UDP, destination: {ports: [53]}}]}\n",
        "on UDP/53: allowed by NetworkPolicy/shop/out egress[0] (calico tier default)",
    ),
    "admin": (
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: out}\n"
        "spec: {priority: 10, subject: {namespaces: {}}, egress: [{name: dns, action: Allow, "
        "to: [{networks: [0.0.0.0/0]}], ports: [{portNumber: {port: 53, protocol: UDP}}]}]}\n",
        # nothing else isolates the pod: the rest of its egress is the default allow
        "on all: allowed by AdminNetworkPolicy/out egress[0] (dns) (Admin), no policy deciding them (default allow)",
    ),
}


@pytest.mark.parametrize("kind", sorted(METADATA_ALLOWED_BY))
def test_a_reachable_metadata_endpoint_names_the_rule_that_allows_it_whatever_the_kind(tmp_path, kind):
    policy, why = METADATA_ALLOWED_BY[kind]
    outs = scan_text(tmp_path, TWO_APPS + "---\n" + policy, checks=("KF-NET-006",))
    (out,) = [o for o in outs if o.check_id == "KF-NET-006" and o.resource is not None and o.resource.name == "web"]
    assert out.status.value == "failed", out.message
    assert out.message == f"pods of Deployment/web can reach 169.254.169.254 {why}"


EXPOSED = """\
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80}]}
"""
INGRESS_ISOLATED_BY = {
    "networkpolicy": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: in, namespace: shop}\n"
    "spec: {podSelector: {matchLabels: {app: web}}, ingress: [{ports: [{port: 80}]}]}\n",
    "cilium": "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: in, namespace: shop}\n"
    "spec: {endpointSelector: {matchLabels: {app: web}}, ingress: [{toPorts: [{ports: [{port: '80'}]}]}]}\n",
    "calico": "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: in, namespace: shop}\n"
    "spec: {selector: app == 'web', types: [Ingress], ingress: [{action: Allow, protocol: TCP, destination: {ports: [80]}}]}\n",
    "admin": "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {name: in}\n"
    "spec: {priority: 10, subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}, "
    "ingress: [{name: others, action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: other}}}]}]}\n",
}


@pytest.mark.parametrize("kind", sorted(INGRESS_ISOLATED_BY))
def test_exposed_service_is_judged_with_every_policy_kind(tmp_path, kind):
    """KF-NET-010 and KF-NET-003 see the isolation of every kind: without the policy the NodePort
    Service fails; with it, it passes, and web is isolated."""
    checks = ("KF-NET-010", "KF-NET-003")

    def verdicts(text: str) -> dict[tuple[str, str], str]:
        return {
            (o.check_id, o.resource.name): o.status.value
            for o in scan_text(tmp_path, text, checks=checks)
            if o.resource is not None and o.resource.name == "web"
        }

    assert verdicts(TWO_APPS + EXPOSED) == {("KF-NET-010", "web"): "failed", ("KF-NET-003", "web"): "failed"}
    isolated = TWO_APPS + EXPOSED + "---\n" + INGRESS_ISOLATED_BY[kind]
    assert verdicts(isolated) == {("KF-NET-010", "web"): "passed", ("KF-NET-003", "web"): "passed"}
