"""The RBAC model: constants, rules, subjects, identities, roles, bindings, grants, workloads and
authorization requests, with the authorizer's matching rules (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.selectors import Selector
from kubefort.model import Path_, Resource

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
CONDITIONAL_NOTE = " (granted if the rules are kept: an aggregated ClusterRole's own rules)"


def sa_username(namespace: str, name: str) -> str:
    return f"{SA_USER_PREFIX}{namespace}:{name}"


# ------------------------------------------------------------------------------------------------
# rules, subjects, identities
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rule:
    """One PolicyRule, with where it is written (`origin` role key and its index in `rules`).

    `default`: part of the chosen release's default policy (a bootstrap role's rule, or one an
    input role of a default's name shares with it): out of scope for the checks.
    `conditional`: an aggregated ClusterRole's own rule, which holds only until the aggregation
    controller replaces the role's rules (it is shown "granted if the rules are kept")."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()
    origin: str = ""
    index: int = 0
    default: bool = False
    conditional: bool = False

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
            "default": self.default,
            "conditional": self.conditional,
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
    builtin: bool = False  # kubefort's copy of a default role, not an input object
    default: bool = False  # a default role of the release (built in, or an input object of its name)
    own_rules: list[Rule] = field(default_factory=list)  # an aggregated ClusterRole's written rules

    @property
    def key(self) -> str:
        return f"Role/{self.namespace}/{self.name}" if self.kind == "Role" else f"ClusterRole/{self.name}"

    @property
    def changed(self) -> bool:
        """A default role whose rules go beyond the release's defaults (or a role that is not one)."""
        return not self.default or any(not r.default for r in self.rules)


@dataclass(eq=False, slots=True)
class Binding:
    kind: str
    namespace: str | None  # None for ClusterRoleBindings
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[Subject, ...]
    resource: Resource = field(repr=False)
    builtin: bool = False  # kubefort's copy of a default binding, not an input object
    default: bool = False  # a default binding of the release (built in, or an input object of its name)
    default_subjects: frozenset[Subject] = frozenset()  # the release's default subjects of this binding

    def extra_subjects(self) -> list[Subject]:
        """The subjects the release's defaults do not give this binding (all of a non-default one)."""
        return [s for s in self.subjects if s not in self.default_subjects]

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
        return f"{self.binding.key} -> {via}: {self.rule.text()}{CONDITIONAL_NOTE if self.rule.conditional else ''}"

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
