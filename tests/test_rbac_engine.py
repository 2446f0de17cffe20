"""The RBAC engine (kubefort.kube.rbac) on hand-made RBAC sets: every authorizer rule, and the tricky cases."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kubefort.kube.pods import type_name
from kubefort.kube.rbac import (
    Identity,
    Policy,
    Request,
    Rule,
    Subject,
    identity_of,
    parse_subject,
    resolve_resource,
)
from kubefort.kube.selectors import selector_matches
from kubefort.model import Resource, ResourceId, Source, format_path


def resources(text: str) -> list[Resource]:
    out = []
    for i, obj in enumerate(o for o in yaml.safe_load_all(text) if o):
        meta = obj.get("metadata") or {}
        out.append(
            Resource(
                ResourceId(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]),
                obj,
                Source("t.yaml", i),
            )
        )
    return out


def policy(text: str, bootstrap: bool = False) -> Policy:
    return Policy(resources(text), bootstrap=bootstrap)


def can(
    p: Policy,
    who: str,
    verb: str,
    resource: str = "",
    ns: str = "",
    name: str = "",
    path: str | None = None,
    groups: tuple[str, ...] = (),
) -> bool:
    spec = resolve_resource(resource) if resource else None
    req = Request(verb, spec.group, spec.resource, spec.subresource, ns, name) if spec else Request(verb, path=path)
    return bool(p.authorize(identity_of(parse_subject(who), groups), req))


def role(kind: str, name: str, rules: str, ns: str | None = None, labels: str = "", extra: str = "") -> str:
    meta = f"{{name: {name}" + (f", namespace: {ns}" if ns else "") + (f", labels: {labels}" if labels else "") + "}"
    return f"apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {meta}\nrules: {rules}\n{extra}---\n"


def binding(kind: str, name: str, role_kind: str, role_name: str, subjects: str, ns: str | None = None) -> str:
    meta = f"{{name: {name}" + (f", namespace: {ns}" if ns else "") + "}"
    return (
        f"apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\nmetadata: {meta}\n"
        f"roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: {role_name}}}\nsubjects: {subjects}\n---\n"
    )


SECRET_READER = role(
    "ClusterRole", "secret-reader", '[{apiGroups: [""], resources: [secrets], verbs: [get, list, watch]}]'
)


# ---------------------------------------------------------------------------------------------
# scope of bindings
# ---------------------------------------------------------------------------------------------
def test_rolebinding_to_clusterrole_grants_only_in_its_namespace():
    p = policy(
        SECRET_READER
        + binding("RoleBinding", "rb", "ClusterRole", "secret-reader", "[{kind: User, name: alice}]", ns="shop")
    )
    assert can(p, "User:alice", "get", "secrets", ns="shop")
    assert not can(p, "User:alice", "get", "secrets", ns="billing")
    assert not can(p, "User:alice", "list", "secrets", ns="")  # all namespaces: ClusterRoleBindings only
    assert not can(p, "User:bob", "get", "secrets", ns="shop")


def test_clusterrolebinding_grants_everywhere_and_at_cluster_scope():
    p = policy(
        SECRET_READER
        + binding("ClusterRoleBinding", "crb", "ClusterRole", "secret-reader", "[{kind: Group, name: auditors}]")
    )
    for ns in ("shop", "kube-system", ""):
        assert can(p, "Group:auditors", "list", "secrets", ns=ns)
    assert not can(p, "Group:auditors", "delete", "secrets", ns="shop")


def test_rolebinding_resolves_role_in_its_own_namespace_only():
    text = role("Role", "reader", '[{apiGroups: [""], resources: [pods], verbs: [get]}]', ns="other") + binding(
        "RoleBinding", "rb", "Role", "reader", "[{kind: User, name: alice}]", ns="shop"
    )
    p = policy(text)
    assert not can(p, "User:alice", "get", "pods", ns="shop")
    assert not can(p, "User:alice", "get", "pods", ns="other")
    b = next(b for b in p.bindings if b.name == "rb")
    assert p.role_of(b) is None


def test_missing_namespace_defaults_to_default():
    text = role("Role", "reader", '[{apiGroups: [""], resources: [pods], verbs: [get]}]') + binding(
        "RoleBinding", "rb", "Role", "reader", "[{kind: ServiceAccount, name: app}]"
    )
    p = policy(text)
    assert can(p, "ServiceAccount:default:app", "get", "pods", ns="default")
    assert not can(p, "ServiceAccount:shop:app", "get", "pods", ns="default")


# ---------------------------------------------------------------------------------------------
# rule matching
# ---------------------------------------------------------------------------------------------
def test_rule_matching_wildcards_subresources_and_names():
    r = Rule(("get",), ("",), ("pods",))
    assert (
        r.allows("get", "", "pods") and not r.allows("get", "", "pods", "exec") and not r.allows("get", "apps", "pods")
    )
    exec_ = Rule(("create",), ("",), ("pods/exec",))
    assert exec_.allows("create", "", "pods", "exec") and not exec_.allows("create", "", "pods")
    star = Rule(("*",), ("*",), ("*",))
    assert star.allows("escalate", "rbac.authorization.k8s.io", "clusterroles") and star.allows(
        "create", "", "pods", "exec"
    )
    scale = Rule(("update",), ("*",), ("*/scale",))
    assert scale.allows("update", "apps", "deployments", "scale") and scale.allows(
        "update", "", "replicationcontrollers", "scale"
    )
    assert not scale.allows("update", "apps", "deployments") and not scale.allows(
        "update", "apps", "deployments", "status"
    )
    # there is no "pods/*" pattern in the authorizer
    assert not Rule(("create",), ("",), ("pods/*",)).allows("create", "", "pods", "exec")
    named = Rule(("get", "update"), ("",), ("configmaps",), ("app-config",))
    assert named.allows("get", "", "configmaps", "", "app-config")
    assert not named.allows("get", "", "configmaps", "", "other") and not named.allows("get", "", "configmaps")
    assert named.covers("get", "", "configmaps")
    # verbs and groups compare exactly
    assert not Rule(("GET",), ("",), ("pods",)).allows("get", "", "pods")
    assert not Rule(("get",), (), ("pods",)).allows("get", "", "pods")  # no apiGroups: nothing


def test_non_resource_urls():
    r = Rule(("get",), non_resource_urls=("/healthz/*", "/metrics", "/logs*"))
    assert (
        r.allows_url("get", "/healthz/etcd") and r.allows_url("get", "/metrics") and r.allows_url("get", "/logs/kube")
    )
    assert (
        r.allows_url("get", "/logs")
        and not r.allows_url("get", "/healthz")
        and not r.allows_url("get", "/metrics/slis")
    )
    assert not r.allows_url("post", "/metrics") and Rule(("*",), non_resource_urls=("*",)).allows_url(
        "delete", "/anything"
    )
    text = (
        role("ClusterRole", "metrics", '[{nonResourceURLs: ["/metrics"], verbs: [get]}]')
        + binding("ClusterRoleBinding", "crb", "ClusterRole", "metrics", "[{kind: User, name: prom}]")
        + binding("RoleBinding", "rb", "ClusterRole", "metrics", "[{kind: User, name: ns-prom}]", ns="mon")
    )
    p = policy(text)
    assert can(p, "User:prom", "get", path="/metrics")
    assert not can(p, "User:ns-prom", "get", path="/metrics")  # RoleBindings never grant URLs
    assert set(p.who_can(Request("get", path="/metrics"), any_namespace=True)) == {Subject("User", "prom")}


def test_resource_names_in_policy():
    text = role(
        "Role",
        "cm",
        '[{apiGroups: [""], resources: [configmaps], resourceNames: [app], verbs: [get, update]}]',
        ns="shop",
    ) + binding("RoleBinding", "rb", "Role", "cm", "[{kind: User, name: alice}]", ns="shop")
    p = policy(text)
    assert can(p, "User:alice", "get", "configmaps", ns="shop", name="app")
    assert not can(p, "User:alice", "get", "configmaps", ns="shop", name="db")
    assert not can(p, "User:alice", "list", "configmaps", ns="shop")


# ---------------------------------------------------------------------------------------------
# subjects and identities
# ---------------------------------------------------------------------------------------------
def test_service_account_subjects_and_groups():
    text = (
        SECRET_READER
        + binding(
            "RoleBinding",
            "sa-default-ns",
            "ClusterRole",
            "secret-reader",
            "[{kind: ServiceAccount, name: app}]",
            ns="shop",
        )
        + binding(
            "ClusterRoleBinding", "sa-no-ns", "ClusterRole", "secret-reader", "[{kind: ServiceAccount, name: ghost}]"
        )
        + binding(
            "RoleBinding",
            "all-sa-in-ns",
            "ClusterRole",
            "secret-reader",
            "[{kind: Group, name: 'system:serviceaccounts:ci'}]",
            ns="ci",
        )
        + binding(
            "RoleBinding",
            "as-user",
            "ClusterRole",
            "secret-reader",
            "[{kind: User, name: 'system:serviceaccount:web:front'}]",
            ns="web",
        )
    )
    p = policy(text)
    assert can(p, "ServiceAccount:shop:app", "get", "secrets", ns="shop")
    assert not can(p, "ServiceAccount:other:app", "get", "secrets", ns="shop")
    assert not can(p, "ServiceAccount:default:ghost", "get", "secrets", ns="default")  # CRB SA without namespace
    assert can(p, "ServiceAccount:ci:runner", "get", "secrets", ns="ci")
    assert not can(p, "ServiceAccount:shop:runner", "get", "secrets", ns="ci")
    assert can(p, "ServiceAccount:web:front", "get", "secrets", ns="web")
    assert can(p, "User:system:serviceaccount:web:front", "get", "secrets", ns="web")


def test_broad_groups():
    text = (
        SECRET_READER
        + binding(
            "ClusterRoleBinding",
            "everyone",
            "ClusterRole",
            "secret-reader",
            "[{kind: Group, name: 'system:authenticated'}]",
        )
        + binding(
            "RoleBinding",
            "anon",
            "ClusterRole",
            "secret-reader",
            "[{kind: Group, name: 'system:unauthenticated'}]",
            ns="public",
        )
        + binding(
            "RoleBinding",
            "all-sa",
            "ClusterRole",
            "secret-reader",
            "[{kind: Group, name: 'system:serviceaccounts'}]",
            ns="sa-only",
        )
    )
    p = policy(text)
    assert can(p, "User:alice", "get", "secrets", ns="x") and can(p, "ServiceAccount:a:b", "get", "secrets", ns="x")
    assert can(p, "Group:devs", "get", "secrets", ns="x")
    assert not can(p, "User:system:anonymous", "get", "secrets", ns="x")
    assert can(p, "User:system:anonymous", "get", "secrets", ns="public")
    p2 = policy(
        SECRET_READER
        + binding(
            "RoleBinding",
            "all-sa",
            "ClusterRole",
            "secret-reader",
            "[{kind: Group, name: 'system:serviceaccounts'}]",
            ns="sa-only",
        )
    )
    assert can(p2, "ServiceAccount:a:b", "get", "secrets", ns="sa-only") and not can(
        p2, "User:alice", "get", "secrets", ns="sa-only"
    )
    assert can(p2, "User:alice", "get", "secrets", ns="sa-only", groups=("system:serviceaccounts",))


def test_parse_subject_and_identity():
    assert parse_subject("User:alice") == Subject("User", "alice")
    assert parse_subject("group:devs") == Subject("Group", "devs")
    assert parse_subject("ServiceAccount:shop:app") == Subject("ServiceAccount", "app", "shop")
    assert (
        parse_subject("sa:shop:app")
        == parse_subject("system:serviceaccount:shop:app")
        == Subject("ServiceAccount", "app", "shop")
    )
    assert parse_subject("User:oidc:alice@example.com") == Subject("User", "oidc:alice@example.com")
    for bad in ("alice", "Robot:x", "ServiceAccount:shop", "User:", "system:serviceaccount:shop"):
        with pytest.raises(ValueError):
            parse_subject(bad)
    sa = identity_of(Subject("ServiceAccount", "app", "shop"))
    assert sa == Identity(
        "system:serviceaccount:shop:app",
        frozenset({"system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"}),
    )
    assert identity_of(Subject("User", "system:anonymous")).groups == {"system:unauthenticated"}
    assert identity_of(Subject("Group", "devs")).groups == {"devs", "system:authenticated"}
    assert str(Subject("ServiceAccount", "app", "shop")) == "ServiceAccount:shop:app"


# ---------------------------------------------------------------------------------------------
# aggregation and bootstrap
# ---------------------------------------------------------------------------------------------
def test_aggregation_transitive_through_bootstrap_roles():
    text = role(
        "ClusterRole",
        "widgets-view",
        "[{apiGroups: [example.com], resources: [widgets], verbs: [get]}]",
        labels='{rbac.authorization.k8s.io/aggregate-to-view: "true"}',
    ) + binding("RoleBinding", "rb", "ClusterRole", "admin", "[{kind: User, name: alice}]", ns="shop")
    p = policy(text, bootstrap=True)
    assert can(p, "User:alice", "get", "widgets.example.com", ns="shop")  # view -> edit -> admin
    assert can(p, "User:alice", "create", "rolebindings.rbac.authorization.k8s.io", ns="shop")
    assert can(p, "User:alice", "create", "pods/exec", ns="shop") and not can(
        p, "User:alice", "create", "pods/exec", ns="x"
    )
    view = p.roles["ClusterRole/view"]
    assert any(r.origin == "ClusterRole/widgets-view" for r in view.rules)
    g = p.authorize(identity_of(Subject("User", "alice")), Request("get", "example.com", "widgets", namespace="shop"))[
        0
    ]
    assert g.role.key == "ClusterRole/admin" and g.rule.origin == "ClusterRole/widgets-view"
    assert "aggregated from ClusterRole/widgets-view rules[0]" in g.describe()


def test_aggregation_selectors_replace_own_rules_and_skip_self():
    text = (
        role(
            "ClusterRole",
            "agg",
            '[{apiGroups: [""], resources: [secrets], verbs: [get]}]',
            labels="{team: a}",
            extra="aggregationRule:\n  clusterRoleSelectors: [{matchExpressions: [{key: team, operator: In, values: [a, b]}]}]\n",
        )
        + role("ClusterRole", "b-role", '[{apiGroups: [""], resources: [pods], verbs: [list]}]', labels="{team: b}")
        + role("ClusterRole", "c-role", '[{apiGroups: [""], resources: [nodes], verbs: [list]}]', labels="{team: c}")
        + binding("ClusterRoleBinding", "crb", "ClusterRole", "agg", "[{kind: User, name: alice}]")
    )
    p = policy(text)
    assert can(p, "User:alice", "list", "pods")
    # its own rules hold only until the aggregation controller replaces them: granted, marked conditional
    own = p.authorize(identity_of(Subject("User", "alice")), Request("get", "", "secrets", namespace="x"))
    assert [(g.rule.origin, g.rule.conditional) for g in own] == [("ClusterRole/agg", True)]
    assert "granted if the rules are kept" in own[0].describe()
    assert not p.authorize(identity_of(Subject("User", "alice")), Request("list", "", "pods"))[0].rule.conditional
    assert not can(p, "User:alice", "list", "nodes")


def test_selector_semantics():
    assert selector_matches({}, {"a": "1"})
    assert selector_matches({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}) and not selector_matches(
        {"matchLabels": {"a": "1"}}, {"a": "2"}
    )
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {})
    assert selector_matches({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""})
    assert not selector_matches({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""})


def test_bootstrap_defaults_and_override():
    p = Policy(bootstrap=True)
    assert not p.problems and all(p.role_of(b) is not None for b in p.bindings)
    assert can(p, "Group:system:masters", "escalate", "clusterroles", ns="")
    assert can(p, "User:alice", "get", path="/version") and can(p, "User:system:anonymous", "get", path="/healthz")
    assert not can(p, "User:system:anonymous", "get", path="/apis")
    assert can(p, "User:alice", "create", "selfsubjectaccessreviews")
    assert can(p, "ServiceAccount:a:b", "get", path="/openid/v1/jwks")
    assert not can(p, "User:alice", "get", "pods", ns="default")
    assert not Policy(bootstrap=False).bindings
    # an input object of a default's name is reconciled with it, as the API server does at every
    # start: the default rules it lacks come back ...
    p2 = policy(role("ClusterRole", "system:discovery", "[]"), bootstrap=True)
    assert can(p2, "User:alice", "get", path="/version") and can(p2, "User:alice", "get", path="/apis")
    # ... unless it opts out of reconciliation
    p3 = policy(
        role(
            "ClusterRole",
            "system:discovery",
            "[]",
            extra="metadata: {name: system:discovery, annotations: {rbac.authorization.kubernetes.io/autoupdate: 'false'}}\n",
        ),
        bootstrap=True,
    )
    assert can(p3, "User:alice", "get", path="/version")  # still granted by system:public-info-viewer
    assert not can(p3, "User:alice", "get", path="/apis")


# ---------------------------------------------------------------------------------------------
# who-can, problems, workloads, resource names
# ---------------------------------------------------------------------------------------------
def test_who_can_scopes():
    text = (
        SECRET_READER
        + binding(
            "RoleBinding",
            "rb",
            "ClusterRole",
            "secret-reader",
            "[{kind: User, name: alice}, {kind: ServiceAccount, name: app}]",
            ns="shop",
        )
        + binding("ClusterRoleBinding", "crb", "ClusterRole", "secret-reader", "[{kind: Group, name: auditors}]")
    )
    p = policy(text)
    req = Request("get", "", "secrets", namespace="shop")
    got = p.who_can(req)
    assert set(got) == {
        Subject("User", "alice"),
        Subject("ServiceAccount", "app", "shop"),
        Subject("Group", "auditors"),
    }
    assert [g.binding.key for g in got[Subject("User", "alice")]] == ["RoleBinding/shop/rb"]
    assert set(p.who_can(Request("get", "", "secrets", namespace="billing"))) == {Subject("Group", "auditors")}
    assert set(p.who_can(Request("get", "", "secrets", namespace="billing"), any_namespace=True)) == set(got)
    assert set(p.who_can(Request("get", "", "secrets"))) == {Subject("Group", "auditors")}


def test_malformed_objects_become_problems():
    text = (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: bad}\nrules: [{verbs: get, resources: [pods]}]\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: badref}\nroleRef: {kind: Role, name: x}\nsubjects: []\n---\n"
        + role("ClusterRole", "badlabel", "[]", labels="{aggregate: true}")
    )
    p = policy(text)
    assert p.problems[("ClusterRole", None, "bad")].path == ("rules", 0, "verbs")
    assert p.problems[("ClusterRoleBinding", None, "badref")].path == ("roleRef", "kind")
    bad = p.problems[("ClusterRole", None, "badlabel")]
    assert (bad.reason, bad.path) == (
        "metadata.labels.aggregate is a boolean, expected a string",
        ("metadata", "labels", "aggregate"),
    )


def test_workloads_and_token_mounting():
    text = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: quiet, namespace: shop}
automountServiceAccountToken: false
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: default-sa, namespace: shop}
spec: {template: {spec: {containers: [{name: a, image: x}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: sa-says-no, namespace: shop}
spec: {serviceAccountName: quiet, containers: [{name: a, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-overrides, namespace: shop}
spec: {serviceAccountName: quiet, automountServiceAccountToken: true, containers: [{name: a, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: pod-says-no, namespace: shop}
spec: {serviceAccountName: builder, automountServiceAccountToken: false, containers: [{name: a, image: x}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: projected, namespace: shop}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          serviceAccountName: quiet
          automountServiceAccountToken: false
          volumes: [{name: t, projected: {sources: [{serviceAccountToken: {path: token}}]}}]
          containers: [{name: a, image: x}]
"""
    p = policy(text)
    got = {w.resource.id.name: (w.service_account, w.token_mounted) for w in p.workloads}
    assert got == {
        "default-sa": ("default", True),
        "sa-says-no": ("quiet", False),
        "pod-overrides": ("quiet", True),
        "pod-says-no": ("builder", False),
        "projected": ("quiet", True),
    }
    assert p.service_accounts_in("shop") == {"default", "quiet", "builder"}


