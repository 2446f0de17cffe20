"""The `Policy`: every role, binding, ServiceAccount and workload of a set of Resources, indexed
for the authorizer's questions (authorize, who can, grants of an identity)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from kubefort.kube.pods import Fields, api_group, find_pods, need, type_name
from kubefort.kube.rbac import builtin
from kubefort.kube.rbac.model import (
    LEGACY_TOKEN_TYPE,
    RBAC_GROUP,
    RBAC_KINDS,
    ROLE_KINDS,
    Binding,
    Grant,
    Identity,
    Request,
    Role,
    Rule,
    Subject,
    Workload,
)
from kubefort.kube.rbac.parse import (
    aggregation_selectors,
    bootstrap_resources,
    get_path,
    labels_of,
    parse_rules,
    string_field,
)
from kubefort.kube.rbac.reconcile import reconcile_binding, reconcile_role
from kubefort.model import NotEvaluated, Path_, Resource, format_path


def cluster_version(resources: Iterable[Resource]) -> str | None:
    """The API server's gitVersion from the one ClusterInfo (live scan, snapshot) among the resources."""
    found = {
        v.get("gitVersion")
        for r in resources
        if r.id.kind == "ClusterInfo" and isinstance(v := r.obj.get("serverVersion"), dict)
    }
    found.discard(None)
    return str(found.pop()) if len(found) == 1 else None


