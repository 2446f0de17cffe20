"""RBAC as the Kubernetes authorizer evaluates it, over any list of Resources.

Input-agnostic: a `Policy` is built from Resources (manifests today; cluster dumps and snapshots
use the same objects) and, by default, the bootstrap roles and bindings every cluster starts with
(`data/bootstrap-rbac.yaml`; an input object of the same kind, namespace and name replaces one).

The semantics follow the RBAC authorizer and its helpers exactly:

* ClusterRoleBindings grant everywhere; a RoleBinding grants only inside its own namespace, even
  when it references a ClusterRole. A request without a namespace (cluster-scoped resources,
  "all namespaces", non-resource URLs) is granted by ClusterRoleBindings only.
* A rule matches when its verbs hold the verb or `*`, its apiGroups the group or `*`, its
  resources `*`, the exact `resource[/subresource]` or `*/subresource` (no other pattern), and
  its resourceNames are empty or hold the request's name (a request without a name never
  matches a rule with resourceNames). nonResourceURLs match `*`, the exact path, or a prefix
  ending in `*`.
* Subjects: `User` matches the user name; `Group` a group of the user; `ServiceAccount` matches the
  user `system:serviceaccount:<ns>:<name>`, its namespace defaulting to the RoleBinding's own
  (a ClusterRoleBinding subject without a namespace matches nobody). Service accounts are in
  the groups `system:serviceaccounts`, `system:serviceaccounts:<ns>` and `system:authenticated`.
* ClusterRoles with an `aggregationRule` get the union of the rules of every other ClusterRole
  matching one of its label selectors (transitively, as the controller converges), their own
  `rules` being replaced.

Namespaced objects without `metadata.namespace` are taken to live in `default` (kubectl's
default); Policy(default_namespace=...) changes that.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from typing import Any

from kubefort.kube.pods import api_group, find_pods, type_name
from kubefort.kube.selectors import Selector, parse_selector
from kubefort.model import NotEvaluated, Path_, Resource, ResourceId, Source, format_path

RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
RBAC_KINDS = ROLE_KINDS + BINDING_KINDS
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"
MASTERS = "system:masters"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
SA_USER_PREFIX = "system:serviceaccount:"
LEGACY_TOKEN_TYPE = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type
BOOTSTRAP_FILE = "<bootstrap>"


def sa_username(namespace: str, name: str) -> str:
    return f"{SA_USER_PREFIX}{namespace}:{name}"


# ------------------------------------------------------------------------------------------------
# rules, subjects, identities
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule, with where it is written (`origin` role key and its index in `rules`)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    origin: str = ""
    index: int = 0

    def content(self) -> tuple[tuple[str, ...], ...]:
        return (self.verbs, self.api_groups, self.resources, self.resource_names, self.non_resource_urls)

    def verb_matches(self, verb: str) -> bool:
        return "*" in self.verbs or verb in self.verbs

    def covers(self, verb: str, group: str, resource: str, subresource: str = "") -> bool:
        """The authorizer's match for a resource request, ignoring resourceNames."""
        if "*" not in self.verbs and verb not in self.verbs:
            return False
        if "*" not in self.api_groups and group not in self.api_groups:
            return False
        rs = self.resources
        if "*" in rs:
            return True
        if (f"{resource}/{subresource}" if subresource else resource) in rs:
            return True
        return bool(subresource) and f"*/{subresource}" in rs

    def allows(self, verb: str, group: str, resource: str, subresource: str = "", name: str = "") -> bool:
        """Exactly rbac's RuleAllows for a resource request."""
        return self.covers(verb, group, resource, subresource) and (
            not self.resource_names or name in self.resource_names
        )

    def allows_url(self, verb: str, path: str) -> bool:
        """Exactly rbac's RuleAllows for a non-resource request."""
        if not self.verb_matches(verb):
            return False
        for u in self.non_resource_urls:
            if u in ("*", path) or (u.endswith("*") and path.startswith(u.rstrip("*"))):
                return True
        return False

    def text(self) -> str:
        """Compact, kubectl-like: `get,list secrets`, `create deployments in apps`, `get URLs /healthz`."""
        out = ",".join(self.verbs) or "(no verbs)"
        if self.resources or not self.non_resource_urls:
            out += " " + (",".join(self.resources) or "(no resources)")
            if self.api_groups != ("",):
                out += " in " + (",".join(g or '""' for g in self.api_groups) or "(no apiGroups)")
            if self.resource_names:
                out += " named " + ",".join(self.resource_names)
        if self.non_resource_urls:
            out += " URLs " + ",".join(self.non_resource_urls)
        return out

    def where(self) -> str:
        return f"{self.origin} rules[{self.index}]"

    def as_dict(self) -> dict[str, Any]:
        return {
            "verbs": list(self.verbs),
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "resourceNames": list(self.resource_names),
            "nonResourceURLs": list(self.non_resource_urls),
            "from": self.origin,
            "index": self.index,
        }