def test_resolve_resource_names():
    assert str(resolve_resource("deploy")) == "deployments.apps"
    assert resolve_resource("deployments.apps/scale").subresource == "scale"
    assert resolve_resource("Deployment").resource == "deployments"
    assert resolve_resource("po").resource == "pods" and resolve_resource("pod").resource == "pods"
    assert resolve_resource("pods/exec") == resolve_resource("pods/exec")
    assert resolve_resource("pods/exec").group == "" and resolve_resource("pods/exec").namespaced is True
    assert resolve_resource("nodes").namespaced is False
    assert resolve_resource("events").group == ""
    assert resolve_resource("events.events.k8s.io").group == "events.k8s.io"
    assert resolve_resource("widgets.example.com").namespaced is None
    assert resolve_resource("*/scale").resource == "*"
    with pytest.raises(ValueError):
        resolve_resource("widgets")
    crd = resources("""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec: {group: example.com, scope: Cluster, names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}}
""")
    spec = resolve_resource("wd", crd)
    assert (spec.group, spec.resource, spec.namespaced) == ("example.com", "widgets", False)


# ---------------------------------------------------------------------------------------------
# null and wrong-typed fields, read as the API server decodes them (issue 12, item 19)
# ---------------------------------------------------------------------------------------------
AGG_KEYS = st.sampled_from(["team", "tier"])
nullable = st.sampled_from(["a", ""]) | st.none()
ANY_VALUE = st.integers() | st.booleans() | st.text(max_size=2) | st.just(["x"]) | st.just({"x": "y"})


