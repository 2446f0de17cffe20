"""Privilege escalation paths: the shortest way from each subject to cluster-admin, hop by hop.

A privilege graph over a `Policy` (kube/rbac/). Nodes are identities (users, groups,
ServiceAccounts), a few capability hubs and the target, cluster-admin. Edges are what RBAC
lets an identity do to become another one:

| from            | permission (exact RBAC match)                                   | to                            | MITRE ATT&CK |
|-----------------|-----------------------------------------------------------------|-------------------------------|--------------|
| identity        | create pods, or create/update/patch a pod controller            | "a pod in NS"                 | T1610        |
| a pod in NS     | (the pod names any ServiceAccount of NS; its token is mounted)  | each ServiceAccount of NS     | T1528        |
| a pod in NS     | (NS has no baseline/restricted Pod Security enforce label)      | a node (root)                 | T1611        |
| identity        | create pods/exec (or get, on older API servers)                 | "running pods of NS"          | T1609        |
| running pods    | (a workload mounts its ServiceAccount token)                    | that ServiceAccount           | T1552.007    |
| identity        | get nodes/proxy (the kubelet API of every node)                 | running pods of every NS      | T1609        |
| a node          | (tokens of the pods scheduled there)                            | running pods of every NS      | T1552.007    |
| identity        | create PersistentVolumes + a pod anywhere (hostPath volume)     | a node (root)                 | T1611        |
| identity        | create serviceaccounts/token; impersonate serviceaccounts; create+get secrets (legacy token Secret) | "any ServiceAccount of NS" (or the named ones) | T1528 / T1078 |
| identity        | get/list secrets                                                | ServiceAccounts with a legacy token Secret there | T1552.007 |
| identity        | impersonate users / groups                                      | those users / groups (system:masters) | T1078   |
| identity        | bind clusterroles (cluster-admin) + create clusterrolebindings  | cluster-admin                 | T1098        |
| identity        | bind clusterroles + create rolebindings in NS                   | "admin of NS"                 | T1098        |
| identity        | escalate + update a ClusterRole it holds cluster-wide           | cluster-admin                 | T1098        |
| identity        | create CSRs + approve (signer kube-apiserver-client)            | cluster-admin (system:masters certificate) | T1649 |
| identity        | */*/* through a ClusterRoleBinding, or in group system:masters  | cluster-admin                 | T1078        |

Paths start from the subjects of the input's bindings (bootstrap bindings excluded, control-plane
`system:` identities only with include_system); subjects that already are cluster-admin are
not reported. One breadth-first search backwards from cluster-admin gives every node's shortest
distance, so the cost is one pass over the reachable graph whatever the number of subjects.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.rbac import MASTERS, Grant, Policy, Rule, Subject, identity_of

TECHNIQUES = {
    "T1078": "Valid Accounts",
    "T1098": "Account Manipulation",
    "T1528": "Steal Application Access Token",
    "T1552.007": "Unsecured Credentials: Container API",
    "T1609": "Container Administration Command",
    "T1610": "Deploy Container",
    "T1611": "Escape to Host",
    "T1649": "Steal or Forge Authentication Certificates",
}
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
RBAC_G = "rbac.authorization.k8s.io"
ANY = "*"  # every namespace
POD_CONTROLLERS = (
    ("", "pods"),
    ("", "replicationcontrollers"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("extensions", "deployments"),
    ("extensions", "replicasets"),
    ("extensions", "daemonsets"),
)


RELEVANT_VERBS = frozenset({"create", "update", "patch", "get", "list", "impersonate", "bind", "escalate", "approve"})
RELEVANT_RESOURCES = frozenset(
    {res for _, res in POD_CONTROLLERS}
    | {
        "pods/exec",
        "nodes/proxy",
        "persistentvolumes",
        "serviceaccounts/token",
        "serviceaccounts",
        "secrets",
        "users",
        "groups",
        "clusterrolebindings",
        "rolebindings",
        "clusterroles",
        "certificatesigningrequests",
        "certificatesigningrequests/approval",
        "signers",
    }
)
RELEVANT_SUBRESOURCES = frozenset({"exec", "proxy", "token", "approval"})


@dataclass(frozen=True, slots=True, order=True)
class Node:
    """("User"|"Group"|"ServiceAccount", name, namespace) or a hub: ("pod"|"token"|"exec"|"secret"|"nsadmin", ns),
    ("node",), ("admin",)."""

    kind: str
    name: str = ""
    namespace: str = ""

    @property
    def is_identity(self) -> bool:
        return self.kind in ("User", "Group", "ServiceAccount")

    def subject(self) -> Subject:
        return Subject(self.kind, self.name, self.namespace or None)

    def __str__(self) -> str:
        ns = "every namespace" if self.namespace == ANY else f"namespace {self.namespace}"
        return {
            "ServiceAccount": f"ServiceAccount:{self.namespace}:{self.name}",
            "User": f"User:{self.name}",
            "Group": f"Group:{self.name}",
            "pod": f"[a new pod in {ns}]",
            "token": f"[any ServiceAccount of {ns}]",
            "exec": f"[running pods of {ns}]",
            "secret": f"[Secrets of {ns}]",
            "nsadmin": f"[admin of {ns}]",
            "node": "[root on a node]",
            "admin": "cluster-admin",
        }.get(self.kind, self.kind)


ADMIN = Node("admin")
NODE = Node("node")


def node_of(s: Subject) -> Node:
    return Node(s.kind, s.name, s.namespace or "")


@dataclass(frozen=True, slots=True)
class Hop:
    src: Node
    dst: Node
    action: str
    technique: str
    via: tuple[Grant, ...] = ()
    holds: bool = False  # src already is cluster-admin (not an escalation)

    def __post_init__(self) -> None:
        # one rule often gives several permissions a hop needs (create and get secrets; bind and
        # create bindings): each grant is evidence once, in the order the hop names them
        object.__setattr__(self, "via", tuple(dict.fromkeys(self.via)))

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": str(self.src),
            "to": str(self.dst),
            "action": self.action,
            "technique": self.technique,
            "techniqueName": TECHNIQUES.get(self.technique, ""),
            "via": [g.as_dict() for g in self.via],
        }

    def text(self) -> str:
        via = f" [{'; '.join(g.describe() for g in self.via)}]" if self.via else ""
        return f"{self.src} -> {self.dst}: {self.action} ({self.technique} {TECHNIQUES.get(self.technique, '')}){via}"


@dataclass(slots=True)
class EscalationPath:
    subject: Subject
    hops: list[Hop] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject.as_dict(), "length": len(self.hops), "hops": [h.as_dict() for h in self.hops]}


class PrivilegeGraph:
    """Edges computed on demand (and memoised) from the policy."""

    def __init__(self, pol: Policy) -> None:
        self.pol = pol
        self._out: dict[Node, list[Hop]] = {}
        self._rule_tags: dict[int, frozenset[str]] = {}
        self.namespaces = sorted(pol.namespaces())
        self._sas = {ns: sorted(pol.service_accounts_in(ns)) for ns in self.namespaces}
        self._mounted: dict[str, list[tuple[str, str]]] = {}
        for w in pol.workloads:
            if w.token_mounted:
                self._mounted.setdefault(w.namespace, []).append(
                    (w.service_account, f"{w.resource.id.kind}/{w.resource.id.name}")
                )
        self._users = sorted({s.name for b in pol.bindings for s in b.subjects if s.kind == "User"})
        self._groups = sorted({s.name for b in pol.bindings for s in b.subjects if s.kind == "Group"} | {MASTERS})

    def out(self, n: Node) -> list[Hop]:
        hops = self._out.get(n)
        if hops is None:
            hops = self._out[n] = self._identity_edges(n) if n.is_identity else self._hub_edges(n)
        return hops

    # -- hubs --------------------------------------------------------------------------------
    def _nss(self, ns: str) -> list[str]:
        return self.namespaces if ns == ANY else [ns]

    def privileged_pods_allowed(self, ns: str) -> bool:
        labels = self.pol.namespace_labels.get(ns)
        return labels is None or labels.get(PSA_ENFORCE, "privileged") == "privileged"

    def _hub_edges(self, n: Node) -> list[Hop]:
        out: list[Hop] = []
        nss = self._nss(n.namespace)
        if n.kind == "pod":
            for ns in nss:
                out += [
                    Hop(
                        n,
                        Node("ServiceAccount", sa, ns),
                        "run the pod as this ServiceAccount; its token is mounted",
                        "T1528",
                    )
                    for sa in self._sas.get(ns, ())
                ]
            allowing = [ns for ns in nss if self.privileged_pods_allowed(ns)]
            if allowing:
                out.append(
                    Hop(
                        n,
                        NODE,
                        f"make the pod privileged with hostPath / (namespace {allowing[0]} enforces no Pod Security level) and escape",
                        "T1611",
                    )
                )
        elif n.kind == "token":
            for ns in nss:
                out += [
                    Hop(n, Node("ServiceAccount", sa, ns), "act as this ServiceAccount", "T1078")
                    for sa in self._sas.get(ns, ())
                ]
        elif n.kind == "exec":
            for ns in nss:
                out += [
                    Hop(n, Node("ServiceAccount", sa, ns), f"read the token mounted in {where}", "T1552.007")
                    for sa, where in self._mounted.get(ns, ())
                ]
        elif n.kind == "secret":
            for (ns, sa), secrets in sorted(self.pol.token_secrets.items()):
                if n.namespace in (ANY, ns):
                    out.append(
                        Hop(
                            n, Node("ServiceAccount", sa, ns), f"read the legacy token Secret {secrets[0]}", "T1552.007"
                        )
                    )
        elif n.kind == "nsadmin":
            for k, what in (
                ("pod", "create pods"),
                ("token", "mint ServiceAccount tokens"),
                ("exec", "exec into pods"),
                ("secret", "read Secrets"),
            ):
                out.append(
                    Hop(
                        n,
                        Node(k, namespace=n.namespace),
                        what,
                        {"pod": "T1610", "token": "T1528", "exec": "T1609", "secret": "T1552.007"}[k],
                    )
                )
        elif n.kind == "node":
            out.append(
                Hop(
                    n,
                    Node("exec", namespace=ANY),
                    "read the tokens of the pods the node runs (schedule onto any node with nodeName)",
                    "T1552.007",
                )
            )
        return out

    # -- identities --------------------------------------------------------------------------
    def _tags(self, rule: Rule) -> frozenset[str]:
        """What a rule allows that matters for escalation (computed once per rule)."""
        got = self._rule_tags.get(id(rule))
        if got is not None:
            return got
        r = rule
        verbs = "*" in r.verbs or not RELEVANT_VERBS.isdisjoint(r.verbs)
        if not verbs or not any(
            x == "*" or x in RELEVANT_RESOURCES or (x.startswith("*/") and x[2:] in RELEVANT_SUBRESOURCES)
            for x in r.resources
        ):
            self._rule_tags[id(rule)] = frozenset()
            return frozenset()
        free = not r.resource_names
        t: set[str] = set()
        if "*" in r.verbs and "*" in r.api_groups and "*" in r.resources and free:
            t.add("full")
        if any(
            (free and r.covers("create", g, res))
            or (res != "pods" and (r.covers("update", g, res) or r.covers("patch", g, res)))
            for g, res in POD_CONTROLLERS
        ):
            t.add("pods")
        if free and (r.covers("create", "", "pods", "exec") or r.covers("get", "", "pods", "exec")):
            t.add("exec")
        if r.covers("get", "", "nodes", "proxy") or r.covers("create", "", "nodes", "proxy"):
            t.add("proxy")
        checks = (
            ("pv", free, "create", "", "persistentvolumes", ""),
            ("sa-token", True, "create", "", "serviceaccounts", "token"),
            ("sa-imp", True, "impersonate", "", "serviceaccounts", ""),
            ("secrets-create", free, "create", "", "secrets", ""),
            ("secrets-get", free, "get", "", "secrets", ""),
            ("secrets-read", free, "list", "", "secrets", ""),
            ("imp-groups", True, "impersonate", "", "groups", ""),
            ("imp-users", True, "impersonate", "", "users", ""),
            ("escalate-cr", True, "escalate", RBAC_G, "clusterroles", ""),
            ("csr-create", free, "create", "certificates.k8s.io", "certificatesigningrequests", ""),
        )
        t.update(tag for tag, ok, v, g, res, sub in checks if ok and r.covers(v, g, res, sub))
        if "secrets-get" in t:
            t.add("secrets-read")
        for tag, res in (("crb-write", "clusterrolebindings"), ("rb-write", "rolebindings")):
            if free and any(r.covers(v, RBAC_G, res) for v in ("create", "update", "patch")):
                t.add(tag)
        if any(r.covers(v, RBAC_G, "clusterroles") for v in ("update", "patch")):
            t.add("cr-update")
        if r.covers("bind", RBAC_G, "clusterroles") and (free or "cluster-admin" in r.resource_names):
            t.add("bind-admin")
        if any(
            r.covers(v, "certificates.k8s.io", "certificatesigningrequests", "approval") for v in ("update", "patch")
        ):
            t.add("csr-approve")
        if any(
            r.allows("approve", "certificates.k8s.io", "signers", "", s)
            for s in ("kubernetes.io/kube-apiserver-client", "kubernetes.io/*")
        ):
            t.add("signer")
        got = self._rule_tags[id(rule)] = frozenset(t)
        return got

    def _identity_edges(self, n: Node) -> list[Hop]:
        ident = identity_of(n.subject())
        if MASTERS in ident.groups:
            return [Hop(n, ADMIN, "member of system:masters (cluster-admin, RBAC is bypassed)", "T1078", holds=True)]
        tagged: dict[str, list[Grant]] = {}
        for g in self.pol.grants_for(ident):
            for t in self._tags(g.rule):
                tagged.setdefault(t, []).append(g)
        if not tagged:
            return []

        def cluster(tag: str) -> list[Grant]:
            return [g for g in tagged.get(tag, ()) if g.namespace is None]

        def scoped(tag: str) -> dict[str, Grant]:
            found: dict[str, Grant] = {}
            for g in tagged.get(tag, ()):
                found.setdefault(g.namespace if g.namespace is not None else ANY, g)
            return found

        if cluster("full"):
            return [Hop(n, ADMIN, "holds */*/* cluster-wide", "T1078", (cluster("full")[0],), holds=True)]
        out: list[Hop] = []
        for ns, g in sorted(scoped("full").items()):
            out.append(Hop(n, Node("nsadmin", namespace=ns), "holds */*/* in the namespace", "T1078", (g,)))
        pods = scoped("pods")
        for ns, g in _collapse(pods):
            out.append(
                Hop(n, Node("pod", namespace=ns), "create a pod (or change a pod controller's template)", "T1610", (g,))
            )
        for ns, g in _collapse(scoped("exec")):
            out.append(Hop(n, Node("exec", namespace=ns), "exec into running pods", "T1609", (g,)))
        if cluster("proxy"):
            out.append(
                Hop(
                    n,
                    Node("exec", namespace=ANY),
                    "run commands in any pod through the kubelet API (nodes/proxy)",
                    "T1609",
                    (cluster("proxy")[0],),
                )
            )
        if cluster("pv") and pods:
            out.append(
                Hop(
                    n,
                    NODE,
                    "create a hostPath PersistentVolume and mount it in a pod",
                    "T1611",
                    (cluster("pv")[0], next(iter(pods.values()))),
                )
            )
        for g in tagged.get("sa-token", ()):
            out += self._sa_targets(n, g, "mint a token (TokenRequest)", "T1528")
        for g in tagged.get("sa-imp", ()):
            out += self._sa_targets(n, g, "impersonate", "T1078")
        for ns, g in _collapse(scoped("secrets-read")):
            out.append(
                Hop(
                    n,
                    Node("secret", namespace=ns),
                    "read every Secret (legacy ServiceAccount tokens)",
                    "T1552.007",
                    (g,),
                )
            )
        creators, readers = scoped("secrets-create"), scoped("secrets-get")
        for ns in sorted(set(creators) | set(readers)):
            c, rd = creators.get(ns) or creators.get(ANY), readers.get(ns) or readers.get(ANY)
            if c is not None and rd is not None:
                out.append(
                    Hop(
                        n,
                        Node("token", namespace=ns),
                        "create a kubernetes.io/service-account-token Secret and read the token",
                        "T1528",
                        (c, rd),
                    )
                )
        for g in cluster("imp-groups"):
            out += [
                Hop(n, Node("Group", grp), f"impersonate group {grp}", "T1078", (g,))
                for grp in (g.rule.resource_names or self._groups)
            ]
        for g in cluster("imp-users"):
            out += [
                Hop(n, Node("User", u), f"impersonate user {u}", "T1078", (g,))
                for u in (g.rule.resource_names or self._users)
                if not u.startswith("system:serviceaccount:")
            ]
        out += self._rbac_edges(n, tagged, cluster)
        if cluster("csr-create") and cluster("csr-approve") and cluster("signer"):
            out.append(
                Hop(
                    n,
                    ADMIN,
                    "request and approve a client certificate in group system:masters",
                    "T1649",
                    (cluster("csr-create")[0], cluster("csr-approve")[0], cluster("signer")[0]),
                )
            )
        return out

    def _sa_targets(self, n: Node, g: Grant, action: str, tech: str) -> list[Hop]:
        ns = g.namespace if g.namespace is not None else ANY
        names = g.rule.resource_names
        if not names:
            return [Hop(n, Node("token", namespace=ns), action + " for any ServiceAccount", tech, (g,))]
        return [
            Hop(n, Node("ServiceAccount", sa, ns2), action, tech, (g,))
            for ns2 in self._nss(ns)
            for sa in names
            if sa in self._sas.get(ns2, ())
        ]

    def _rbac_edges(self, n: Node, tagged: dict[str, list[Grant]], cluster: Any) -> list[Hop]:
        out: list[Hop] = []
        crb_write, binders = cluster("crb-write"), cluster("bind-admin")
        if crb_write and binders:
            return [
                Hop(
                    n,
                    ADMIN,
                    "bind ClusterRole cluster-admin to itself in a new ClusterRoleBinding",
                    "T1098",
                    (binders[0], crb_write[0]),
                )
            ]
        targets: dict[str, tuple[Grant, Grant]] = {}
        for w in tagged.get("rb-write", ()):
            for b in tagged.get("bind-admin", ()):
                ns = _meet(w.namespace, b.namespace)
                if ns is not None:
                    targets.setdefault(ns, (b, w))
        for ns, (b, w) in _collapse_pairs(targets):
            out.append(
                Hop(
                    n, Node("nsadmin", namespace=ns), "bind ClusterRole cluster-admin in a RoleBinding", "T1098", (b, w)
                )
            )
        escalators = cluster("escalate-cr")
        if escalators:
            # prefer the role that grants escalate itself (not, say, a role every authenticated user holds)
            held: dict[str, Grant] = {escalators[0].role.name: escalators[0]}
            for g in self.pol.grants_for(identity_of(n.subject()), ""):
                if g.role.kind == "ClusterRole":
                    held.setdefault(g.role.name, g)
            for g in cluster("cr-update"):
                target = next(
                    (name for name in held if not g.rule.resource_names or name in g.rule.resource_names), None
                )
                if target is not None:
                    out.append(
                        Hop(
                            n,
                            ADMIN,
                            f"add */*/* to ClusterRole {target}, which it holds cluster-wide",
                            "T1098",
                            (escalators[0], g, held[target]),
                        )
                    )
                    break
        return out


def _meet(a: str | None, b: str | None) -> str | None:
    """Where two grants both apply (None = cluster-wide): ANY, one namespace, or None for nowhere."""
    if a is None and b is None:
        return ANY
    if a is None or b is None or a == b:
        return a or b
    return None


def _collapse_pairs(found: dict[str, tuple[Grant, Grant]]) -> list[tuple[str, tuple[Grant, Grant]]]:
    return [(ANY, found[ANY])] if ANY in found else sorted(found.items(), key=lambda kv: kv[0])


def _collapse(found: dict[str, Grant]) -> list[tuple[str, Grant]]:
    """Per-namespace grants, or just the every-namespace one when there is one."""
    if ANY in found:
        return [(ANY, found[ANY])]
    return sorted(found.items(), key=lambda kv: kv[0])


def start_subjects(pol: Policy, include_system: bool = False) -> list[Subject]:
    """Subjects of the input's own bindings: not kubefort's copies of the defaults, nor the
    default subjects of an input binding of a default's name whose role is unchanged."""
    seen: dict[Subject, None] = {}
    for b in pol.bindings:
        if b.builtin:
            continue
        role = pol.role_of(b)
        unchanged = role is None or not role.changed
        for s in b.subjects:
            if s in b.default_subjects and unchanged:
                continue
            if s.key is not None and (include_system or not s.is_system):
                seen.setdefault(s)
    return sorted(seen, key=lambda s: (s.kind, s.namespace or "", s.name))


