"""What a role grants and how risky that is, for the audit checks (`AuditServices.rbac`).

One `RbacKnowledge` per analysis: the built-in bootstrap roles and bindings of the cluster's
Kubernetes release (kube/rbac/builtin.py) plus the RBAC objects the user gave (manifests or a
cluster), read by the RBAC engine (`kube.rbac.Policy`: reconciliation with the defaults,
aggregation, the authorizer's matching). Risk is the RBAC engine's own notion, the one the
KF-RBAC checks use (checks/rbac/common.py: `risky`, `is_full_wildcard`): every verb on every
resource (cluster-admin), escalate/bind, impersonate, reading Secrets, creating workloads,
exec/attach, port-forward, nodes/proxy, minting tokens, admission webhooks, PersistentVolumes,
writing RBAC, approving CSRs with a signer.

The audit log records a binding or role as the request wrote it; the role a binding names is
looked up here. Without the user's RBAC objects only the release's default roles are known, and
a binding to any other role cannot be judged (`judge_binding` raises NotEvaluated saying so).
The user's objects are a snapshot: what it says of a principal's permissions is as of when it
was taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kubefort.kube.rbac import (
    ANONYMOUS,
    RBAC_GROUP,
    UNAUTHENTICATED,
    Binding,
    Grant,
    Identity,
    Policy,
    Request,
    Role,
    Rule,
    Subject,
    parse_rules,
)
from kubefort.kube.rbac.reconcile import uncovered
from kubefort.loaders.manifests import LoadedInput, add_object
from kubefort.model import InputRecord, NotEvaluated, Resource, Source

OBJECTS_FILE = "<rbac-objects>"
AUDIT_FILE = "<audit-event>"
ADMIN = "do anything (*/*/*)"
PUBLIC_CACHE = 4096  # (verb, request) answers of the default policy kept for anonymous requests
_ANONYMOUS = Identity(ANONYMOUS, frozenset({UNAUTHENTICATED}))


@dataclass(frozen=True, slots=True)
class BindingVerdict:
    """A binding from a request body, judged.

    `admin`: the role grants every verb on every resource (cluster-admin; through a RoleBinding,
    everything in its namespace). `risks`: the RBAC engine's names of the risky permissions it
    grants (`ADMIN` first when admin), each once. `subjects`: the subjects it gives them to,
    without the default subjects of a default binding of its name (those the release binds)."""

    binding: Binding
    role: Role
    admin: bool
    risks: tuple[str, ...]
    subjects: tuple[Subject, ...]


def to_resources(objects: Iterable[Any], file: str) -> tuple[list[Resource], list[str]]:
    """Decoded objects as the loaders read them (Lists expanded, malformed objects refused):
    (resources, one problem message per object refused)."""
    li = LoadedInput(InputRecord(file, "object"))
    for i, obj in enumerate(objects):
        add_object(li, obj, Source(file, i), file)
    return li.resources, [p.message for p in li.problems]


def one_resource(obj: dict[str, Any], namespace: str | None) -> Resource:
    """A request body as a Resource, in the request's namespace when the body names none."""
    meta = obj.get("metadata")
    if namespace and isinstance(meta, dict) and not meta.get("namespace"):
        obj = {**obj, "metadata": {**meta, "namespace": namespace}}
    found, problems = to_resources([obj], AUDIT_FILE)
    if problems:
        raise NotEvaluated(f"the recorded object is malformed: {problems[0]}")
    if len(found) != 1:
        raise NotEvaluated("the recorded body is not one Kubernetes object")
    return found[0]