def wrong(right: type) -> st.SearchStrategy[Any]:
    """JSON values of any type but `right`."""
    return ANY_VALUE.filter(lambda v: not isinstance(v, right))


def _obj(api_version: str, kind: str, name: str, ns: str | None = None, labels: Any = None, **body: Any) -> Resource:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {}), **({"labels": labels} if labels else {})}
    obj = {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}
    return Resource(ResourceId(api_version, kind, ns, name), obj, Source("t.yaml"))


def _cluster_role(name: str, labels: Any = None, **body: Any) -> Resource:
    return _obj("rbac.authorization.k8s.io/v1", "ClusterRole", name, labels=labels, **body)


def _aggregated(selectors: Any) -> Resource:
    return _cluster_role("agg", aggregationRule={"clusterRoleSelectors": selectors})


PODS_RULE = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}


def _blank(m: dict[str, str | None]) -> dict[str, str]:
    return {k: "" if v is None else v for k, v in m.items()}


@given(
    match=st.dictionaries(AGG_KEYS, nullable, max_size=2),
    labels=st.dictionaries(AGG_KEYS, nullable, max_size=2),
)
def test_null_match_labels_and_label_values_are_empty_strings(
    match: dict[str, str | None], labels: dict[str, str | None]
) -> None:
    """In a ClusterRole's labels and in an aggregation selector's matchLabels (map[string]string)
    a null value is "": the aggregated role gets the rules of a role exactly when it does with ""
    written, that is when every matchLabels pair is among the role's labels."""

    def aggregated(m: dict[str, Any], ls: dict[str, Any]) -> list[str]:
        p = Policy([_aggregated([{"matchLabels": m}]), _cluster_role("src", ls, rules=[PODS_RULE])], bootstrap=False)
        assert p.problems == {}
        return [r.origin for r in p.roles["ClusterRole/agg"].rules]

    got = aggregated(match, labels)
    assert got == aggregated(_blank(match), _blank(labels))
    m, ls = _blank(match), _blank(labels)
    assert got == (["ClusterRole/src"] if all(ls.get(k) == v for k, v in m.items()) else [])


