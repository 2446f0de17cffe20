"""The API server's audit `Policy` (`audit.k8s.io/v1`): which rule decides a request, at which level,
and which of the request's stages are written.

Semantics, from k8s.io/apiserver:

- loading (pkg/audit/policy/reader.go, pkg/apis/audit/validation): every rule needs a valid
  `level`; `omitStages` of a rule must name real stages; `nonResourceURLs` start with `/` (or are
  `*`) and carry `*` only at the end, and never share a rule with `resources` or `namespaces`;
  `resourceNames` need `resources`; a group is a DNS subdomain; a policy with no rules is refused.
  JSON decoding makes a null field, and a null list element, the zero value (`""`, an empty
  `GroupResources`, which names the core group and every resource in it).
- matching (pkg/audit/policy/checker.go): the first rule that matches decides; no match is level
  None. A rule matches when each of its non-empty lists admits the request: `users` (the user
  name), `userGroups` (any group), `verbs`; then, if it has `namespaces` or `resources`, the
  request must be a resource request in one of the namespaces ("" for cluster-scoped ones) and
  of one of the resources: a `GroupResources` of the request's group with no resources admits
  all of them, else `resource`, `resource/subresource`, `*`, `*/subresource` or `resource/*`
  (which also admits the resource itself), and with `resourceNames` only those objects; else,
  if it has `nonResourceURLs`, the request must be a non-resource request whose path equals one,
  or starts with one ending in `*` (`*` alone admits all).
- stages (pkg/endpoints/filters/audit.go): a request writes RequestReceived, then for a
  long-running request ResponseStarted, then ResponseComplete (Panic instead if the handler
  panics); the policy's `omitStages` are added to the deciding rule's. Long-running requests are
  the verbs watch and proxy and the subresources attach, exec, proxy, log and portforward
  (kube-apiserver's BasicLongRunningRequestCheck). A request whose stages are all omitted is
  recorded at no level at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubefort.kube.pods import type_name
from kubefort.model import NotEvaluated, Path_

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
AUDIT_LEVELS = {name: i for i, name in enumerate(LEVELS)}
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
# apimachinery's IsDNS1123Subdomain (NameIsDNSSubdomain): lower case, at most 253 characters
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
REFUSED = "; the API server refuses the policy"


@dataclass(frozen=True, slots=True)
class AuditRequest:
    """A request the audit policy is asked about, with the attributes the policy checker reads.

    `namespace` is "" for cluster-scoped resources (and for a Namespace object it is the
    Namespace's own name, as the API server's request info sets it); `path` makes it a
    non-resource request (`/healthz`), whose resource fields are then unused."""

    label: str
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = "default"
    user: str = "jane@example.com"
    groups: tuple[str, ...] = ("system:authenticated",)
    name: str = ""
    path: str | None = None

    @property
    def long_running(self) -> bool:
        return self.verb in LONG_RUNNING_VERBS or (self.path is None and self.subresource in LONG_RUNNING_SUBRESOURCES)

    def stages(self) -> tuple[str, ...]:
        """The stages the API server writes for this request when its handler does not panic."""
        if self.long_running:
            return ("RequestReceived", "ResponseStarted", "ResponseComplete")
        return ("RequestReceived", "ResponseComplete")


@dataclass(frozen=True, slots=True)
class GroupResources:
    group: str
    resources: tuple[str, ...]
    resource_names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PolicyRule:
    level: int
    users: tuple[str, ...]
    user_groups: tuple[str, ...]
    verbs: tuple[str, ...]
    namespaces: tuple[str, ...]
    resources: tuple[GroupResources, ...]
    non_resource_urls: tuple[str, ...]
    omit_stages: frozenset[str]


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    rules: tuple[PolicyRule, ...]
    omit_stages: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    """How the policy treats one request. `level` is what is recorded (0, None, when no rule
    matched, the rule says None, or every stage the request writes is omitted); `rule_level` the
    deciding rule's level; `rule` its index (None: no rule matched); `recorded` the stages written."""

    level: int
    rule_level: int
    rule: int | None
    omitted: frozenset[str]
    recorded: tuple[str, ...]

    @property
    def path(self) -> Path_:
        return ("rules",) if self.rule is None else ("rules", self.rule)

    @property
    def level_name(self) -> str:
        return LEVELS[self.level]


