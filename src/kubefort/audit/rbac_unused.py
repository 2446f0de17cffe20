"""Granted versus used (`kubefort audit rbac unused`): per RBAC subject, the grants nobody used
over an audit log's window, the bindings none of whose grants were used, the wildcard grants
and what was used through them, and a least-privilege ratio.

Subjects: every subject of a binding in the RBAC given (User, Group, ServiceAccount), except the
subjects the release's defaults give a default binding (`system:authenticated` on
`system:discovery` ...): those are the same in every cluster.

Used: a grant (binding -> role rule, `kubefort.kube.rbac.Grant`) is used by a subject when a
request of a principal the subject stands for (a User or ServiceAccount: that user; a Group:
any member, by the groups the event records) was allowed in the log (rbac_usage.py: each request
once, allowed ones only, impersonation) and the grant allows it by the RBAC authorizer's rules
(`Policy.authorize`). Every grant that allows a request counts as used by it, not only one of
them. An allowed request that no grant of the RBAC given allows (another authorizer, such as
the Node authorizer, allowed it, or the RBAC given is not the cluster's) is counted as
unexplained.

Pairs and the ratio. A pair is (verb, API group, resource[/subresource]), or (verb, URL) for a
non-resource rule. A subject's granted pairs are those its grants hold, wildcards expanded:
the verb `*` to the API's eight verbs (get, list, watch, create, update, patch, delete,
deletecollection) plus any other verb the rule lists; the resource `*` and the group `*` to the
release's built-in resource table (kube/rbac/builtin.py) and the resources of the
CustomResourceDefinitions in the RBAC input (`resource_scopes`); `*/subresource` and a resource
neither knows stay as written; resourceNames are ignored (a rule limited by name holds
the pair). A RoleBinding grants only namespaced resources (`namespaces` too: a request on a
namespace carries its own name as namespace), never non-resource URLs; those pairs are not
granted through it. URL patterns stay as written, with the verbs as written. The used pairs
are those of the subject's allowed requests that its grants allowed (for a URL rule: the
pattern and verb that matched). A pair used through a wildcard that the expansion does not
list (a special verb, a subresource) is counted as granted too, so:

    ratio = |used pairs| / |granted pairs ∪ used pairs|        (None: no pair granted)

1.0 means every granted pair was used; a ServiceAccount bound to `cluster-admin` that reads
pods scores about 1/700.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubefort.audit.event import AuditEvent, AuditEventError
from kubefort.audit.rbac_generate import VERB_ORDER
from kubefort.audit.rbac_usage import OncePerRequest, accesses
from kubefort.kube.rbac import builtin
from kubefort.kube.rbac.model import Binding, Grant, Identity, Request, Rule, Subject
from kubefort.kube.rbac.policy import Policy
from kubefort.kube.rbac.resources import crd_rows

# (verb, group, resource[/subresource]); for a URL rule (verb, None, URL pattern)
Pair = tuple[str, str | None, str]
AUTHORIZE_CACHE = 1 << 16


def pair_text(p: Pair) -> str:
    """`get pods`, `list deployments.apps`, `get /healthz`."""
    verb, group, what = p
    if group is None:
        return f"{verb} {what}"
    if not group:
        return f"{verb} {what}"
    base, sep, sub = what.partition("/")
    return f"{verb} {base}.{group}{sep}{sub}"


def _pair_key(p: Pair) -> tuple[int, str, str, tuple[int, str]]:
    verb, group, what = p
    rank = VERB_ORDER.index(verb) if verb in VERB_ORDER else len(VERB_ORDER)
    return (group is None, group or "", what, (rank, verb))


def is_wildcard(rule: Rule) -> bool:
    """A rule with `*` in its verbs, API groups, resources (`*` or `*/sub`) or URLs."""
    return (
        "*" in rule.verbs
        or "*" in rule.api_groups
        or any(r == "*" or r.startswith("*/") for r in rule.resources)
        or any("*" in u for u in rule.non_resource_urls)
    )


# (group, resource) -> namespaced (None: the CRD does not say)
Scopes = dict[tuple[str, str], bool | None]


def resource_scopes(policy: Policy) -> Scopes:
    """The resources a wildcard stands for: the release's built-in ones and those of the input's
    CustomResourceDefinitions (what the API server serves besides its own)."""
    out: Scopes = dict(builtin.scopes(policy.version))
    for group, plural, _kind, namespaced, _short in crd_rows(policy.crds):
        out.setdefault((group, plural), namespaced)
    return out


def granted_pairs(rule: Rule, through_role_binding: bool, scopes: Scopes) -> frozenset[Pair]:
    """The pairs a rule holds (module docstring), over `scopes` (`resource_scopes`)."""
    if rule.non_resource_urls:
        if through_role_binding:
            return frozenset()
        return frozenset((v, None, u) for v in rule.verbs for u in rule.non_resource_urls)
    verbs = {v for v in rule.verbs if v != "*"} | (set(VERB_ORDER) if "*" in rule.verbs else set())
    any_group = "*" in rule.api_groups

    def grantable(group: str, resource: str) -> bool:
        return not through_role_binding or scopes.get((group, resource)) is not False or resource == "namespaces"

    targets: set[tuple[str, str]] = set()
    for res in rule.resources:
        if res == "*":
            targets |= {(g, r) for g, r in scopes if (any_group or g in rule.api_groups) and grantable(g, r)}
        elif res.startswith("*/"):
            targets |= {(g, res) for g in rule.api_groups}
        else:
            base = res.partition("/")[0]
            groups = sorted({g for g, r in scopes if r == base}) if any_group else list(rule.api_groups)
            targets |= {(g, res) for g in (groups or ["*"]) if grantable(g, base)}
    return frozenset((v, g, r) for v in verbs for g, r in targets)


def used_pair(req: Request, rule: Rule) -> Pair:
    """The pair a request used through a rule that allows it."""
    if req.path is None:
        return (req.verb, req.group, f"{req.resource}/{req.subresource}" if req.subresource else req.resource)
    verb = req.verb if req.verb in rule.verbs else "*"
    for u in rule.non_resource_urls:
        if u in ("*", req.path) or (u.endswith("*") and req.path.startswith(u[:-1])):
            return (verb, None, u)
    return (verb, None, req.path)  # pragma: no cover - the rule allows the request, so a pattern matched


@dataclass
class GrantUse:
    grant: Grant
    requests: int = 0
    pairs: set[Pair] = field(default_factory=set)


@dataclass
class SubjectUse:
    """One subject: its bindings (with whether their role exists), its grants (binding order,
    then rule order) and what was used of them."""

    subject: Subject
    all_bindings: list[tuple[Binding, bool]]
    grants: list[GrantUse]
    granted: frozenset[Pair]
    requests: int = 0

    @property
    def used(self) -> set[Pair]:
        out: set[Pair] = set()
        for g in self.grants:
            out |= g.pairs
        return out

    @property
    def ratio(self) -> float | None:
        used = self.used
        total = len(self.granted | used)
        return len(used) / total if total else None

    def bindings(self) -> list[tuple[Binding, bool, int]]:
        """Every binding of the subject: whether its role exists, and the requests its grants
        allowed (0: unused)."""
        counts: dict[int, int] = {}
        for g in self.grants:
            counts[id(g.grant.binding)] = counts.get(id(g.grant.binding), 0) + g.requests
        return [(b, found, counts.get(id(b), 0)) for b, found in self.all_bindings]

    def unused_rules(self) -> list[GrantUse]:
        return [g for g in self.grants if not g.requests]

    def wildcards(self) -> list[GrantUse]:
        """Used grants of wildcard rules (what was used of them is `pairs`)."""
        return [g for g in self.grants if g.requests and is_wildcard(g.grant.rule)]


class UnusedAnalysis:
    """Feed it the events of a log (`feed`, then `finish`); bounded memory: the grants of the
    policy, their used pairs, and the authorizer's answers for recent requests."""

    def __init__(self, policy: Policy, only: Iterable[Subject] | None = None) -> None:
        self.policy = policy
        wanted = set(only) if only is not None else None
        self.scope: dict[int, set[Subject]] = {}  # id(binding) -> its subjects in scope
        by_subject: dict[Subject, list[Binding]] = {}
        scopes = resource_scopes(policy)
        for b in policy.bindings:
            subjects = {s for s in b.extra_subjects() if s.key is not None and (wanted is None or s in wanted)}
            if subjects:
                self.scope[id(b)] = subjects
                for s in subjects:
                    by_subject.setdefault(s, []).append(b)
        self.subjects: dict[Subject, SubjectUse] = {}
        self._uses: dict[tuple[Subject, int], GrantUse] = {}
        for s in sorted(by_subject, key=lambda s: (s.kind, s.namespace or "", s.name)):
            # reports list the bindings in one order whatever order the input listed them in (a
            # live cluster's lists and a snapshot differ): ClusterRoleBindings first, then by name
            by_subject[s].sort(key=lambda b: (b.namespace is not None, b.namespace or "", b.key))
            uses = []
            granted: set[Pair] = set()
            for b in by_subject[s]:
                for g in policy.grants_of(b):
                    u = GrantUse(g)
                    uses.append(u)
                    self._uses[(s, id(g))] = u
                    granted |= granted_pairs(g.rule, b.namespace is not None, scopes)
            bindings = [(b, policy.role_of(b) is not None) for b in by_subject[s]]
            self.subjects[s] = SubjectUse(s, bindings, uses, frozenset(granted))
        self._once = OncePerRequest()
        self._authorize = functools.lru_cache(maxsize=AUTHORIZE_CACHE)(self._authorize_uncached)
        self.events = 0
        self.requests = 0  # allowed authorizations counted
        self.refused = 0
        self.unexplained = 0  # allowed in the log, allowed by nothing in the RBAC given
        self.first = ""
        self.last = ""
        self.problems: list[str] = []  # events that could not be read (file:line: why)

    def _authorize_uncached(self, identity: Identity, req: Request) -> tuple[Grant, ...]:
        return tuple(self.policy.authorize(identity, req))

    def feed(self, ev: AuditEvent) -> None:
        self.events += 1
        for judged in self._once.feed(ev):
            self._count(judged)

    def finish(self) -> list[SubjectUse]:
        for judged in self._once.flush():
            self._count(judged)
        return list(self.subjects.values())

    def _count(self, ev: AuditEvent) -> None:
        try:
            found, refused = accesses(ev)
        except AuditEventError as exc:
            self.problems.append(f"{ev.file}:{ev.line}: {exc.reason}")
            return
        self.refused += refused
        ts = ev.stage_timestamp
        if ts and (found or refused):
            self.first = min(self.first, ts) if self.first else ts
            self.last = max(self.last, ts)
        for a in found:
            self.requests += 1
            grants = self._authorize(a.identity, a.request)
            if not grants:
                self.unexplained += 1
                continue
            keys = set(a.identity.keys())
            hit: set[Subject] = set()
            for g in grants:
                for s in self.scope.get(id(g.binding), ()):
                    if s.key in keys:
                        use = self._uses[(s, id(g))]
                        use.requests += 1
                        use.pairs.add(used_pair(a.request, g.rule))
                        hit.add(s)
            for s in hit:
                self.subjects[s].requests += 1