class Policy:
    """Every role, binding, ServiceAccount and workload of a set of Resources, with the authorizer's
    semantics. Objects that do not type-check are kept out and listed in `problems` (roles and
    bindings) or `workload_problems` (pod-bearing objects, `workload_problem`)."""

    def __init__(
        self,
        resources: Iterable[Resource] = (),
        *,
        bootstrap: bool = True,
        default_namespace: str = "default",
        kubernetes_version: str | None = None,
    ) -> None:
        """`kubernetes_version` (1.N) chooses the release whose default policy and resource table
        apply; without it, the API server's version from a ClusterInfo among the resources, else
        the newest shipped (`version`, `version_reason`). ValueError for a release kubefort does
        not ship."""
        self.default_namespace = default_namespace
        self.include_bootstrap = bootstrap
        self.roles: dict[str, Role] = {}
        self.bindings: list[Binding] = []
        self.problems: dict[tuple[str, str | None, str], NotEvaluated] = {}
        self.service_accounts: dict[tuple[str, str], Resource] = {}
        self.workloads: list[Workload] = []
        # id(object) -> why its pods are unknown (a field of a type the API server rejects)
        self.workload_problems: dict[int, NotEvaluated] = {}
        self.token_secrets: dict[tuple[str, str], list[str]] = {}  # (ns, sa) -> legacy token Secret names
        self.namespace_labels: dict[str, dict[str, Any]] = {}
        self.crds: list[Resource] = []
        self.cache: dict[Any, Any] = {}  # for consumers (checks, path finding): results derived from this policy
        res_list = list(resources)
        self.cluster_version = cluster_version(res_list)
        self.version, self.version_reason = builtin.pick_version(kubernetes_version, self.cluster_version)
        defaults: dict[tuple[str, str | None, str], Resource] = {}
        if bootstrap:
            for r in bootstrap_resources(self.version):
                defaults[(r.id.kind, r.id.namespace, r.id.name)] = r
        rbac = dict(defaults)
        others = []
        for r in res_list:
            if r.id.kind in RBAC_KINDS and api_group(r.id.api_version) == RBAC_GROUP:
                ns = None if r.id.kind.startswith("Cluster") else self.ns(r)
                rbac[(r.id.kind, ns, r.id.name)] = r
            else:
                others.append(r)
        for key, r in rbac.items():
            d = defaults.get(key)
            try:
                self._add_rbac(key, r, d)
            except NotEvaluated as exc:
                self.problems[key] = exc
                if d is not None and d is not r:  # the API server would refuse it and keep its default
                    self._add_rbac(key, d, d)
        self._aggregate()
        pod_bearing = [r for r in others if not self._add_other(r)]
        for r in pod_bearing:  # after every ServiceAccount: a pod's token mount may default to its account's
            self._add_workloads(r)
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

    def _add_rbac(self, key: tuple[str, str | None, str], r: Resource, default: Resource | None) -> None:
        if key[0] in ROLE_KINDS:
            role = self._parse_role(r, key[1], default)
            self.roles[role.key] = role
        else:
            self.bindings.append(self._parse_binding(r, key[1], default))

    def _parse_role(self, r: Resource, ns: str | None, default: Resource | None = None) -> Role:
        """A role as the cluster holds it: reconciled with the release's default of its name."""
        key = f"Role/{ns}/{r.id.name}" if r.id.kind == "Role" else f"ClusterRole/{r.id.name}"
        view, defaults = r, frozenset[int]()
        if default is not None and default is not r:
            labels_of(r), parse_rules(r, key)  # as written: the API server refuses what does not type-check
            if r.id.kind == "ClusterRole":
                aggregation_selectors(r)
            rec = reconcile_role(r.obj, default.obj)
            view, defaults = Resource(r.id, rec.obj, r.source), rec.default_rules
        role = Role(r.id.kind, ns, r.id.name, [], labels_of(view), None, r, default is r, default is not None)
        rules = parse_rules(view, key, default=default is r)  # kubefort's copy of a default: all default
        if defaults:
            rules = [dataclasses.replace(x, default=True) if x.index in defaults else x for x in rules]
        role.rules = rules
        if r.id.kind == "ClusterRole":
            role.selectors = aggregation_selectors(view)
        return role

    def _parse_binding(self, r: Resource, ns: str | None, default: Resource | None = None) -> Binding:
        """A binding as the cluster holds it: reconciled with the release's default of its name."""
        b = self._read_binding(r, ns)
        if default is None:
            return b
        if default is r:
            b.builtin, b.default, b.default_subjects = True, True, frozenset(b.subjects)
            return b
        rec = reconcile_binding(r.obj, default.obj)
        d = self._read_binding(default, ns)
        b = self._read_binding(Resource(r.id, rec.obj, r.source), ns) if not rec.protected else b
        b.resource, b.default, b.default_subjects = r, True, frozenset(d.subjects)
        return b

    def _read_binding(self, r: Resource, ns: str | None) -> Binding:
        ref = get_path(r.obj, ("roleRef",))
        if not isinstance(ref, dict):
            raise NotEvaluated(f"roleRef is {type_name(ref)}, expected a mapping", ("roleRef",))
        kind = string_field(ref.get("kind"), ("roleRef", "kind"))
        name = string_field(ref.get("name"), ("roleRef", "name"))
        if kind not in ROLE_KINDS or (kind == "Role" and ns is None):
            raise NotEvaluated(
                f"roleRef.kind {kind!r} is not valid in a {r.id.kind}; the API server rejects it", ("roleRef", "kind")
            )
        raw = get_path(r.obj, ("subjects",)) or []
        if not isinstance(raw, list):
            raise NotEvaluated(f"subjects is {type_name(raw)}, expected a list", ("subjects",))
        subjects = []
        for i, s in enumerate(raw):
            p: Path_ = ("subjects", i)
            if not isinstance(s, dict):
                raise NotEvaluated(f"{format_path(p)} is {type_name(s)}, expected a mapping", p)
            sk = string_field(s.get("kind"), p + ("kind",))
            sn = string_field(s.get("name"), p + ("name",))
            sns = string_field(s.get("namespace"), p + ("namespace",), required=False) or None
            # ServiceAccount subjects of a RoleBinding default to the binding's namespace
            sns = (sns or ns) if sk == "ServiceAccount" else None
            subjects.append(Subject(sk, sn, sns))
        return Binding(r.id.kind, ns, r.id.name, kind, name, tuple(subjects), r)

    def _aggregate(self) -> None:
        """Every aggregated ClusterRole's rules as the aggregation controller computes them: for
        each selector, the matching ClusterRoles (itself excepted) by name, their rules without
        repeats; to a fixed point, as the controller converges. Its own written rules that the
        union lacks stay, marked conditional: the controller replaces them whenever the union
        differs, but until it has (or where it does not run) they hold."""
        cluster_roles = sorted((r for r in self.roles.values() if r.kind == "ClusterRole"), key=lambda r: r.name)
        aggs = [r for r in cluster_roles if r.selectors is not None]
        for r in aggs:
            r.own_rules, r.rules = r.rules, []
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
                new += [
                    dataclasses.replace(rule, conditional=True)
                    for rule in agg.own_rules
                    if rule.content() not in seen and not seen.add(rule.content())  # type: ignore[func-returns-value]
                ]
                if [(x.content(), x.conditional) for x in new] != [(x.content(), x.conditional) for x in agg.rules]:
                    agg.rules = new
                    changed = True
            if not changed:
                break

    def _add_other(self, r: Resource) -> bool:
        """Index a ServiceAccount, Namespace, legacy token Secret or CRD; False for any other object."""
        kind, group = r.id.kind, api_group(r.id.api_version)
        if kind == "ServiceAccount" and group == "":
            self.service_accounts[(self.ns(r), r.id.name)] = r
        elif kind == "Namespace" and group == "":
            try:
                self.namespace_labels[r.id.name] = labels_of(r)
            except NotEvaluated:
                self.namespace_labels[r.id.name] = {}
        elif kind == "Secret" and group == "" and r.obj.get("type") == LEGACY_TOKEN_TYPE:
            sa = get_path(r.obj, ("metadata", "annotations", "kubernetes.io/service-account.name"))
            if isinstance(sa, str) and sa:
                self.token_secrets.setdefault((self.ns(r), sa), []).append(r.id.name)
        elif kind == "CustomResourceDefinition" and group == "apiextensions.k8s.io":
            self.crds.append(r)
        else:
            return False
        return True

    def _add_workloads(self, r: Resource) -> None:
        """The workloads of every pod spec of the object. A field the API server would reject (a
        wrong type in the pod spec or in its ServiceAccount) leaves them all unknown: the object is
        kept out of `workloads` and `workload_problem` says why, never judged on a guess."""
        ns = self.ns(r)
        try:
            found = [self._workload(r, ns, pod.spec) for pod in find_pods(r)]
        except NotEvaluated as exc:
            self.workload_problems[id(r)] = exc
            return
        self.workloads.extend(found)

    def _workload(self, r: Resource, ns: str, spec: Fields) -> Workload:
        # serviceAccount is the deprecated alias the API server copies into an empty serviceAccountName
        sa = spec.str("serviceAccountName") or spec.str("serviceAccount") or "default"
        return Workload(r, ns, sa, self._token_mounted(spec, ns, sa), spec.path)

    def _token_mounted(self, spec: Fields, ns: str, sa: str) -> bool:
        """A projected serviceAccountToken volume always mounts a token; otherwise the pod's
        automountServiceAccountToken, else its ServiceAccount's, else true."""
        for i, v in enumerate(spec.list("volumes")):
            vol = Fields(need(v, dict, "a volume mapping", spec.at("volumes", i)), spec.at("volumes", i))
            for j, s in enumerate(vol.list("projected", "sources")):
                at = vol.at("projected", "sources", j)
                source = Fields(need(s, dict, "a projection mapping", at), at)
                if source.get("serviceAccountToken") is not None:
                    source.mapping("serviceAccountToken")  # a wrong type raises: the API server rejects it
                    return True
        pod_value: bool | None = spec.bool("automountServiceAccountToken")
        if pod_value is not None:
            return pod_value
        return self.sa_automount(ns, sa) is not False

    def sa_automount(self, ns: str, sa: str) -> bool | None:
        """The ServiceAccount's automountServiceAccountToken (None: unset, or the account is not in
        the scan); NotEvaluated when it is not a boolean (the API server rejects the account)."""
        res = self.service_accounts.get((ns, sa))
        if res is None:
            return None
        try:
            return Fields(res.obj, ()).bool("automountServiceAccountToken")
        except NotEvaluated as exc:
            raise NotEvaluated(
                f"cannot tell whether the token is mounted: ServiceAccount {ns}/{sa}: {exc.reason}"
            ) from None

    # -- lookups -------------------------------------------------------------------------------
    def with_objects(self, resources: Iterable[Resource]) -> Policy:
        """This policy plus the ServiceAccounts, Namespaces, token Secrets, CRDs and pod-bearing
        objects of `resources` (their RBAC objects are ignored: the roles and bindings stay this
        policy's). A shallow copy: the roles, bindings and grants are shared, and so is `cache`,
        whose entries must therefore depend on roles and bindings only (KF-RBAC-019's risky grants
        per account do). Admission uses it to judge one object against the cluster's RBAC without
        building the policy again per review."""
        out = copy.copy(self)
        out.service_accounts = dict(self.service_accounts)
        out.namespace_labels = dict(self.namespace_labels)
        out.token_secrets = {k: list(v) for k, v in self.token_secrets.items()}
        out.crds = list(self.crds)
        out.workloads = list(self.workloads)
        out.workload_problems = dict(self.workload_problems)
        out._sa_names = None
        pod_bearing = []
        for r in resources:
            if r.id.kind in RBAC_KINDS and api_group(r.id.api_version) == RBAC_GROUP:
                continue
            if not out._add_other(r):
                pod_bearing.append(r)
        first = len(out.workloads)
        for r in pod_bearing:
            out._add_workloads(r)
        out._workloads_by_res = {k: list(v) for k, v in self._workloads_by_res.items()}
        for w in out.workloads[first:]:
            out._workloads_by_res.setdefault(id(w.resource), []).append(w)
        return out

    def workloads_of(self, res: Resource) -> list[Workload]:
        return list(self._workloads_by_res.get(id(res), ()))

    def workload_problem(self, res: Resource) -> NotEvaluated | None:
        """Why the pods of this very object are unknown (None: they are known, or it has none)."""
        return self.workload_problems.get(id(res))

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