def test_a_null_selector_item_is_the_empty_selector_matching_every_clusterrole() -> None:
    """A null item of clusterRoleSelectors decodes as a zero LabelSelector, which
    metav1.LabelSelectorAsSelector turns into "everything" (the aggregation controller's reading)."""
    p = Policy([_aggregated([None]), _cluster_role("src", {"x": "y"}, rules=[PODS_RULE])], bootstrap=False)
    assert [r.origin for r in p.roles["ClusterRole/agg"].rules] == ["ClusterRole/src"]


@pytest.mark.parametrize("rule", [{}, {"clusterRoleSelectors": None}, {"clusterRoleSelectors": []}])
def test_an_aggregation_rule_without_selectors_is_refused(rule: dict[str, Any]) -> None:
    """ValidateClusterRole: "at least one clusterRoleSelector required if aggregationRule is non-nil"
    (absent, null and [] are the same empty list); `aggregationRule: null` is no aggregation."""
    p = Policy([_cluster_role("agg", aggregationRule=rule, rules=[PODS_RULE])], bootstrap=False)
    bad = p.problems[("ClusterRole", None, "agg")]
    assert (bad.reason, bad.path) == (
        "aggregationRule.clusterRoleSelectors holds no selector: an aggregationRule needs at least one; the API "
        "server rejects the ClusterRole",
        ("aggregationRule", "clusterRoleSelectors"),
    )
    p = Policy([_cluster_role("agg", aggregationRule=None, rules=[PODS_RULE])], bootstrap=False)
    assert p.problems == {} and p.roles["ClusterRole/agg"].selectors is None