def analyse(policy: Policy, events: Iterable[AuditEvent], only: Iterable[Subject] | None = None) -> UnusedAnalysis:
    """Every event through one analysis (tests and small inputs); `finish()` gives the subjects."""
    a = UnusedAnalysis(policy, only)
    for ev in events:
        a.feed(ev)
    return a


# ------------------------------------------------------------------------------------------------
# what reports show
# ------------------------------------------------------------------------------------------------
def grant_text(g: Grant) -> str:
    return g.describe()


def subject_dict(s: SubjectUse, scopes: Scopes) -> dict[str, Any]:
    used = s.used
    return {
        "subject": s.subject.as_dict(),
        "requests": s.requests,
        "grantedPairs": len(s.granted | used),
        "usedPairs": len(used),
        "ratio": None if s.ratio is None else round(s.ratio, 6),
        "bindings": [
            {"binding": b.key, "role": b.role_key, "roleFound": found, "requests": n, "used": n > 0}
            for b, found, n in s.bindings()
        ],
        "unusedRules": [dict(u.grant.as_dict(), text=grant_text(u.grant)) for u in s.unused_rules()],
        "wildcards": [
            dict(
                u.grant.as_dict(),
                text=grant_text(u.grant),
                requests=u.requests,
                grantedPairs=len(granted_pairs(u.grant.rule, u.grant.binding.namespace is not None, scopes) | u.pairs),
                used=[pair_text(p) for p in sorted(u.pairs, key=_pair_key)],
            )
            for u in s.wildcards()
        ],
    }