@dataclass(frozen=True, slots=True)
class Subject:
    """A binding subject. `namespace` is set for ServiceAccounts only (defaulted for RoleBindings)."""

    kind: str
    name: str
    namespace: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        """What the authorizer compares: ("User", user name) or ("Group", group); None never matches."""
        if self.kind == "User":
            return ("User", self.name)
        if self.kind == "Group":
            return ("Group", self.name)
        if self.kind == "ServiceAccount" and self.namespace:
            return ("User", sa_username(self.namespace, self.name))
        return None

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount:{self.namespace or '?'}:{self.name}"
        return f"{self.kind}:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace}

    @property
    def is_system(self) -> bool:
        """A control-plane identity (`system:` user or group), not one of the broad system groups."""
        if self.kind == "ServiceAccount":
            return False
        return self.name.startswith("system:") and not is_broad_group(self.name) and self.name != ANONYMOUS


def is_broad_group(name: str) -> bool:
    """Groups that hold every user, every unauthenticated caller or every ServiceAccount of a scope."""
    return name in (AUTHENTICATED, UNAUTHENTICATED, ALL_SERVICE_ACCOUNTS) or name.startswith(ALL_SERVICE_ACCOUNTS + ":")


def parse_subject(text: str) -> Subject:
    """`User:alice`, `Group:devs`, `ServiceAccount:ns:name`, `sa:ns:name` or `system:serviceaccount:ns:name`."""
    t = text.strip()
    if t.startswith(SA_USER_PREFIX):
        ns, _, name = t[len(SA_USER_PREFIX) :].partition(":")
        if ns and name:
            return Subject("ServiceAccount", name, ns)
        raise ValueError(f"{text!r}: expected system:serviceaccount:NAMESPACE:NAME")
    kind, sep, rest = t.partition(":")
    k = {"user": "User", "group": "Group", "serviceaccount": "ServiceAccount", "sa": "ServiceAccount"}.get(kind.lower())
    if not sep or k is None or not rest:
        raise ValueError(f"{text!r}: expected User:NAME, Group:NAME or ServiceAccount:NAMESPACE:NAME")
    if k == "ServiceAccount":
        ns, _, name = rest.partition(":")
        if not ns or not name or ":" in name:
            raise ValueError(f"{text!r}: expected ServiceAccount:NAMESPACE:NAME")
        return Subject(k, name, ns)
    if k == "User" and rest.startswith(SA_USER_PREFIX):
        return parse_subject(rest)
    return Subject(k, rest)


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller as the authorizer sees it: a user name and groups."""

    user: str
    groups: frozenset[str] = frozenset()

    def keys(self) -> list[tuple[str, str]]:
        return [("User", self.user)] + [("Group", g) for g in sorted(self.groups)]


def identity_of(subject: Subject, extra_groups: Iterable[str] = ()) -> Identity:
    """The caller a subject stands for. A User is authenticated (`system:anonymous` is not); a
    Group stands for a member with no other group than `system:authenticated`; a ServiceAccount
    has its three groups."""
    extra = frozenset(extra_groups)
    if subject.kind == "ServiceAccount":
        ns = subject.namespace or ""
        return Identity(
            sa_username(ns, subject.name),
            frozenset({ALL_SERVICE_ACCOUNTS, f"{ALL_SERVICE_ACCOUNTS}:{ns}", AUTHENTICATED}) | extra,
        )
    if subject.kind == "User":
        if subject.name.startswith(SA_USER_PREFIX):
            return identity_of(parse_subject(subject.name), extra)
        return Identity(
            subject.name, frozenset({UNAUTHENTICATED if subject.name == ANONYMOUS else AUTHENTICATED}) | extra
        )
    base = {subject.name} if subject.name in (UNAUTHENTICATED, AUTHENTICATED) else {subject.name, AUTHENTICATED}
    return Identity("", frozenset(base) | extra)


# ------------------------------------------------------------------------------------------------
# roles, bindings, grants, workloads
# ------------------------------------------------------------------------------------------------
@dataclass(eq=False, slots=True)
class Role:
    kind: str
    namespace: str | None
    name: str
    rules: list[Rule]
    labels: dict[str, str]
    selectors: list[Selector] | None  # aggregationRule.clusterRoleSelectors
    resource: Resource = field(repr=False)
    builtin: bool = False

    @property
    def key(self) -> str:
        return f"Role/{self.namespace}/{self.name}" if self.kind == "Role" else f"ClusterRole/{self.name}"


@dataclass(eq=False, slots=True)
class Binding:
    kind: str
    namespace: str | None  # None for ClusterRoleBindings
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]
    resource: Resource = field(repr=False)
    builtin: bool = False

    @property
    def key(self) -> str:
        return (
            f"RoleBinding/{self.namespace}/{self.name}"
            if self.kind == "RoleBinding"
            else f"ClusterRoleBinding/{self.name}"
        )

    @property
    def role_key(self) -> str:
        return (
            f"Role/{self.namespace}/{self.role_name}" if self.role_kind == "Role" else f"ClusterRole/{self.role_name}"
        )

    @property
    def scope(self) -> str:
        return f"namespace {self.namespace!r}" if self.namespace is not None else "cluster-wide"


@dataclass(frozen=True, slots=True)
class Grant:
    """A rule that a binding gives its subjects, through a role."""

    binding: Binding
    role: Role
    rule: Rule

    @property
    def namespace(self) -> str | None:
        return self.binding.namespace

    def describe(self) -> str:
        via = (
            f"{self.role.key} rules[{self.rule.index}]"
            if self.rule.origin == self.role.key
            else f"{self.role.key} (aggregated from {self.rule.where()})"
        )
        return f"{self.binding.key} -> {via}: {self.rule.text()}"

    def as_dict(self) -> dict[str, Any]:
        return {"binding": self.binding.key, "role": self.role.key, "rule": self.rule.as_dict()}


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod spec and the ServiceAccount it runs as."""

    resource: Resource = field(repr=False)
    namespace: str
    service_account: str
    token_mounted: bool
    path: Path_

    @property
    def subject(self) -> Subject:
        return Subject("ServiceAccount", self.service_account, self.namespace)