# -- loading ------------------------------------------------------------------------------------
def _strs(v: Any, path: Path_) -> tuple[str, ...]:
    """A list of strings as Go decodes it: null is empty, a null element is ""; NotEvaluated otherwise."""
    if v is None:
        return ()
    if not isinstance(v, list):
        raise NotEvaluated(f"{_where(path)} is {type_name(v)}, expected a list of strings{REFUSED}", path)
    out = []
    for i, x in enumerate(v):
        if x is None:
            x = ""
        if not isinstance(x, str):
            raise NotEvaluated(f"{_where((*path, i))} is {type_name(x)}, expected a string{REFUSED}", (*path, i))
        out.append(x)
    return tuple(out)


def _str(v: Any, path: Path_) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise NotEvaluated(f"{_where(path)} is {type_name(v)}, expected a string{REFUSED}", path)
    return v


def _where(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _group_resources(v: Any, path: Path_) -> GroupResources:
    if v is None:
        return GroupResources("", (), ())  # a null element decodes to the zero value: the core group, all
    if not isinstance(v, dict):
        raise NotEvaluated(f"{_where(path)} is {type_name(v)}, expected a mapping (group, resources){REFUSED}", path)
    group = _str(v.get("group"), (*path, "group"))
    if group and (len(group) > 253 or not _DNS_SUBDOMAIN.fullmatch(group)):
        raise NotEvaluated(f"{_where((*path, 'group'))} {group!r} is not a DNS subdomain{REFUSED}", (*path, "group"))
    resources = _strs(v.get("resources"), (*path, "resources"))
    names = _strs(v.get("resourceNames"), (*path, "resourceNames"))
    if names and not resources:
        raise NotEvaluated(f"{_where(path)} sets resourceNames without resources{REFUSED}", (*path, "resourceNames"))
    return GroupResources(group, resources, names)


def _rule(v: Any, path: Path_) -> PolicyRule:
    if v is None:
        v = {}
    if not isinstance(v, dict):
        raise NotEvaluated(f"{_where(path)} is {type_name(v)}, expected a mapping{REFUSED}", path)
    level = _str(v.get("level"), (*path, "level"))
    if level not in AUDIT_LEVELS:
        shown = "missing" if not level else f"{level!r}, not a level"
        raise NotEvaluated(
            f"{_where(path)}.level is {shown} (None, Metadata, Request, RequestResponse){REFUSED}", (*path, "level")
        )
    urls = _strs(v.get("nonResourceURLs"), (*path, "nonResourceURLs"))
    for i, url in enumerate(urls):
        if url != "*" and (not url.startswith("/") or "*" in url[:-1]):
            raise NotEvaluated(
                f"{_where(path)}.nonResourceURLs[{i}] {url!r} must start with '/' and may end with '*'{REFUSED}",
                (*path, "nonResourceURLs", i),
            )
    raw_resources = v.get("resources")
    if raw_resources is not None and not isinstance(raw_resources, list):
        raise NotEvaluated(
            f"{_where(path)}.resources is {type_name(raw_resources)}, expected a list{REFUSED}", (*path, "resources")
        )
    resources = tuple(_group_resources(gr, (*path, "resources", i)) for i, gr in enumerate(raw_resources or ()))
    namespaces = _strs(v.get("namespaces"), (*path, "namespaces"))
    if urls and (resources or namespaces):
        raise NotEvaluated(
            f"{_where(path)} applies to both resources and non-resource URLs{REFUSED}", (*path, "nonResourceURLs")
        )
    stages = _strs(v.get("omitStages"), (*path, "omitStages"))
    for i, s in enumerate(stages):
        if s not in STAGES:
            raise NotEvaluated(
                f"{_where(path)}.omitStages[{i}] {s!r} is not a stage ({', '.join(STAGES)}){REFUSED}",
                (*path, "omitStages", i),
            )
    return PolicyRule(
        AUDIT_LEVELS[level],
        _strs(v.get("users"), (*path, "users")),
        _strs(v.get("userGroups"), (*path, "userGroups")),
        _strs(v.get("verbs"), (*path, "verbs")),
        namespaces,
        resources,
        urls,
        frozenset(stages),
    )


def parse_policy(obj: Mapping[str, Any]) -> AuditPolicy:
    """The policy as the API server loads it; NotEvaluated (with the field's path) for a policy
    it refuses to start with."""
    rules = obj.get("rules")
    if rules is not None and not isinstance(rules, list):
        raise NotEvaluated(f"rules is {type_name(rules)}, expected a list{REFUSED}", ("rules",))
    if not rules:
        raise NotEvaluated(f"the policy has no rules{REFUSED}", ("rules",))
    parsed = tuple(_rule(r, ("rules", i)) for i, r in enumerate(rules))
    # the policy-wide omitStages are not validated by the API server: unknown names never match
    return AuditPolicy(parsed, frozenset(_strs(obj.get("omitStages"), ("omitStages",))))


# -- matching -----------------------------------------------------------------------------------
def _path_matches(path: str, spec: str) -> bool:
    return spec in ("*", path) or (spec.endswith("*") and path.startswith(spec.rstrip("*")))


def _resource_matches(rule: PolicyRule, r: AuditRequest) -> bool:
    if r.path is not None:
        return False
    if rule.namespaces and r.namespace not in rule.namespaces:
        return False
    if not rule.resources:
        return True
    combined = f"{r.resource}/{r.subresource}" if r.subresource else r.resource
    for gr in rule.resources:
        if gr.group != r.group:
            continue
        if not gr.resources:
            return True
        if gr.resource_names and r.name not in gr.resource_names:
            continue
        for res in gr.resources:
            if res in (combined, "*"):
                return True
            if r.subresource and res.startswith("*/") and res[2:] == r.subresource:
                return True
            if res.endswith("/*") and res[:-2] == r.resource:
                return True
    return False


def rule_matches(rule: PolicyRule, r: AuditRequest) -> bool:
    """checker.go ruleMatches, exactly."""
    if rule.users and r.user not in rule.users:
        return False
    if rule.user_groups and not any(g in rule.user_groups for g in r.groups):
        return False
    if rule.verbs and r.verb not in rule.verbs:
        return False
    if rule.namespaces or rule.resources:
        return _resource_matches(rule, r)
    if rule.non_resource_urls:
        return r.path is not None and any(_path_matches(r.path, s) for s in rule.non_resource_urls)
    return True


def evaluate(policy: AuditPolicy, r: AuditRequest) -> Decision:
    """The deciding rule (the first that matches) and what is recorded for the request."""
    for i, rule in enumerate(policy.rules):
        if rule_matches(rule, r):
            return _decision(rule.level, i, rule.omit_stages | policy.omit_stages, r)
    return _decision(0, None, policy.omit_stages, r)


def _decision(rule_level: int, index: int | None, omitted: frozenset[str], r: AuditRequest) -> Decision:
    recorded = tuple(s for s in r.stages() if s not in omitted) if rule_level else ()
    return Decision(rule_level if recorded else 0, rule_level, index, omitted, recorded)


def audit_level(policy: Mapping[str, Any], r: AuditRequest) -> tuple[int, Path_]:
    """(recorded level, path of the deciding rule) of one request under a policy object."""
    d = evaluate(parse_policy(policy), r)
    return d.level, d.path