def table_lines(subjects: list[SubjectUse], scopes: Scopes) -> list[str]:
    """The table report: one block per subject."""
    out: list[str] = []
    for s in subjects:
        used, ratio = s.used, s.ratio
        total = len(s.granted | used)
        share = f" ({ratio:.1%})" if ratio is not None else ""
        out.append(
            f"{s.subject}: used {len(used)} of {total} granted (verb, resource) pairs{share}, "
            f"{s.requests} {'request' if s.requests == 1 else 'requests'}"
        )
        rows: list[tuple[str, str]] = []
        for b, found, n in s.bindings():
            if not n:
                missing = "" if found else " (its role does not exist: it grants nothing)"
                rows.append(("unused binding", f"{b.key} -> {b.role_key}{missing}"))
        rows += [("unused rule", grant_text(u.grant)) for u in s.unused_rules()]
        for u in s.wildcards():
            n_granted = len(granted_pairs(u.grant.rule, u.grant.binding.namespace is not None, scopes) | u.pairs)
            used_text = ", ".join(pair_text(p) for p in sorted(u.pairs, key=_pair_key))
            rows.append(("wildcard", f"{grant_text(u.grant)}: used {len(u.pairs)} of {n_granted} pairs: {used_text}"))
        width = max((len(k) for k, _ in rows), default=0)
        out += [f"  {k.ljust(width)}  {v}" for k, v in rows]
        if not rows:
            out.append("  every binding and rule was used")
    return out
