"""kubefort's RBAC answers against the real authorizer (issue 12 item 21).

Random RBAC worlds (a seeded generator: Roles, ClusterRoles with aggregation, chains of it and
additions to the built-in admin/edit/view, bindings to users, groups and ServiceAccounts) go into
the real kube-apiserver the tests build (tests/kubeapi.py), with the real ClusterRole aggregation
controller of kube-controller-manager running. For thousands of random requests, kubefort's
`authorize` and `who_can` (on the same objects, with its built-in default policy of the server's
release, not the server's copies) must give exactly the SubjectAccessReview answer.

An aggregated ClusterRole's own rules are kubefort's "granted if the rules are kept": the
controller runs here, so they are replaced, and the certain answer must equal the server's.
"""

from __future__ import annotations

import http.client
import json
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import kubeapi
from conftest import tool_missing
from kubefort.kube.rbac import Identity, Policy, Request
from kubefort.kube.rbac.builtin import bootstrap_objects
from kubefort.model import Resource, ResourceId, Source

RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_G = "rbac.authorization.k8s.io"
VERSION = ".".join(kubeapi.k8s_version().lstrip("v").split(".")[:2])
SEEDS = (11, 23, 37)
QUERIES_PER_WORLD = 1200

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "impersonate", "bind", "escalate", "*")
# (group, resource[/subresource]) pairs rules and requests draw from: built-in resources of both
# scopes, subresources, RBAC's own resources and a resource the server does not serve
RESOURCES = (
    ("", "pods"),
    ("", "pods/exec"),
    ("", "pods/log"),
    ("", "secrets"),
    ("", "configmaps"),
    ("", "serviceaccounts"),
    ("", "serviceaccounts/token"),
    ("", "nodes"),
    ("", "nodes/proxy"),
    ("", "namespaces"),
    ("apps", "deployments"),
    ("apps", "deployments/scale"),
    ("batch", "jobs"),
    (RBAC_G, "clusterroles"),
    (RBAC_G, "rolebindings"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("resource.k8s.io", "deviceclasses"),
    ("example.com", "widgets"),
)
URLS = ("/healthz", "/version", "/apis", "/api/v1", "/metrics", "/openid/v1/jwks", "/logs/x")
RULE_URLS = ("/healthz", "/metrics", "/api/*", "/logs*", "*")
NAMES = ("a", "b")
DEFAULT_AGGREGATES = ("admin", "edit", "view")


# ------------------------------------------------------------------------------------------------
# random worlds
# ------------------------------------------------------------------------------------------------
class World:
    """One seeded RBAC world; every name carries the seed, so worlds live side by side."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        p = f"w{seed}"
        self.prefix = p
        self.namespaces = [f"{p}-a", f"{p}-b"]
        self.users = [f"{p}-user{i}" for i in range(4)]
        self.groups = [f"{p}-group{i}" for i in range(3)]
        self.sas = [(ns, f"sa{i}") for ns in self.namespaces for i in range(2)]
        self.agg_labels = [f"kf.test/{p}-agg{i}" for i in range(2)]
        self.objects: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in self.namespaces
        ]
        self.cluster_roles: list[str] = []
        self.roles: list[tuple[str, str]] = []
        self._build()

    # -- rules ---------------------------------------------------------------------------------
    def rule(self, namespaced: bool) -> dict[str, Any]:
        rng = self.rng
        verbs = sorted(set(rng.sample(VERBS, rng.randint(1, 3))))
        if not namespaced and rng.random() < 0.12:
            return {"nonResourceURLs": sorted(set(rng.sample(RULE_URLS, rng.randint(1, 2)))), "verbs": verbs}
        picked = rng.sample(RESOURCES, rng.randint(1, 3))
        groups = sorted({g for g, _ in picked})
        resources = sorted({r for _, r in picked})
        roll = rng.random()
        if roll < 0.08:
            groups = ["*"]
        if 0.08 <= roll < 0.14:
            resources = ["*"]
        elif 0.14 <= roll < 0.2:
            resources = [*resources, rng.choice(("*/scale", "*/exec", "*/log"))]
        rule: dict[str, Any] = {"apiGroups": groups, "resources": resources, "verbs": verbs}
        if rng.random() < 0.15:
            rule["resourceNames"] = [rng.choice(NAMES)]
        return rule

    def rules(self, namespaced: bool, low: int = 1) -> list[dict[str, Any]]:
        return [self.rule(namespaced) for _ in range(self.rng.randint(low, 3))]

    # -- objects -------------------------------------------------------------------------------
    def subjects(self, ns: str | None) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(("User", "Group", "ServiceAccount"))
            if kind == "ServiceAccount":
                sa_ns, sa = rng.choice(self.sas)
                s: dict[str, Any] = {"kind": kind, "name": sa, "namespace": sa_ns}
                if ns == sa_ns and rng.random() < 0.3:
                    del s["namespace"]  # a RoleBinding's ServiceAccount defaults to its namespace
            else:
                pool = self.users if kind == "User" else self.groups
                s = {"kind": kind, "name": rng.choice(pool), "apiGroup": RBAC_G}
            if s not in out:
                out.append(s)
        if rng.random() < 0.04:
            out.append({"kind": "Group", "name": "system:serviceaccounts:" + self.namespaces[0], "apiGroup": RBAC_G})
        return out

    def _build(self) -> None:
        rng, p = self.rng, self.prefix
        for i in range(6):
            labels = {}
            if rng.random() < 0.6:
                labels[rng.choice(self.agg_labels)] = "true"
            if rng.random() < 0.15:
                labels[f"rbac.authorization.k8s.io/aggregate-to-{rng.choice(DEFAULT_AGGREGATES)}"] = "true"
            self._add("ClusterRole", f"{p}-cr{i}", None, rules=self.rules(False), labels=labels)
        for i, label in enumerate(self.agg_labels):
            agg: dict[str, Any] = {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}
            if rng.random() < 0.5:  # an expression selector as well
                agg["clusterRoleSelectors"].append(
                    {"matchExpressions": [{"key": self.agg_labels[1 - i], "operator": "Exists"}]}
                )
            labels = {self.agg_labels[1 - i]: "true"} if i == 0 and rng.random() < 0.5 else {}  # chains
            own = self.rules(False) if i == 0 or rng.random() < 0.5 else []  # replaced by the controller
            self._add("ClusterRole", f"{p}-agg{i}", None, rules=own, labels=labels, aggregation=agg)
            self._bind("ClusterRoleBinding", f"{p}-agg{i}", None, "ClusterRole", f"{p}-agg{i}")
        for ns in self.namespaces:
            for i in range(2):
                self._add("Role", f"{p}-role{i}", ns, rules=self.rules(True))
        for i in range(5):
            role = rng.choice([*self.cluster_roles, *DEFAULT_AGGREGATES, "cluster-admin", "system:basic-user"])
            self._bind("ClusterRoleBinding", f"{p}-crb{i}", None, "ClusterRole", role)
        for ns in self.namespaces:
            for i in range(4):
                if rng.random() < 0.5:
                    _, role = rng.choice([r for r in self.roles if r[0] == ns])
                    self._bind("RoleBinding", f"{p}-rb{i}", ns, "Role", role)
                else:
                    role = rng.choice([*self.cluster_roles, *DEFAULT_AGGREGATES])
                    self._bind("RoleBinding", f"{p}-rb{i}", ns, "ClusterRole", role)

    def _add(
        self,
        kind: str,
        name: str,
        ns: str | None,
        *,
        rules: list[dict[str, Any]],
        labels: dict[str, str] | None = None,
        aggregation: dict[str, Any] | None = None,
    ) -> None:
        meta: dict[str, Any] = {"name": name}
        if ns:
            meta["namespace"] = ns
        if labels:
            meta["labels"] = labels
        obj: dict[str, Any] = {"apiVersion": RBAC_API, "kind": kind, "metadata": meta, "rules": rules}
        if aggregation:
            obj["aggregationRule"] = aggregation
        self.objects.append(obj)
        if kind == "ClusterRole":
            self.cluster_roles.append(name)
        else:
            self.roles.append((ns or "", name))

    def _bind(self, kind: str, name: str, ns: str | None, role_kind: str, role: str) -> None:
        meta: dict[str, Any] = {"name": name}
        if ns:
            meta["namespace"] = ns
        self.objects.append(
            {
                "apiVersion": RBAC_API,
                "kind": kind,
                "metadata": meta,
                "roleRef": {"apiGroup": RBAC_G, "kind": role_kind, "name": role},
                "subjects": self.subjects(ns),
            }
        )

    # -- requests ------------------------------------------------------------------------------
    def identities(self) -> list[Identity]:
        rng = self.rng
        out = [
            Identity(u, frozenset(rng.sample(self.groups, rng.randint(0, 2))) | {"system:authenticated"})
            for u in self.users
        ]
        out += [
            Identity(
                f"system:serviceaccount:{ns}:{sa}",
                frozenset({"system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"}),
            )
            for ns, sa in self.sas
        ]
        out.append(Identity(f"{self.prefix}-nobody", frozenset({"system:authenticated"})))
        out.append(Identity("system:anonymous", frozenset({"system:unauthenticated"})))
        return out

    def requests(self, n: int) -> Iterator[tuple[Identity, Request]]:
        rng, ids = self.rng, self.identities()
        for _ in range(n):
            who = rng.choice(ids)
            verb = rng.choice(VERBS[:-1])
            if rng.random() < 0.1:
                yield who, Request(verb, path=rng.choice(URLS))
                continue
            group, res = rng.choice(RESOURCES)
            resource, _, sub = res.partition("/")
            ns = rng.choice([*self.namespaces, "", "elsewhere"])
            name = rng.choice(("", "", *NAMES))
            yield who, Request(verb, group, resource, sub, ns, name)


# ------------------------------------------------------------------------------------------------
# the cluster side
# ------------------------------------------------------------------------------------------------
class Authorizer:
    """SubjectAccessReviews over one kept-alive connection (thousands of them in seconds)."""

    def __init__(self, cluster: kubeapi.TestCluster) -> None:
        self.cluster = cluster
        self.conn = http.client.HTTPSConnection("127.0.0.1", cluster.port, context=cluster._ctx(), timeout=30)
        self.token = cluster.TOKENS["admin"][0]

    def allowed(self, who: Identity, req: Request) -> bool:
        spec: dict[str, Any] = {"user": who.user, "groups": sorted(who.groups)}
        if req.path is not None:
            spec["nonResourceAttributes"] = {"path": req.path, "verb": req.verb}
        else:
            spec["resourceAttributes"] = {
                "namespace": req.namespace,
                "verb": req.verb,
                "group": req.group,
                "resource": req.resource,
                "subresource": req.subresource,
                "name": req.name,
            }
        body = json.dumps({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        self.conn.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body,
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        resp = self.conn.getresponse()
        data = json.loads(resp.read())
        if resp.status != 201:
            raise RuntimeError(f"SubjectAccessReview: {resp.status} {data}")
        return bool(data["status"].get("allowed"))


@pytest.fixture(scope="module")
def aggregating(apiserver: kubeapi.TestCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """kube-controller-manager running the ClusterRole aggregation controller only."""
    binary = kubeapi.binary_dir() / "kube-controller-manager"
    if not binary.is_file():
        tool_missing(
            f"kube-controller-manager {kubeapi.k8s_version()} is not built: run `bash tools/install-test-cluster.sh`"
        )
    d = tmp_path_factory.mktemp("kcm")
    kc = apiserver.kubeconfig(d / "kubeconfig", "admin")
    log = open(d / "kcm.log", "wb")
    proc = subprocess.Popen(
        [
            str(binary),
            f"--kubeconfig={kc}",
            "--controllers=clusterrole-aggregation-controller",
            "--leader-elect=false",
            "--use-service-account-credentials=false",
            "--secure-port=0",
            "--v=1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=kubeapi._die_with_parent,
    )
    try:
        yield d / "kcm.log"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _resource(obj: dict[str, Any], i: int) -> Resource:
    meta = obj["metadata"]
    return Resource(
        ResourceId(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]), obj, Source("world.yaml", i)
    )


def _others(cluster: kubeapi.TestCluster, mine: set[tuple[str, str | None, str]]) -> list[dict[str, Any]]:
    """RBAC objects other tests of the session left in the cluster (the defaults excepted)."""
    defaults = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in bootstrap_objects(VERSION)}
    out = []
    for kind, plural in (
        ("ClusterRole", "clusterroles"),
        ("ClusterRoleBinding", "clusterrolebindings"),
        ("Role", "roles"),
        ("RoleBinding", "rolebindings"),
    ):
        status, body = cluster.request("GET", f"/apis/{RBAC_API}/{plural}")
        assert status == 200, body
        for item in body["items"]:
            meta = item["metadata"]
            key = (kind, meta.get("namespace"), meta["name"])
            if key not in defaults and key not in mine:
                out.append({**item, "apiVersion": RBAC_API, "kind": kind})
    return out


def _wait_until_visible(cluster: kubeapi.TestCluster, sar: Authorizer, worlds: list[World]) -> None:
    """The authorizer learns of new objects through informers: wait for a marker grant of every
    kind (ClusterRole, ClusterRoleBinding, Role, RoleBinding) created after the worlds."""
    ns = worlds[-1].namespaces[0]
    cluster.apply(
        [
            {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": {"name": "kf-sar-marker"},
             "rules": [{"nonResourceURLs": ["/kf-sar-marker"], "verbs": ["get"]}]},
            {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": "kf-sar-marker"},
             "roleRef": {"apiGroup": RBAC_G, "kind": "ClusterRole", "name": "kf-sar-marker"},
             "subjects": [{"kind": "User", "name": "kf-sar-marker", "apiGroup": RBAC_G}]},
            {"apiVersion": RBAC_API, "kind": "Role", "metadata": {"name": "kf-sar-marker", "namespace": ns},
             "rules": [{"apiGroups": [""], "resources": ["kf-sar-marker"], "verbs": ["get"]}]},
            {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": {"name": "kf-sar-marker", "namespace": ns},
             "roleRef": {"apiGroup": RBAC_G, "kind": "Role", "name": "kf-sar-marker"},
             "subjects": [{"kind": "User", "name": "kf-sar-marker", "apiGroup": RBAC_G}]},
        ]
    )  # fmt: skip
    who = Identity("kf-sar-marker", frozenset())
    deadline = time.monotonic() + 20
    while not (
        sar.allowed(who, Request("get", path="/kf-sar-marker"))
        and sar.allowed(who, Request("get", "", "kf-sar-marker", namespace=ns))
    ):
        assert time.monotonic() < deadline, "the authorizer did not see the new RBAC objects in 20 s"
        time.sleep(0.1)


def _wait_for_aggregation(cluster: kubeapi.TestCluster, pol: Policy, log: Path) -> None:
    """Until the controller has written every aggregated ClusterRole's rules (as kubefort
    expects them; a disagreement shows in the comparison, with the role named)."""
    aggregated = [r for r in pol.roles.values() if r.kind == "ClusterRole" and r.selectors is not None]
    deadline = time.monotonic() + 30
    while True:
        pending = []
        for role in aggregated:
            status, body = cluster.request("GET", f"/apis/{RBAC_API}/clusterroles/{role.name}")
            assert status == 200, body
            have = sorted(json.dumps(r, sort_keys=True) for r in body.get("rules") or ())
            want = sorted(json.dumps(_rule_dict(r), sort_keys=True) for r in role.rules if not r.conditional)
            if have != want:
                pending.append((role.name, have, want))
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not pending, f"aggregated ClusterRoles differ from kubefort's (controller log {log}): {pending[:2]}"


def _rule_dict(r: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": list(r.verbs)}
    for key, val in (
        ("apiGroups", r.api_groups),
        ("resources", r.resources),
        ("resourceNames", r.resource_names),
        ("nonResourceURLs", r.non_resource_urls),
    ):
        if val:
            out[key] = list(val)
    return out


def _who_can_allows(pol: Policy, who: Identity, req: Request, cache: dict[Request, set[tuple[str, str]]]) -> bool:
    """Through who_can: does one of the caller's keys (user, groups) get a certain grant?"""
    keys = cache.get(req)
    if keys is None:
        found = pol.who_can(req)
        keys = cache[req] = {
            k for s, grants in found.items() if (k := s.key) is not None and any(not g.rule.conditional for g in grants)
        }
    return any(k in keys for k in who.keys())  # noqa: SIM118 - Identity.keys() lists binding keys