# where in aggregationRule a wrong type goes: (the type the field takes, the path reported)
SELS = ("aggregationRule", "clusterRoleSelectors")
AGG_FIELDS: dict[str, tuple[type, tuple[str | int, ...]]] = {
    "rule": (dict, ("aggregationRule",)),
    "selectors": (list, SELS),
    "item": (dict, (*SELS, 0)),
    "matchLabels": (dict, (*SELS, 0, "matchLabels")),
    "value": (str, (*SELS, 0, "matchLabels")),
}


@given(data=st.data(), where=st.sampled_from(sorted(AGG_FIELDS)))
def test_wrong_typed_aggregation_fields_are_refused_with_their_path(data: st.DataObject, where: str) -> None:
    """A value of another JSON type anywhere in aggregationRule makes the ClusterRole a problem
    (not evaluated) naming the field, never an aggregation read from a guess."""
    right, path = AGG_FIELDS[where]
    value = data.draw(wrong(right))
    rule = {
        "rule": value,
        "selectors": {"clusterRoleSelectors": value},
        "item": {"clusterRoleSelectors": [value]},
        "matchLabels": {"clusterRoleSelectors": [{"matchLabels": value}]},
        "value": {"clusterRoleSelectors": [{"matchLabels": {"team": value}}]},
    }[where]
    p = Policy([_cluster_role("agg", rules=[PODS_RULE], aggregationRule=rule)], bootstrap=False)
    assert p.problems[("ClusterRole", None, "agg")].path == path
    assert "ClusterRole/agg" not in p.roles


