"""`kubefort audit rbac generate` proved against the real API server (tests/kubeapi.py).

A kube-apiserver started with an audit policy (every request at level Metadata, every stage)
and a log file records what several principals really do: a user impersonated by the admin, a
ServiceAccount with its own token, and a ServiceAccount that impersonates a user and a group
(both are principals: the user for its requests, the ServiceAccount for its impersonation). Their requests are drawn at random (seeded) from a menu covering named and
unnamed reads, lists and watches, lists by field selector, creates, patches, deletes,
deletecollection, subresources (exec, log, token, scale), cluster-scoped objects, Namespaces,
non-resource URLs, requests answered 404/400 that the authorizer allowed, and requests the
default roles allow anyway. Some requests are refused before the principals get rights.

Then, for each principal, `generate` runs on the log; its RBAC is applied to the server; every
allowed request recorded for the principal (read from the log by this test, independently of
kubefort) is replayed as a SubjectAccessReview and must be allowed, the refused ones must stay
refused, and every way to remove one rule, verb, resource, resourceName or URL from the output
must deny at least one of them (minimality). Each mutation is applied at once as its own copy
bound to its own stand-in principal, with a marker rule that shows when the authorizer sees it.
"""

from __future__ import annotations

import copy
import http.client
import json
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import kubeapi
from conftest import tool_missing
from kubefort.cli.audit_rbac import rbac
from kubefort.kube.rbac import Identity, Request
from test_audit_rbac import mutations
from test_rbac_sar import Authorizer

pytestmark = pytest.mark.cluster

AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}
RBAC_API = "rbac.authorization.k8s.io/v1"
RBAC_G = "rbac.authorization.k8s.io"
SEEDS = (5, 17)
REQUESTS_PER_PRINCIPAL = 16
AUTH = "system:authenticated"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[kubeapi.TestCluster, Path]]:
    """A kube-apiserver of its own that writes an audit log (the session's `apiserver` has none)."""
    if not kubeapi.binaries_ready():
        tool_missing(
            f"kube-apiserver and etcd {kubeapi.k8s_version()} are not built: run `bash tools/install-test-cluster.sh`"
        )
    if shutil.which("openssl") is None:
        tool_missing("openssl is needed to make the test cluster's certificates")
    d = tmp_path_factory.mktemp("audit")
    policy = d / "policy.yaml"
    policy.write_text(json.dumps(AUDIT_POLICY))
    log = d / "audit.log"
    cluster = kubeapi.TestCluster(
        extra_args=[f"--audit-policy-file={policy}", f"--audit-log-path={log}", "--audit-log-maxsize=0"]
    ).start()
    try:
        yield cluster, log
    finally:
        cluster.stop()


# ------------------------------------------------------------------------------------------------
# principals and their requests
# ------------------------------------------------------------------------------------------------
class Caller:
    """Requests as one principal: a bearer token, optionally with impersonation headers."""

    def __init__(self, cluster: kubeapi.TestCluster, token: str, headers: dict[str, list[str]] | None = None) -> None:
        self.cluster = cluster
        self.token = token
        self.headers = headers or {}

    def __call__(self, method: str, path: str, body: Any = None) -> int:
        conn = http.client.HTTPSConnection("127.0.0.1", self.cluster.port, context=self.cluster._ctx(), timeout=30)
        try:
            conn.putrequest(method, path)
            conn.putheader("Authorization", f"Bearer {self.token}")
            conn.putheader("Accept", "application/json")
            for name, values in self.headers.items():
                for v in values:
                    conn.putheader(name, v)
            data = json.dumps(body).encode() if body is not None else b""
            if body is not None:
                ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
                conn.putheader("Content-Type", ctype)
            conn.putheader("Content-Length", str(len(data)))
            conn.endheaders(data)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()


@dataclass
class Principal:
    name: str  # what --user / --serviceaccount take
    option: str  # --user or --serviceaccount
    user: str  # the user name the authorizer sees
    groups: tuple[str, ...]
    call: Caller
    refusals: Caller | None = None  # how to make its refused requests (default: `call`)

    @property
    def identity(self) -> Identity:
        return Identity(self.user, frozenset(self.groups))