def test_authorize_and_who_can_equal_subject_access_review(apiserver: kubeapi.TestCluster, aggregating: Path):
    worlds = [World(seed) for seed in SEEDS]
    objects = [o for w in worlds for o in w.objects]
    apiserver.apply(objects)
    sar = Authorizer(apiserver)
    _wait_until_visible(apiserver, sar, worlds)
    mine = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
    inputs = [o for o in objects if o["kind"] != "Namespace"] + _others(apiserver, mine)
    pol = Policy([_resource(o, i) for i, o in enumerate(inputs)], kubernetes_version=VERSION)
    assert pol.version == VERSION and not pol.problems
    _wait_for_aggregation(apiserver, pol, aggregating)
    time.sleep(0.5)  # the authorizer's informer follows the controller's writes

    mismatches: list[str] = []
    cache: dict[Request, set[tuple[str, str]]] = {}
    total = allowed = conditional = 0
    for w in worlds:
        for who, req in w.requests(QUERIES_PER_WORLD):
            real = sar.allowed(who, req)
            grants = pol.authorize(who, req)
            ours = any(not g.rule.conditional for g in grants)
            conditional += any(g.rule.conditional for g in grants) and not ours
            via_who_can = _who_can_allows(pol, who, req, cache)
            total += 1
            allowed += real
            if ours != real or via_who_can != real:
                mismatches.append(
                    f"{who.user} {sorted(who.groups)} {req}: server {real}, authorize {ours}, who-can {via_who_can}"
                    f" {[g.describe() for g in grants][:3]}"
                )
    assert not mismatches, f"{len(mismatches)} of {total} answers differ:\n" + "\n".join(mismatches[:25])
    # the worlds are not trivial: many requests allowed, many denied, some only by own rules of aggregated roles
    assert total == len(SEEDS) * QUERIES_PER_WORLD
    assert 0.1 * total < allowed < 0.9 * total, allowed
    assert conditional > 0


def test_builtin_resource_table_matches_discovery(apiserver: kubeapi.TestCluster):
    """Every resource the real API server serves is in the shipped table of its release, with its scope."""
    from kubefort.kube.rbac.builtin import scopes

    table = scopes(VERSION)
    served: dict[tuple[str, str], bool] = {}
    status, core = apiserver.request("GET", "/api/v1")
    assert status == 200
    served.update({("", r["name"]): r["namespaced"] for r in core["resources"] if "/" not in r["name"]})
    status, groups = apiserver.request("GET", "/apis")
    assert status == 200
    for g in groups["groups"]:
        for v in g["versions"]:
            status, body = apiserver.request("GET", f"/apis/{v['groupVersion']}")
            assert status == 200, body
            served.update({(g["name"], r["name"]): r["namespaced"] for r in body["resources"] if "/" not in r["name"]})
    status, crds = apiserver.request("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
    assert status == 200
    custom = {c["spec"]["group"] for c in crds["items"]}  # CRDs other tests of the session made
    served = {k: v for k, v in served.items() if k[0] not in custom}
    assert {k: table.get(k) for k in served} == served
