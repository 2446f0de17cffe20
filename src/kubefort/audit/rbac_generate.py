"""Least privilege from usage: the RBAC that grants exactly what one principal was allowed to do
in an audit log (`kubefort audit rbac generate`, audit2rbac's job).

What is granted: every authorization request the principal was allowed (rbac_usage.py: each
request once, allowed ones only, impersonation for both principals), except those the
release's default policy (kube/rbac/builtin.py: discovery, `selfsubjectaccessreviews`, /healthz
... which every authenticated user holds through `system:authenticated`) already allows to any
principal of that kind (`include_defaults=True` grants them again).

Where: a request with a namespace, on a resource that is not cluster-scoped in the release's
built-in resource table (an unknown resource with a namespace is namespaced), goes into a Role
of that namespace, bound by a RoleBinding there. Everything else (cluster-scoped resources, a
namespaced resource read across all namespaces, non-resource URLs) goes into one ClusterRole
bound by a ClusterRoleBinding, which grants in every namespace: a namespaced grant the
ClusterRole already holds is left out of the Role. A `namespaces` request carries the
namespace's own name as its namespace; `namespaces` is cluster-scoped, so it is granted by the
ClusterRole.

How rules are written, so that the result is exact and minimal (removing any rule, verb,
resource or name denies at least one recorded request):

* one API group per rule; subresources as `resource/subresource`; verbs in the order of the
  API's own verbs (get, list, watch, create, update, patch, delete, deletecollection) then the
  rest (use, bind, impersonate ...) alphabetically; never `*`;
* `resourceNames` when every request of a verb on a resource named its object: the RBAC
  authorizer compares the request's name, which a plain list, watch, create or deletecollection
  does not have (RequestInfo: no name in the path), so these verbs are granted by name only
  when the request named one (a list or watch with the field selector `metadata.name=X`, a
  create on a named subresource such as `pods/exec` or `serviceaccounts/token`); more than
  `max_names` names of one verb on one resource grant the verb on every name;
* a rule is the product of its resources, verbs and names, and each of their combinations was
  used: resources with the same verbs (and names) share a rule, a verb used on other names gets
  its own rule.

Objects are named `kubefort:audit:<principal>` (the user name, a ServiceAccount's
`system:serviceaccount:NS:NAME`, `group:NAME`), with `/` and `%` (which RBAC names cannot hold)
replaced by `-`. The output is deterministic: ClusterRole and ClusterRoleBinding, then per
namespace in name order a Role and its RoleBinding, rules sorted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubefort.audit.event import AuditEvent, AuditEventError
from kubefort.audit.rbac_usage import OncePerRequest, accesses, acts_as
from kubefort.kube.rbac import builtin
from kubefort.kube.rbac.model import RBAC_GROUP, Identity, Request, Subject, identity_of, sa_username
from kubefort.kube.rbac.policy import Policy
from kubefort.wording import plural

RBAC_API = f"{RBAC_GROUP}/v1"
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
MAX_NAMES = 10
LABELS = {"app.kubernetes.io/managed-by": "kubefort"}

Names = frozenset[str] | None  # None: every name
# scope ("" = cluster-wide, else a namespace) -> (group, resource[/subresource]) -> verb -> names
Atoms = dict[tuple[str, str], dict[str, set[str] | None]]


def verb_key(verb: str) -> tuple[int, str]:
    return (VERB_ORDER.index(verb) if verb in VERB_ORDER else len(VERB_ORDER), verb)


def object_name(subject: Subject) -> str:
    """`kubefort:audit:<principal>`, as an RBAC object may be named (no `/`, no `%`)."""
    if subject.kind == "ServiceAccount":
        who = sa_username(subject.namespace or "", subject.name)
    elif subject.kind == "Group":
        who = f"group:{subject.name}"
    else:
        who = subject.name
    return f"kubefort:audit:{who}".replace("/", "-").replace("%", "-")


def subject_entry(subject: Subject) -> dict[str, str]:
    if subject.kind == "ServiceAccount":
        return {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace or ""}
    return {"apiGroup": RBAC_GROUP, "kind": subject.kind, "name": subject.name}


class DefaultGrants:
    """What the release's default policy grants any principal of the subject's kind."""

    def __init__(self, version: str, subject: Subject) -> None:
        self.policy = Policy((), bootstrap=True, kubernetes_version=version)
        self.identity: Identity = identity_of(subject)
        self._cache: dict[Request, bool] = {}

    def allows(self, req: Request) -> bool:
        got = self._cache.get(req)
        if got is None:
            got = self._cache[req] = any(not g.rule.conditional for g in self.policy.authorize(self.identity, req))
        return got


@dataclass
class Usage:
    """What one principal was allowed, reduced to what its RBAC must grant (bounded: a verb on
    a resource keeps at most `max_names` names)."""

    subject: Subject
    version: str
    max_names: int = MAX_NAMES
    defaults: DefaultGrants | None = None
    resources: dict[str, Atoms] = field(default_factory=dict)
    urls: dict[str, set[str]] = field(default_factory=dict)
    requests: int = 0  # allowed authorizations of the principal
    refused: int = 0  # its requests the authorizer refused
    by_default: int = 0  # allowed authorizations the default policy grants anyway
    first: str = ""  # stageTimestamp of its first and last counted request
    last: str = ""
    problems: list[str] = field(default_factory=list)  # events that could not be read (file:line: why)

    def count(self, ev: AuditEvent) -> None:
        """One counted request (rbac_usage.OncePerRequest)."""
        try:
            found, refused = accesses(ev)
        except AuditEventError as exc:
            self.problems.append(f"{ev.file}:{ev.line}: {exc.reason}")
            return
        main = (
            Identity(ev.impersonated_user, frozenset(ev.impersonated_groups))
            if ev.impersonated_user
            else Identity(ev.user, frozenset(ev.groups))
        )
        if refused and acts_as(self.subject, main):
            self.refused += 1
        mine = [a.request for a in found if acts_as(self.subject, a.identity)]
        if not mine:
            return
        ts = ev.stage_timestamp
        if ts:
            self.first = min(self.first, ts) if self.first else ts
            self.last = max(self.last, ts)
        for req in mine:
            self.requests += 1
            if self.defaults is not None and self.defaults.allows(req):
                self.by_default += 1
            else:
                self.add(req)

    def add(self, req: Request) -> None:
        if req.path is not None:
            self.urls.setdefault(req.path, set()).add(req.verb)
            return
        res = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
        verbs = self.resources.setdefault(self.scope_of(req), {}).setdefault((req.group, res), {})
        if req.verb in verbs and verbs[req.verb] is None:
            return
        if not req.name:
            verbs[req.verb] = None
            return
        names = verbs.get(req.verb) or set()
        names.add(req.name)
        verbs[req.verb] = None if len(names) > self.max_names else names

    def scope_of(self, req: Request) -> str:
        """The namespace whose Role grants the request, or "" for the ClusterRole (module docstring)."""
        if not req.namespace or builtin.scopes(self.version).get((req.group, req.resource)) is False:
            return ""
        return req.namespace


def collect(
    events: Iterable[AuditEvent],
    subject: Subject,
    version: str | None = None,
    *,
    include_defaults: bool = False,
    max_names: int = MAX_NAMES,
) -> Usage:
    """The usage of one principal over a stream of events (each request once)."""
    v = version or builtin.latest()
    usage = Usage(subject, v, max_names, None if include_defaults else DefaultGrants(v, subject))
    once = OncePerRequest()
    for ev in events:
        if _concerns(ev, subject):
            for judged in once.feed(ev):
                usage.count(judged)
    for judged in once.flush():
        usage.count(judged)
    return usage


def _concerns(ev: AuditEvent, subject: Subject) -> bool:
    """Whether the event may hold a request of the subject (a cheap filter before counting)."""
    if acts_as(subject, Identity(ev.user, frozenset(ev.groups))):
        return True
    return bool(ev.impersonated_user) and acts_as(
        subject, Identity(ev.impersonated_user, frozenset(ev.impersonated_groups))
    )


# ------------------------------------------------------------------------------------------------
# rules
# ------------------------------------------------------------------------------------------------
def effective(usage: Usage) -> dict[str, Atoms]:
    """The grants per scope, without the namespaced ones the ClusterRole already holds."""
    wide = usage.resources.get("", {})
    out: dict[str, Atoms] = {"": wide} if wide else {}
    for ns in sorted(s for s in usage.resources if s):
        kept: Atoms = {}
        for key, verbs in usage.resources[ns].items():
            cover = wide.get(key, {})
            for verb, names in verbs.items():
                if verb in cover:
                    held = cover[verb]
                    if held is None:
                        continue
                    if names is not None:
                        names = names - held
                        if not names:
                            continue
                kept.setdefault(key, {})[verb] = names
        if kept:
            out[ns] = kept
    return out


def resource_rules(atoms: Atoms) -> list[dict[str, Any]]:
    """Compact exact rules: per API group, resources sharing the same verbs and names."""
    merged: dict[tuple[str, Names, tuple[str, ...]], set[str]] = {}
    for (group, res), verbs in atoms.items():
        by_names: dict[Names, set[str]] = {}
        for verb, names in verbs.items():
            by_names.setdefault(None if names is None else frozenset(names), set()).add(verb)
        for limit, vs in by_names.items():
            merged.setdefault((group, limit, tuple(sorted(vs, key=verb_key))), set()).add(res)
    rules = []
    for (group, limit, ordered), resources in merged.items():
        rule: dict[str, Any] = {"apiGroups": [group]}
        if limit is not None:
            rule["resourceNames"] = sorted(limit)
        rule["resources"] = sorted(resources)
        rule["verbs"] = list(ordered)
        rules.append(rule)
    return sorted(rules, key=_rule_key)


def url_rules(urls: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Non-resource URLs sharing the same verbs share a rule."""
    merged: dict[tuple[str, ...], list[str]] = {}
    for path, verbs in urls.items():
        merged.setdefault(tuple(sorted(verbs, key=verb_key)), []).append(path)
    rules = [{"nonResourceURLs": sorted(paths), "verbs": list(verbs)} for verbs, paths in merged.items()]
    return sorted(rules, key=lambda r: (r["nonResourceURLs"], [verb_key(v) for v in r["verbs"]]))