@given(value=nullable)
def test_null_role_label_values_are_empty_strings(value: str | None) -> None:
    p = Policy([_cluster_role("r", {"team": value}, rules=[PODS_RULE])], bootstrap=False)
    assert p.roles["ClusterRole/r"].labels == {"team": value or ""}


# workloads: the pods' ServiceAccounts and whether their tokens are mounted
def _pod(name: str, **spec: Any) -> Resource:
    return _obj("v1", "Pod", name, "shop", spec={"containers": [{"name": "a", "image": "x"}], **spec})


def _account(name: str, **body: Any) -> Resource:
    return _obj("v1", "ServiceAccount", name, "shop", **body)


TOKEN_VOLUME = {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}
# (pod spec fields with WRONG_AT where a wrong type goes, the type the field takes, its path)
WRONG_AT = object()
WORKLOAD_FIELDS = [
    ({"serviceAccountName": WRONG_AT}, str, ("spec", "serviceAccountName")),
    ({"serviceAccount": WRONG_AT}, str, ("spec", "serviceAccount")),
    ({"automountServiceAccountToken": WRONG_AT}, bool, ("spec", "automountServiceAccountToken")),
    ({"volumes": WRONG_AT}, list, ("spec", "volumes")),
    ({"volumes": [WRONG_AT]}, dict, ("spec", "volumes", 0)),
    ({"volumes": [{"name": "t", "projected": WRONG_AT}]}, dict, ("spec", "volumes", 0, "projected")),
    (
        {"volumes": [{"name": "t", "projected": {"sources": WRONG_AT}}]},
        list,
        ("spec", "volumes", 0, "projected", "sources"),
    ),
    (
        {"volumes": [{"name": "t", "projected": {"sources": [WRONG_AT]}}]},
        dict,
        ("spec", "volumes", 0, "projected", "sources", 0),
    ),
    (
        {"volumes": [{"name": "t", "projected": {"sources": [{"serviceAccountToken": WRONG_AT}]}}]},
        dict,
        ("spec", "volumes", 0, "projected", "sources", 0, "serviceAccountToken"),
    ),
]