@dataclass(frozen=True, slots=True)
class Request:
    """An authorization request. `namespace` "" is cluster scope (or all namespaces); `path` makes
    it a non-resource request."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str | None = None

    def matches(self, rule: Rule) -> bool:
        if self.path is not None:
            return rule.allows_url(self.verb, self.path)
        return rule.allows(self.verb, self.group, self.resource, self.subresource, self.name)


# ------------------------------------------------------------------------------------------------
# parsing (defensive: the API server rejects what does not type-check, so do we)
# ------------------------------------------------------------------------------------------------
def _get(obj: Any, path: Path_) -> Any:
    for k in path:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise NotEvaluated(f"{format_path(path)}: a parent is {type_name(obj)}, expected a mapping", path)
        obj = obj.get(k)
    return obj


def _strs(v: Any, path: Path_) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise NotEvaluated(f"{format_path(path)} is {type_name(v)}, expected a list of strings", path)
    for i, x in enumerate(v):
        if not isinstance(x, str):
            raise NotEvaluated(f"{format_path(path + (i,))} is {type_name(x)}, expected a string", path + (i,))
    return tuple(v)


def _str(v: Any, path: Path_, required: bool = True) -> str:
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v):
        raise NotEvaluated(
            f"{format_path(path)} is {type_name(v) if v != '' else 'empty'}, expected a non-empty string", path
        )
    return v


def labels_of(res: Resource) -> dict[str, str]:
    labels = _get(res.obj, ("metadata", "labels"))
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise NotEvaluated(f"metadata.labels is {type_name(labels)}, expected a mapping", ("metadata", "labels"))
    for k, v in labels.items():
        if not isinstance(v, str):
            p: Path_ = ("metadata", "labels", str(k))
            raise NotEvaluated(
                f"{format_path(p)} is {type_name(v)} ({v!r}); the API server rejects it (label values are strings)", p
            )
    return labels


def parse_rules(res: Resource, origin: str) -> list[Rule]:
    raw = _get(res.obj, ("rules",))
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise NotEvaluated(f"rules is {type_name(raw)}, expected a list", ("rules",))
    out = []
    for i, r in enumerate(raw):
        p: Path_ = ("rules", i)
        if not isinstance(r, dict):
            raise NotEvaluated(f"{format_path(p)} is {type_name(r)}, expected a mapping", p)
        out.append(
            Rule(
                _strs(r.get("verbs"), p + ("verbs",)),
                _strs(r.get("apiGroups"), p + ("apiGroups",)),
                _strs(r.get("resources"), p + ("resources",)),
                _strs(r.get("resourceNames"), p + ("resourceNames",)),
                _strs(r.get("nonResourceURLs"), p + ("nonResourceURLs",)),
                origin,
                i,
            )
        )
    return out


def is_bootstrap(res: Resource) -> bool:
    """Labelled as one of the cluster's default RBAC objects (or kubefort's built-in copy)."""
    meta = res.obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return res.source.file == BOOTSTRAP_FILE or (
        isinstance(labels, dict) and labels.get(BOOTSTRAP_LABEL) == "rbac-defaults"
    )


# ------------------------------------------------------------------------------------------------
# label selectors (aggregation)
# ------------------------------------------------------------------------------------------------
def _selectors(res: Resource) -> list[Selector] | None:
    agg = _get(res.obj, ("aggregationRule",))
    if agg is None:
        return None
    if not isinstance(agg, dict):
        raise NotEvaluated(f"aggregationRule is {type_name(agg)}, expected a mapping", ("aggregationRule",))
    sels = agg.get("clusterRoleSelectors") or []
    p: Path_ = ("aggregationRule", "clusterRoleSelectors")
    if not isinstance(sels, list) or not all(isinstance(s, dict) for s in sels):
        raise NotEvaluated(f"{format_path(p)} is not a list of label selectors", p)
    for i, s in enumerate(sels):
        ml = s.get("matchLabels") or {}
        me = s.get("matchExpressions") or []
        if not isinstance(ml, dict) or not all(isinstance(v, str) for v in ml.values()):
            raise NotEvaluated(
                f"{format_path(p + (i, 'matchLabels'))} is not a mapping of strings", p + (i, "matchLabels")
            )
        if not isinstance(me, list) or not all(isinstance(e, dict) for e in me):
            raise NotEvaluated(
                f"{format_path(p + (i, 'matchExpressions'))} is not a list of mappings", p + (i, "matchExpressions")
            )
    # the API server validates these selectors (ValidateLabelSelector): an invalid one is not evaluated
    return [parse_selector(s, p + (i,)) for i, s in enumerate(sels)]


# ------------------------------------------------------------------------------------------------
# built-in data
# ------------------------------------------------------------------------------------------------
def _data(name: str) -> Any:
    from kubefort.loaders.yamlparse import parse_stream  # the project's parser: fast, and API-server exact

    parsed = parse_stream(importlib_resources.files("kubefort.kube").joinpath("data", name).read_bytes())
    if parsed.error or parsed.doc_errors or not parsed.docs:
        raise RuntimeError(f"kubefort's built-in {name} does not parse: {parsed.error or parsed.doc_errors}")
    return parsed.docs[0]


@functools.lru_cache(maxsize=1)
def bootstrap_objects() -> tuple[dict[str, Any], ...]:
    """The default RBAC objects of a fresh cluster (read-only: copy before changing)."""
    return tuple(_data("bootstrap-rbac.yaml")["items"])


def bootstrap_resources() -> list[Resource]:
    out = []
    for i, obj in enumerate(bootstrap_objects()):
        meta = obj["metadata"]
        rid = ResourceId(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        out.append(Resource(rid, obj, Source(BOOTSTRAP_FILE, i)))
    return out


# ------------------------------------------------------------------------------------------------
# the policy
# ------------------------------------------------------------------------------------------------
class Policy:
    """Every role, binding, ServiceAccount and workload of a set of Resources, with the authorizer's
    semantics. Objects that do not type-check are kept out and listed in `problems`."""

    def __init__(
        self, resources: Iterable[Resource] = (), *, bootstrap: bool = True, default_namespace: str = "default"
    ) -> None:
        self.default_namespace = default_namespace
        self.include_bootstrap = bootstrap
        self.roles: dict[str, Role] = {}
        self.bindings: list[Binding] = []
        self.problems: dict[tuple[str, str | None, str], NotEvaluated] = {}
        self.service_accounts: dict[tuple[str, str], Resource] = {}
        self.workloads: list[Workload] = []
        self.token_secrets: dict[tuple[str, str], list[str]] = {}  # (ns, sa) -> legacy token Secret names
        self.namespace_labels: dict[str, dict[str, Any]] = {}
        self.crds: list[Resource] = []
        self.cache: dict[Any, Any] = {}  # for consumers (checks, path finding): results derived from this policy
        res_list = list(resources)
        rbac: dict[tuple[str, str | None, str], Resource] = {}
        if bootstrap:
            for r in bootstrap_resources():
                rbac[(r.id.kind, r.id.namespace, r.id.name)] = r
        others = []
        for r in res_list:
            if r.id.kind in RBAC_KINDS and api_group(r.id.api_version) == RBAC_GROUP:
                ns = None if r.id.kind.startswith("Cluster") else self.ns(r)
                rbac[(r.id.kind, ns, r.id.name)] = r
            else:
                others.append(r)
        for key, r in rbac.items():
            try:
                if key[0] in ROLE_KINDS:
                    role = self._parse_role(r, key[1])
                    self.roles[role.key] = role
                else:
                    self.bindings.append(self._parse_binding(r, key[1]))
            except NotEvaluated as exc:
                self.problems[key] = exc
        self._aggregate()
        for r in others:
            self._add_other(r)
        self._by_key: dict[tuple[str, str], list[Binding]] = {}
        self._by_resource = {id(b.resource): b for b in self.bindings}
        self._binding_order = {id(b): i for i, b in enumerate(self.bindings)}
        self._bindings_by_role: dict[str, list[Binding]] = {}
        for b in self.bindings:
            self._bindings_by_role.setdefault(b.role_key, []).append(b)
        self._rule_index: dict[str, list[tuple[str, Rule]]] | None = None
        self._grants: dict[int, list[Grant]] = {}
        self._sa_names: dict[str, set[str]] | None = None
        self._workloads_by_res: dict[int, list[Workload]] = {}
        for w in self.workloads:
            self._workloads_by_res.setdefault(id(w.resource), []).append(w)
        for b in self.bindings:
            for s in b.subjects:
                k = s.key
                if k is not None:
                    lst = self._by_key.setdefault(k, [])
                    if not lst or lst[-1] is not b:
                        lst.append(b)

    # -- loading -------------------------------------------------------------------------------
    def ns(self, res: Resource) -> str:
        return res.id.namespace or self.default_namespace

    def _parse_role(self, r: Resource, ns: str | None) -> Role:
        role = Role(r.id.kind, ns, r.id.name, [], labels_of(r), None, r, is_bootstrap(r))
        role.rules = parse_rules(r, role.key)
        if r.id.kind == "ClusterRole":
            role.selectors = _selectors(r)
        return role

    def _parse_binding(self, r: Resource, ns: str | None) -> Binding:
        ref = _get(r.obj, ("roleRef",))
        if not isinstance(ref, dict):
            raise NotEvaluated(f"roleRef is {type_name(ref)}, expected a mapping", ("roleRef",))
        kind = _str(ref.get("kind"), ("roleRef", "kind"))
        name = _str(ref.get("name"), ("roleRef", "name"))
        if kind not in ROLE_KINDS or (kind == "Role" and ns is None):
            raise NotEvaluated(
                f"roleRef.kind {kind!r} is not valid in a {r.id.kind}; the API server rejects it", ("roleRef", "kind")
            )
        raw = _get(r.obj, ("subjects",)) or []
        if not isinstance(raw, list):
            raise NotEvaluated(f"subjects is {type_name(raw)}, expected a list", ("subjects",))
        subjects = []
        for i, s in enumerate(raw):
            p: Path_ = ("subjects", i)
            if not isinstance(s, dict):
                raise NotEvaluated(f"{format_path(p)} is {type_name(s)}, expected a mapping", p)
            sk = _str(s.get("kind"), p + ("kind",))
            sn = _str(s.get("name"), p + ("name",))
            sns = _str(s.get("namespace"), p + ("namespace",), required=False) or None
            # ServiceAccount subjects of a RoleBinding default to the binding's namespace
            sns = (sns or ns) if sk == "ServiceAccount" else None
            subjects.append(Subject(sk, sn, sns))
        return Binding(r.id.kind, ns, r.id.name, kind, name, tuple(subjects), r, is_bootstrap(r))

    def _aggregate(self) -> None:
        cluster_roles = sorted((r for r in self.roles.values() if r.kind == "ClusterRole"), key=lambda r: r.name)
        aggs = [r for r in cluster_roles if r.selectors is not None]
        for r in aggs:
            r.rules = []
        for _ in range(len(aggs) + 1):
            changed = False
            for agg in aggs:
                seen: set[tuple[tuple[str, ...], ...]] = set()
                new: list[Rule] = []
                for sel in agg.selectors or ():
                    for src in cluster_roles:
                        if src is agg or not sel.matches(src.labels):
                            continue
                        for rule in src.rules:
                            c = rule.content()
                            if c not in seen:
                                seen.add(c)
                                new.append(rule)
                if [x.content() for x in new] != [x.content() for x in agg.rules]:
                    agg.rules = new
                    changed = True
            if not changed:
                break

    def _add_other(self, r: Resource) -> None:
        kind, group = r.id.kind, api_group(r.id.api_version)
        if kind == "ServiceAccount" and group == "":
            self.service_accounts[(self.ns(r), r.id.name)] = r
        elif kind == "Namespace" and group == "":
            try:
                self.namespace_labels[r.id.name] = labels_of(r)
            except NotEvaluated:
                self.namespace_labels[r.id.name] = {}
        elif kind == "Secret" and group == "" and r.obj.get("type") == LEGACY_TOKEN_TYPE:
            sa = _get(r.obj, ("metadata", "annotations", "kubernetes.io/service-account.name"))
            if isinstance(sa, str) and sa:
                self.token_secrets.setdefault((self.ns(r), sa), []).append(r.id.name)
        elif kind == "CustomResourceDefinition" and group == "apiextensions.k8s.io":
            self.crds.append(r)
        else:
            try:
                pods = find_pods(r)
            except NotEvaluated:
                return
            ns = self.ns(r)
            for pod in pods:
                try:
                    sa = pod.spec.str("serviceAccountName") or pod.spec.str("serviceAccount") or "default"
                    self.workloads.append(Workload(r, ns, sa, self._token_mounted(pod.spec, ns, sa), pod.path))
                except NotEvaluated:
                    continue

    def _token_mounted(self, spec: Any, ns: str, sa: str) -> bool:
        for v in spec.list("volumes"):
            sources = _get(v, ("projected", "sources")) if isinstance(v, dict) else None
            if isinstance(sources, list) and any(isinstance(s, dict) and "serviceAccountToken" in s for s in sources):
                return True
        pod_value: bool | None = spec.bool("automountServiceAccountToken")
        if pod_value is not None:
            return pod_value
        return self.sa_automount(ns, sa) is not False

    def sa_automount(self, ns: str, sa: str) -> bool | None:
        res = self.service_accounts.get((ns, sa))
        v = res.obj.get("automountServiceAccountToken") if res is not None else None
        return v if isinstance(v, bool) else None

    # -- lookups -------------------------------------------------------------------------------
    def workloads_of(self, res: Resource) -> list[Workload]:
        return list(self._workloads_by_res.get(id(res), ()))

    def role_of(self, b: Binding) -> Role | None:
        return self.roles.get(b.role_key)

    def grants_of(self, b: Binding) -> list[Grant]:
        """The rules a binding gives (empty when its role is missing), built once."""
        got = self._grants.get(id(b))
        if got is None:
            role = self.role_of(b)
            got = self._grants[id(b)] = [Grant(b, role, rule) for rule in role.rules] if role is not None else []
        return got

    def binding(self, res: Resource) -> Binding | None:
        """The binding parsed from this very object (None when it was replaced or did not parse)."""
        return self._by_resource.get(id(res))

    def problem(self, res: Resource) -> NotEvaluated | None:
        ns = None if res.id.kind.startswith("Cluster") else self.ns(res)
        return self.problems.get((res.id.kind, ns, res.id.name))

    def bindings_for(self, identity: Identity) -> list[Binding]:
        """Every binding naming the identity's user or one of its groups (ClusterRoleBindings first)."""
        seen: dict[int, Binding] = {}
        for k in identity.keys():  # noqa: SIM118 - Identity is not a mapping; keys() lists its binding keys
            for b in self._by_key.get(k, ()):
                seen.setdefault(id(b), b)
        return sorted(seen.values(), key=lambda b: (b.kind != "ClusterRoleBinding", b.namespace or "", b.name))

    def grants_for(self, identity: Identity, namespace: str | None = None) -> Iterator[Grant]:
        """Rules that apply to the identity: all of them (namespace None), or those effective in one
        namespace ("" = cluster scope: ClusterRoleBindings only)."""
        for b in self.bindings_for(identity):
            if namespace is not None and b.namespace is not None and b.namespace != namespace:
                continue
            yield from self.grants_of(b)

    def authorize(self, identity: Identity, req: Request) -> list[Grant]:
        """Every grant that allows the request (empty = denied). Exactly the RBAC authorizer."""
        ns = "" if req.path is not None else req.namespace
        return [g for g in self.grants_for(identity, ns) if req.matches(g.rule)]

    def who_can(self, req: Request, any_namespace: bool = False) -> dict[Subject, list[Grant]]:
        """Subjects of every binding allowing the request. With any_namespace, RoleBindings of every
        namespace count (each grant names its binding, hence where it applies)."""
        if self._rule_index is None:
            self._build_rule_index()
        if self._rule_index is None:  # pragma: no cover - _build_rule_index sets it
            raise RuntimeError("rule index not built")
        if req.path is not None:
            candidates = self._rule_index.get("\0urls", [])
        else:
            combined = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
            candidates = self._rule_index.get(combined, []) + self._rule_index.get("*", [])
            if req.subresource:
                candidates = candidates + self._rule_index.get(f"*/{req.subresource}", [])
        matched: dict[str, list[Rule]] = {}
        seen: set[tuple[str, int]] = set()
        for role_key, rule in candidates:
            k = (role_key, id(rule))
            if k not in seen and req.matches(rule):
                seen.add(k)
                matched.setdefault(role_key, []).append(rule)
        out: dict[Subject, list[Grant]] = {}
        for role_key, found in matched.items():
            ids = {id(r) for r in found}
            for b in self._bindings_by_role.get(role_key, ()):
                if b.namespace is not None and (
                    req.path is not None or (not any_namespace and b.namespace != req.namespace)
                ):
                    continue
                grants = [g for g in self.grants_of(b) if id(g.rule) in ids]  # in the role's rule order
                for s in b.subjects:
                    if s.key is not None:
                        lst = out.get(s)
                        if lst is None:
                            out[s] = list(grants)
                        else:
                            lst.extend(grants)
        for grants in out.values():
            grants.sort(key=lambda g: self._binding_order[id(g.binding)])
        return dict(sorted(out.items(), key=lambda kv: (kv[0].kind, kv[0].namespace or "", kv[0].name)))

    def _build_rule_index(self) -> None:
        idx: dict[str, list[tuple[str, Rule]]] = {}
        for key, role in self.roles.items():
            for rule in role.rules:
                for res in set(rule.resources):
                    idx.setdefault(res, []).append((key, rule))
                if rule.non_resource_urls:
                    idx.setdefault("\0urls", []).append((key, rule))
        self._rule_index = idx

    def namespaces(self) -> set[str]:
        """Every namespace the policy knows of."""
        out = (
            set(self.namespace_labels) | {ns for ns, _ in self.service_accounts} | {w.namespace for w in self.workloads}
        )
        out |= {b.namespace for b in self.bindings if b.namespace is not None}
        out |= {s.namespace for b in self.bindings for s in b.subjects if s.namespace}
        out.add(self.default_namespace)
        return out

    def service_accounts_in(self, namespace: str) -> set[str]:
        """ServiceAccounts known in a namespace: objects, `default`, names used by workloads and bindings."""
        if self._sa_names is None:
            names: dict[str, set[str]] = {}
            for ns, name in self.service_accounts:
                names.setdefault(ns, set()).add(name)
            for w in self.workloads:
                names.setdefault(w.namespace, set()).add(w.service_account)
            for b in self.bindings:
                for s in b.subjects:
                    if s.kind == "ServiceAccount" and s.namespace:
                        names.setdefault(s.namespace, set()).add(s.name)
            self._sa_names = names
        return self._sa_names.get(namespace, set()) | {"default"}