def menu(ns: list[str], sa: str, tag: str) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every kind of request the principals draw from."""
    a, b = ns

    def cm(n: str) -> str:
        return f"/api/v1/namespaces/{n}/configmaps"

    return [
        ("GET", f"{cm(a)}/cm-0", None),
        ("GET", f"{cm(b)}/cm-1", None),
        ("GET", cm(a), None),
        ("GET", f"{cm(b)}?watch=1&timeoutSeconds=1", None),
        ("GET", f"/api/v1/namespaces/{a}/secrets?fieldSelector=metadata.name%3Ds-0", None),
        ("GET", f"/api/v1/namespaces/{b}/secrets/missing-{tag}", None),  # 404, authorized
        ("GET", "/api/v1/pods?limit=5", None),  # every namespace
        ("GET", f"/api/v1/nodes/node-{tag}", None),  # cluster-scoped, 404
        ("GET", f"/api/v1/namespaces/{a}", None),  # a Namespace: its name is also its namespace
        ("GET", f"/apis/apps/v1/namespaces/{b}/deployments", None),
        ("GET", f"/apis/apps/v1/namespaces/{a}/deployments/web/scale", None),  # subresource, 404
        ("PATCH", f"{cm(a)}/cm-1", {"metadata": {"labels": {"touched": tag}}}),
        ("POST", cm(b), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "made-"}}),
        ("DELETE", f"{cm(a)}/gone-{tag}", None),  # 404, authorized
        ("DELETE", f"{cm(b)}?labelSelector=kf-none%3D1", None),  # deletecollection
        ("GET", f"/api/v1/namespaces/{a}/pods/web/log", None),  # 400: no node; authorized
        ("POST", f"/api/v1/namespaces/{a}/pods/web/exec?command=ls&stdout=true", None),  # no upgrade; authorized
        (
            "POST",
            f"/api/v1/namespaces/{a}/serviceaccounts/{sa}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}},
        ),
        ("GET", f"/apis/{RBAC_API}/clusterroles/view", None),
        ("GET", "/metrics", None),
        ("GET", "/version", None),  # the default roles allow it
        ("GET", "/apis", None),  # discovery: the default roles allow it
        (
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}},
            },
        ),
    ]


def setup_world(cluster: kubeapi.TestCluster, seed: int) -> tuple[list[Principal], list[str], str]:
    """Namespaces, objects and the four principals of one round (every name carries the seed)."""
    p = f"r{seed}"
    ns = [f"{p}-a", f"{p}-b"]
    sa, imp = f"{p}-sa", f"{p}-imp"
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ns]
    objects += [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns[0]}}
        for name in (sa, imp)
    ]
    for n in ns:
        objects += [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}", "namespace": n}} for i in range(2)
        ]
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s-0", "namespace": n}})
    objects.append(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web", "namespace": ns[0]},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        }
    )
    cluster.apply(objects)
    tokens = {}
    for name in (sa, imp):
        status, body = cluster.create(
            f"/api/v1/namespaces/{ns[0]}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
        )
        assert status == 201, body
        tokens[name] = body["status"]["token"]
    admin = cluster.TOKENS["admin"][0]
    alice, quinn, devs = f"{p}-alice", f"{p}-quinn", f"{p}-devs"
    sa_groups = ("system:serviceaccounts", f"system:serviceaccounts:{ns[0]}", AUTH)
    as_quinn = {"Impersonate-User": [quinn], "Impersonate-Group": [devs]}
    principals = [
        Principal(alice, "--user", alice, (AUTH,), Caller(cluster, admin, {"Impersonate-User": [alice]})),
        Principal(
            f"{ns[0]}:{sa}",
            "--serviceaccount",
            f"system:serviceaccount:{ns[0]}:{sa}",
            sa_groups,
            Caller(cluster, tokens[sa]),
        ),
        Principal(
            quinn,
            "--user",
            quinn,
            (devs, AUTH),
            Caller(cluster, tokens[imp], as_quinn),
            # before the impersonator may impersonate, a refusal would be the impersonator's: the admin may
            refusals=Caller(cluster, admin, as_quinn),
        ),
        Principal(
            f"{ns[0]}:{imp}",
            "--serviceaccount",
            f"system:serviceaccount:{ns[0]}:{imp}",
            sa_groups,
            Caller(cluster, tokens[imp]),
        ),
    ]
    return principals, ns, sa


# ------------------------------------------------------------------------------------------------
# the authorizer side
# ------------------------------------------------------------------------------------------------
def wait_for(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"the authorizer did not {what} in {timeout:.0f} s"
        time.sleep(0.1)


def bind_cluster_admin(cluster: kubeapi.TestCluster, name: str, principals: list[Principal]) -> None:
    subjects = [{"kind": "User", "name": pr.user, "apiGroup": RBAC_G} for pr in principals if pr.option == "--user"] + [
        {"kind": "ServiceAccount", "name": pr.name.split(":")[1], "namespace": pr.name.split(":")[0]}
        for pr in principals
        if pr.option == "--serviceaccount"
    ]
    cluster.apply(
        [
            {
                "apiVersion": RBAC_API,
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {"apiGroup": RBAC_G, "kind": "ClusterRole", "name": "cluster-admin"},
                "subjects": subjects,
            }
        ]
    )


def recorded(log: Path, pr: Principal) -> tuple[list[Request], list[Request]]:
    """(allowed, refused) requests of the principal in the log, each request once, read here
    from the raw events: the attributes the authorizer saw (objectRef, or the URL's path)."""
    allowed: dict[str, Request] = {}
    refused: dict[str, Request] = {}
    extra: list[Request] = []
    for line in log.read_text().splitlines():
        e = json.loads(line)
        if e["stage"] not in ("ResponseStarted", "ResponseComplete"):
            continue
        aid, imp = e["auditID"], e.get("impersonatedUser")
        acting = imp["username"] if imp else e["user"]["username"]
        if imp and e["user"]["username"] == pr.user and aid not in allowed:
            # the impersonation it was allowed: the user (this test impersonates users only) and the
            # groups this test names (the server adds system:authenticated itself)
            extra.append(Request("impersonate", "", "users", name=imp["username"]))
            extra += [Request("impersonate", "", "groups", name=g) for g in imp.get("groups") or () if g != AUTH]
        if acting != pr.user or aid in allowed or aid in refused:
            continue
        ref = e.get("objectRef")
        if ref:
            req = Request(
                e["verb"],
                ref.get("apiGroup", ""),
                ref["resource"],
                ref.get("subresource", ""),
                ref.get("namespace", ""),
                ref.get("name", ""),
            )
        else:
            req = Request(e["verb"], path=e["requestURI"].partition("?")[0])
        decision = (e.get("annotations") or {}).get("authorization.k8s.io/decision")
        (allowed if decision == "allow" else refused)[aid] = req
    return list(dict.fromkeys([*allowed.values(), *extra])), list(dict.fromkeys(refused.values()))


def rename(docs: list[dict[str, Any]], tag: str, subject: dict[str, Any]) -> list[dict[str, Any]]:
    """A copy of the generated objects under other names, bound to a stand-in subject, each role
    with a marker rule (a URL, or a resource no request uses) that shows when it is in effect."""
    out = copy.deepcopy(docs)
    for d in out:
        d["metadata"]["name"] += f"-{tag}"
        if "roleRef" in d:
            d["roleRef"]["name"] += f"-{tag}"
            d["subjects"] = [subject]
        elif d["kind"] == "ClusterRole":
            d["rules"].append({"nonResourceURLs": [f"/kf-marker/{tag}"], "verbs": ["get"]})
        else:
            d["rules"].append(
                {"apiGroups": ["kf.marker"], "resources": ["markers"], "resourceNames": [tag], "verbs": ["get"]}
            )
    return out


def markers(docs: list[dict[str, Any]], tag: str) -> list[Request]:
    return [
        Request("get", path=f"/kf-marker/{tag}")
        if d["kind"] == "ClusterRole"
        else Request("get", "kf.marker", "markers", namespace=d["metadata"]["namespace"], name=tag)
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
    ]


def stand_in(pr: Principal, i: int) -> tuple[Identity, dict[str, Any]]:
    """Another principal of the same kind and groups, for mutation number i."""
    if pr.option == "--serviceaccount":
        ns, name = pr.name.split(":")
        return (
            Identity(f"system:serviceaccount:{ns}:{name}-m{i}", frozenset(pr.groups)),
            {"kind": "ServiceAccount", "name": f"{name}-m{i}", "namespace": ns},
        )
    return Identity(f"{pr.user}-m{i}", frozenset(pr.groups)), {
        "kind": "User",
        "name": f"{pr.user}-m{i}",
        "apiGroup": RBAC_G,
    }


# ------------------------------------------------------------------------------------------------
# the proof
# ------------------------------------------------------------------------------------------------
def wait_for_log(cluster: kubeapi.TestCluster, log: Path, tag: str) -> None:
    """Until the log holds the response of a marker request made last."""
    path = f"/api/v1/namespaces/kf-log-marker-{tag}"
    cluster.request("GET", path)
    deadline = time.monotonic() + 10

    def done() -> bool:
        events = (json.loads(line) for line in log.read_text().splitlines())
        return any(e["requestURI"] == path and e["stage"] == "ResponseComplete" for e in events)

    while not done():
        assert time.monotonic() < deadline, "the audit log did not record the marker request"
        time.sleep(0.1)


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_rbac_allows_exactly_what_was_used(audited: tuple[kubeapi.TestCluster, Path], seed: int):
    cluster, log = audited
    rng = random.Random(seed)
    principals, ns, sa = setup_world(cluster, seed)
    sar = Authorizer(cluster)
    everything = Request("delete", "", "nodes", name=f"n{seed}")  # cluster-admin has it, nothing generated does
    # refused: before they have any right (no request of the menu asks for these)
    for pr in principals:
        call = pr.refusals or pr.call
        assert call("GET", f"/api/v1/namespaces/{ns[1]}/secrets/s-0") == 403
        assert call("DELETE", f"/api/v1/namespaces/{ns[0]}") == 403
    bind_cluster_admin(cluster, f"r{seed}-temp", principals)
    wait_for(lambda: all(sar.allowed(pr.identity, everything) for pr in principals), "see the temporary binding")
    requests = menu(ns, sa, f"r{seed}")
    for pr in principals:
        for method, path, body in rng.sample(requests, REQUESTS_PER_PRINCIPAL):
            status = pr.call(method, path, body)
            assert status not in (401, 403), (pr.name, method, path, status)
    status, _ = cluster.request("DELETE", f"/apis/{RBAC_API}/clusterrolebindings/r{seed}-temp")
    assert status == 200
    wait_for(lambda: not any(sar.allowed(pr.identity, everything) for pr in principals), "drop the temporary binding")
    wait_for_log(cluster, log, f"r{seed}")

    failures: list[str] = []
    rules: list[dict[str, Any]] = []
    variants: list[tuple[Principal, str, Identity, list[Request], list[Request]]] = []
    for pi, pr in enumerate(principals):
        res = CliRunner().invoke(rbac, ["generate", pr.option, pr.name, str(log)])
        assert res.exit_code == 0, res.output
        docs = [d for d in yaml.safe_load_all(res.stdout) if d]
        allowed, refused = recorded(log, pr)
        assert len(allowed) >= REQUESTS_PER_PRINCIPAL // 2, (pr.name, allowed)
        assert refused, pr.name
        assert docs, pr.name
        cluster.apply(docs)
        rules += [r for d in docs for r in d.get("rules", ())]
        for mi, (what, mutated) in enumerate(mutations(docs)):
            tag = f"r{seed}p{pi}m{mi}"
            who, subject = stand_in(pr, mi)
            objs = rename(mutated, tag, subject)
            cluster.apply(objs)
            variants.append((pr, what, who, markers(objs, tag), allowed))
        assert variants and variants[-1][0] is pr, f"{pr.name}: the generated RBAC has nothing to remove"
        # every allowed request allowed, every refused one still refused
        deadline = time.monotonic() + 20
        while denied := [r for r in allowed if not sar.allowed(pr.identity, r)]:
            if time.monotonic() > deadline:
                failures.append(f"{pr.name}: denied after applying the generated RBAC: {denied}")
                break
            time.sleep(0.1)
        still = [r for r in refused if sar.allowed(pr.identity, r)]
        if still:
            failures.append(f"{pr.name}: refused requests allowed by the generated RBAC: {still}")
    # minimality: each mutation (once the authorizer sees it) denies at least one recorded request
    for pr, what, who, marks, allowed in variants:
        wait_for(lambda m=marks, w=who: all(sar.allowed(w, r) for r in m), f"see the mutation {what!r}")
        if all(sar.allowed(who, r) for r in allowed):
            failures.append(f"{pr.name}: {what}: every recorded request is still allowed")
    assert not failures, "\n".join(failures)
    # the outputs are not trivial: rules by name, lists by name (field selector), subresources,
    # URLs and impersonation were all generated and proved
    assert any("resourceNames" in r for r in rules)
    assert any("resourceNames" in r and "list" in r["verbs"] for r in rules)
    assert any("/" in res for r in rules for res in r.get("resources", ()))
    assert any("nonResourceURLs" in r for r in rules)
    assert any("impersonate" in r["verbs"] for r in rules)
    assert len(variants) >= 4 * len(principals)


def test_unused_on_the_live_cluster_finds_the_generated_rbac_fully_used(
    audited: tuple[kubeapi.TestCluster, Path], tmp_path: Path
):
    """After the proof above: the generated bindings of a principal are exactly what it used
    (ratio 1.0, nothing unused), read from the cluster with --cluster."""
    cluster, log = audited
    if "r5-alice" not in log.read_text():
        pytest.skip("needs the log of test_generated_rbac_allows_exactly_what_was_used[5]")
    kc = cluster.kubeconfig(tmp_path / "kubeconfig", "admin")
    log = Path(shutil.copy(log, tmp_path / "audit.log"))  # the server goes on logging
    res = CliRunner().invoke(
        rbac,
        ["unused", str(log), "--cluster", "--kubeconfig", str(kc), "--subject", "User:r5-alice", "-o", "json"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    (alice,) = doc["subjects"]
    assert alice["subject"] == {"kind": "User", "name": "r5-alice", "namespace": None}
    assert alice["unusedRules"] == [] and all(b["used"] for b in alice["bindings"])
    assert [b["binding"].rsplit("/", 1)[-1] for b in alice["bindings"]] == ["kubefort:audit:r5-alice"] * len(
        alice["bindings"]
    )
    assert alice["ratio"] == 1.0
    assert doc["kubernetesVersion"] == ".".join(kubeapi.k8s_version().lstrip("v").split(".")[:2])
    # a snapshot of the cluster, read as `kubefort rbac` reads one, gives the same answer
    from kubefort.cli import cli

    snap = tmp_path / "snap.json.gz"
    res = CliRunner().invoke(cli, ["cluster", "snapshot", "-q", "--kubeconfig", str(kc), "-o", str(snap)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        rbac, ["unused", str(log), "--rbac", str(snap), "--subject", "User:r5-alice", "-o", "json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == doc


def test_unused_with_a_cluster_that_refuses_the_lists_says_so(
    audited: tuple[kubeapi.TestCluster, Path], tmp_path: Path
):
    """Credentials that may not list RBAC objects: the lists refused are input problems (exit 3),
    never an empty RBAC read as "nothing granted"."""
    cluster, log = audited
    kc = cluster.kubeconfig(tmp_path / "kubeconfig", "team-viewer")
    res = CliRunner().invoke(rbac, ["unused", str(log), "--cluster", "--kubeconfig", str(kc), "-o", "json"])
    assert res.exit_code == 3, res.output
    problems = json.loads(res.stdout)["problems"]
    for kind in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert any(p.startswith(f"{kind} list forbidden: 403: ") for p in problems), (kind, problems)
    res = CliRunner().invoke(rbac, ["unused", str(log), "--cluster", "--kubeconfig", str(kc), "--allow-incomplete"])
    assert res.exit_code == 0, res.output