def _put(v: Any, value: Any) -> Any:
    """`v` with `value` in place of WRONG_AT."""
    if v is WRONG_AT:
        return value
    if isinstance(v, dict):
        return {k: _put(x, value) for k, x in v.items()}
    if isinstance(v, list):
        return [_put(x, value) for x in v]
    return v


@given(data=st.data(), case=st.sampled_from(WORKLOAD_FIELDS))
def test_wrong_typed_pod_fields_leave_the_workload_unknown(
    data: st.DataObject, case: tuple[dict[str, Any], type, tuple[str | int, ...]]
) -> None:
    """A pod spec field of a type the API server rejects: the object is in no workload list and
    `workload_problem` names the field, so KF-RBAC-019 reports it not evaluated rather than
    judging the pod under a guessed ServiceAccount or token mount."""
    fields, right, path = case
    pod = _pod("p", **_put(fields, data.draw(wrong(right))))
    p = Policy([_account("default"), pod], bootstrap=False)
    assert p.workloads == [] and p.workloads_of(pod) == []
    bad = p.workload_problem(pod)
    assert bad is not None and bad.path == path and bad.reason.startswith(f"{format_path(path)} is ")


@given(
    name=st.sampled_from(["serviceAccountName", "serviceAccount", "automountServiceAccountToken", "volumes"]),
    account=st.sampled_from([{}, {"automountServiceAccountToken": None}, {"automountServiceAccountToken": False}]),
)
def test_null_pod_fields_are_absent_ones(name: str, account: dict[str, Any]) -> None:
    """A null serviceAccountName, serviceAccount, automountServiceAccountToken or volumes is the field left out."""
    with_null, without = _pod("p", **{name: None}), _pod("p")
    read = [
        [
            (w.service_account, w.token_mounted)
            for w in Policy([_account("default", **account), pod], bootstrap=False).workloads
        ]
        for pod in (with_null, without)
    ]
    assert read[0] == read[1] == [("default", account.get("automountServiceAccountToken") is not False)]