class RbacKnowledge:
    """The RBAC of one cluster as far as kubefort knows it (module docstring)."""

    def __init__(self, kubernetes_version: str | None = None, objects: Iterable[Any] | None = None) -> None:
        """`kubernetes_version` (1.N, v1.N.P) picks the release whose defaults apply (ValueError
        for one kubefort does not ship); without it the version of a ClusterInfo among `objects`,
        else the newest shipped. `objects`: the cluster's RBAC objects (None: not given)."""
        resources, self.problems = to_resources(objects or (), OBJECTS_FILE)
        self.cluster_objects = objects is not None
        self.policy = Policy(resources, kubernetes_version=kubernetes_version)
        self.version = self.policy.version
        self.version_reason = self.policy.version_reason
        # the release's defaults alone: what every cluster of the release allows
        self.defaults = Policy((), kubernetes_version=self.version) if resources else self.policy
        self.default_bindings = {b.key: b for b in self.defaults.bindings}
        self.public_cache: dict[Request, bool] = {}

    # -- roles and bindings ----------------------------------------------------------------------
    def role(self, key: str) -> Role | None:
        """`ClusterRole/NAME` or `Role/NAMESPACE/NAME`, as the cluster holds it."""
        return self.policy.roles.get(key)

    def read_binding(self, obj: dict[str, Any], namespace: str | None) -> Binding:
        """A RoleBinding or ClusterRoleBinding body as the RBAC engine reads it (NotEvaluated
        for one the API server would refuse)."""
        res = one_resource(obj, namespace)
        pol = Policy([res], bootstrap=False, kubernetes_version=self.version)
        if pol.problems:
            raise next(iter(pol.problems.values()))
        if len(pol.bindings) != 1:
            raise NotEvaluated(f"the recorded object is a {res.id.kind}, not a RoleBinding or ClusterRoleBinding")
        return pol.bindings[0]

    def judge_binding(self, obj: dict[str, Any], namespace: str | None) -> BindingVerdict:
        """What the binding in `obj` grants, to whom. NotEvaluated for a malformed binding and for
        a role kubefort does not know (neither a default role nor among the objects given)."""
        # imported here: kubefort.checks imports the audit checks, which import this module
        from kubefort.checks.rbac.common import is_full_wildcard, risky

        b = self.read_binding(obj, namespace)
        role = self.role(b.role_key)
        if role is None:
            raise NotEvaluated(self.unknown_role(b.role_key))
        grants = [Grant(b, role, rule) for rule in role.rules]
        admin = any(is_full_wildcard(g) for g in grants)
        risks = list(dict.fromkeys(what for what, _g in risky(grants)))
        if admin:
            risks = [ADMIN] + [r for r in risks if r != ADMIN]
        default = self.default_bindings.get(b.key)
        known = frozenset(default.subjects) if default is not None and default.role_key == b.role_key else frozenset()
        subjects = tuple(s for s in b.subjects if s not in known)
        return BindingVerdict(b, role, admin, tuple(risks), subjects)

    def unknown_role(self, key: str) -> str:
        given = (
            "nor among the RBAC objects given"
            if self.cluster_objects
            else "and no RBAC objects were given (give the cluster's roles to judge bindings to its own roles)"
        )
        return f"{key} is not a default role of Kubernetes {self.version} {given}"

    def role_rules(self, obj: dict[str, Any], namespace: str | None) -> list[Rule]:
        """The rules a Role or ClusterRole body writes (NotEvaluated for malformed ones)."""
        res = one_resource(obj, namespace)
        if res.id.kind not in ("Role", "ClusterRole"):
            raise NotEvaluated(f"the recorded object is a {res.id.kind}, not a Role or ClusterRole")
        key = f"Role/{res.id.namespace}/{res.id.name}" if res.id.kind == "Role" else f"ClusterRole/{res.id.name}"
        return parse_rules(res, key)

    # -- what an identity holds ------------------------------------------------------------------
    def grants(self, identity: Identity, req: Request) -> list[Grant]:
        """The grants of the known policy that allow the request (empty: RBAC denies it)."""
        return self.policy.authorize(identity, req)

    def unheld(self, identity: Identity, rules: Iterable[Rule], namespace: str) -> list[dict[str, list[str]]]:
        """The parts of `rules` the identity does not hold where they would apply (`namespace`,
        "" for cluster scope): the API server's escalation check (validation.ConfirmNoEscalation
        compares the rules being granted with the requester's rules there, `validation.Covers`)."""
        owners = [g.rule.as_dict() for g in self.policy.grants_for(identity, namespace)]
        return uncovered(owners, [r.as_dict() for r in rules])

    # -- the defaults every cluster allows -------------------------------------------------------
    def public(self, req: Request) -> bool:
        """Whether the release's default policy lets unauthenticated callers make the request
        (system:public-info-viewer: `get` of /healthz, /livez, /readyz, /version)."""
        hit = self.public_cache.get(req)
        if hit is None:
            hit = bool(self.defaults.authorize(_ANONYMOUS, req))
            if len(self.public_cache) >= PUBLIC_CACHE:
                self.public_cache.clear()
            self.public_cache[req] = hit
        return hit


def rbac_request(verb: str, resource: str, namespace: str, name: str) -> Request:
    """An authorization request on an RBAC resource (`bind` on a clusterrole, ...)."""
    return Request(verb, RBAC_GROUP, resource, "", namespace, name)