def _rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (rule["apiGroups"], rule["resources"], [verb_key(v) for v in rule["verbs"]], rule.get("resourceNames", []))


def documents(usage: Usage) -> list[dict[str, Any]]:
    """The Role/ClusterRole and binding objects (module docstring), in output order."""
    name = object_name(usage.subject)
    subjects = [subject_entry(usage.subject)]
    docs: list[dict[str, Any]] = []
    scopes = effective(usage)
    cluster_rules = resource_rules(scopes.get("", {})) + url_rules(usage.urls)
    if cluster_rules:
        docs += _role_and_binding("ClusterRole", None, name, cluster_rules, subjects)
    for ns in sorted(s for s in scopes if s):
        docs += _role_and_binding("Role", ns, name, resource_rules(scopes[ns]), subjects)
    return docs


def _role_and_binding(
    kind: str, ns: str | None, name: str, rules: list[dict[str, Any]], subjects: list[dict[str, str]]
) -> list[dict[str, Any]]:
    meta: dict[str, Any] = {"name": name}
    if ns is not None:
        meta["namespace"] = ns
    meta["labels"] = dict(LABELS)
    role = {"apiVersion": RBAC_API, "kind": kind, "metadata": meta, "rules": rules}
    binding = {
        "apiVersion": RBAC_API,
        "kind": f"{kind}Binding",
        "metadata": dict(meta, labels=dict(LABELS)),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": name},
        "subjects": subjects,
    }
    return [role, binding]