# ------------------------------------------------------------------------------------------------
# resource names as kubectl accepts them
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResourceSpec:
    group: str
    resource: str
    subresource: str = ""
    namespaced: bool | None = None  # None: unknown (a resource kubefort has no table entry for)

    def __str__(self) -> str:
        base = self.resource + (f".{self.group}" if self.group else "")
        return base + (f"/{self.subresource}" if self.subresource else "")


@functools.lru_cache(maxsize=1)
def _api_table() -> tuple[tuple[str, str, str, bool, tuple[str, ...]], ...]:
    return tuple((row[0], row[1], row[2], bool(row[3]), tuple(row[4:])) for row in _data("api-resources.yaml"))


def _crd_rows(crds: Iterable[Resource]) -> list[tuple[str, str, str, bool, tuple[str, ...]]]:
    rows = []
    for r in crds:
        spec = r.obj.get("spec")
        if not isinstance(spec, dict):
            continue
        names = spec.get("names")
        if (
            not isinstance(names, dict)
            or not isinstance(spec.get("group"), str)
            or not isinstance(names.get("plural"), str)
        ):
            continue
        short = tuple(s for s in (names.get("shortNames") or []) if isinstance(s, str))
        singular = names.get("singular") if isinstance(names.get("singular"), str) else ""
        rows.append(
            (
                spec["group"],
                names["plural"],
                str(names.get("kind") or ""),
                spec.get("scope") != "Cluster",
                short + ((singular,) if singular else ()),
            )
        )
    return rows


def resolve_resource(text: str, crds: Iterable[Resource] = ()) -> ResourceSpec:
    """`pods`, `po`, `pod`, `Pod`, `deployments.apps`, `deploy`, `pods/exec`, `*/scale`, `foos.example.com`.
    Raises ValueError for a name without a group that neither kubectl's table nor the input's CRDs know."""
    base, _, sub = text.strip().partition("/")
    if not base:
        raise ValueError(f"{text!r}: empty resource name")
    if base == "*":
        return ResourceSpec("*", "*", sub)
    name, dot, group = base.partition(".")
    lname = name.lower()
    rows = list(_api_table()) + _crd_rows(crds)
    for g, plural, kind, namespaced, short in rows:
        if dot and g != group:
            continue
        if lname in (plural, kind.lower()) or lname in short:
            return ResourceSpec(g, plural, sub, namespaced)
    if dot:
        return ResourceSpec(group, name, sub, None)
    raise ValueError(f"unknown resource {name!r}: give it as RESOURCE.GROUP (for example {name}.example.com)")