@given(value=wrong(bool))
def test_a_wrong_typed_account_automount_leaves_its_pods_unknown(value: Any) -> None:
    """The ServiceAccount decides whether the token is mounted (the pod does not say): a value the
    API server rejects there makes the pod not evaluated, the account named; a pod that decides
    itself, or mounts a projected token, does not depend on it."""
    account = _account("odd", automountServiceAccountToken=value)
    asks, says, projects = (
        _pod("asks", serviceAccountName="odd"),
        _pod("says", serviceAccountName="odd", automountServiceAccountToken=False),
        _pod("projects", serviceAccountName="odd", volumes=[TOKEN_VOLUME]),
    )
    p = Policy([account, asks, says, projects], bootstrap=False)
    bad = p.workload_problem(asks)
    assert bad is not None and bad.reason == (
        f"cannot tell whether the token is mounted: ServiceAccount shop/odd: automountServiceAccountToken is "
        f"{type_name(value)} ({value!r}), expected a boolean; the API server rejects it"
    )
    assert [(w.resource.id.name, w.token_mounted) for w in p.workloads] == [("says", False), ("projects", True)]


@given(order=st.permutations(range(4)), automount=st.sampled_from([None, True, False]))
def test_workloads_read_their_account_wherever_it_is_in_the_input(order: list[int], automount: bool | None) -> None:
    """A pod's token mount defaults to its ServiceAccount's setting whether the account comes
    before or after the pod in the input (one `kubectl apply` creates them all)."""
    objs = [
        _account("sa", **({} if automount is None else {"automountServiceAccountToken": automount})),
        _pod("asks", serviceAccountName="sa"),
        _pod("says", serviceAccountName="sa", automountServiceAccountToken=True),
        _pod("projects", serviceAccountName="sa", automountServiceAccountToken=False, volumes=[TOKEN_VOLUME]),
    ]
    p = Policy([objs[i] for i in order], bootstrap=False)
    got = {w.resource.id.name: w.token_mounted for w in p.workloads}
    assert got == {"asks": automount is not False, "says": True, "projects": True}