def describe(subject: Subject) -> str:
    if subject.kind == "ServiceAccount":
        return f"ServiceAccount {subject.namespace}/{subject.name}"
    return f"{subject.kind} {subject.name}"


def header(usage: Usage, docs: list[dict[str, Any]]) -> list[str]:
    """What the output says about itself (YAML comments)."""
    window = f" ({usage.first} .. {usage.last})" if usage.first else ""
    lines = [
        f"generated by kubefort audit rbac generate for {describe(usage.subject)}: "
        f"{plural(usage.requests, 'allowed request')}{window}"
    ]
    if usage.by_default:
        lines.append(
            f"{usage.by_default} of them the default roles of Kubernetes {usage.version} allow anyway: not granted again"
        )
    if usage.refused:
        lines.append(f"{plural(usage.refused, 'refused request')}: not granted")
    if not docs:
        lines.append("nothing to grant")
    return lines


def printable(text: str) -> str:
    """`text` with control characters (a newline in a user name) escaped: a comment line of the
    output must stay one comment line, whatever a log holds."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def render(usage: Usage) -> str:
    """The YAML stream (comments first) that `generate` prints."""
    import yaml

    docs = documents(usage)
    text = "".join(f"# {printable(line)}\n" for line in header(usage, docs))
    if docs:
        text += yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
    return text