def find_paths(
    pol: Policy, subjects: Iterable[Subject] | None = None, include_system: bool = False
) -> list[EscalationPath]:
    """The shortest path to cluster-admin of every subject that has one and is not cluster-admin already."""
    graph = PrivilegeGraph(pol)
    starts = [node_of(s) for s in (subjects if subjects is not None else start_subjects(pol, include_system))]
    rev: dict[Node, list[Hop]] = {}
    seen = set(starts)
    queue = deque(starts)
    while queue:
        n = queue.popleft()
        for h in graph.out(n):
            rev.setdefault(h.dst, []).append(h)
            if h.dst not in seen:
                seen.add(h.dst)
                queue.append(h.dst)
    nxt: dict[Node, Hop] = {}
    queue = deque([ADMIN])
    done = {ADMIN}
    while queue:
        n = queue.popleft()
        for h in rev.get(n, ()):
            if h.src not in done:
                done.add(h.src)
                nxt[h.src] = h
                queue.append(h.src)
    out = []
    for s in starts:
        if s not in nxt or any(h.holds for h in graph.out(s)):
            continue
        path, cur = [], s
        while cur != ADMIN:
            h = nxt[cur]
            path.append(h)
            cur = h.dst
        out.append(EscalationPath(s.subject(), path))
    return sorted(out, key=lambda p: (len(p.hops), str(p.subject)))
