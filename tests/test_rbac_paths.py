"""Escalation paths (kubefort.kube.rbac_paths): every kind of hop, on hand-made RBAC sets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.kube.rbac import Policy, Subject
from kubefort.kube.rbac_paths import find_paths
from test_rbac_engine import binding, resources, role

ADMIN_SA = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: ops-bot, namespace: ops}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops-bot-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: ops-bot, namespace: ops}]
---
"""
RUNNING_BOT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: ops-bot, namespace: ops}
spec: {template: {spec: {serviceAccountName: ops-bot, containers: [{name: bot, image: "bot:1"}]}}}
---
"""


def paths(text: str, bootstrap: bool = True, **kw) -> dict[str, list[tuple[str, str]]]:
    """subject -> [(technique, destination)] of its shortest path."""
    found = find_paths(Policy(resources(text), bootstrap=bootstrap), **kw)
    return {str(p.subject): [(h.technique, str(h.dst)) for h in p.hops] for p in found}


def grant(name: str, rules: str, subject: str = "[{kind: User, name: mallory}]", ns: str | None = None) -> str:
    kind = "Role" if ns else "ClusterRole"
    return role(kind, name, rules, ns=ns) + binding(
        "RoleBinding" if ns else "ClusterRoleBinding", name, kind, name, subject, ns=ns
    )


def test_admins_and_harmless_subjects_are_not_reported():
    got = paths(ADMIN_SA + RUNNING_BOT + grant("viewer", '[{apiGroups: [""], resources: [pods], verbs: [get, list]}]'))
    assert got == {}


def test_impersonate_groups_reaches_system_masters():
    got = paths(grant("imp", '[{apiGroups: [""], resources: [groups], verbs: [impersonate]}]'))
    assert got["User:mallory"] == [("T1078", "Group:system:masters"), ("T1078", "cluster-admin")]


def test_impersonate_named_user_who_is_admin():
    text = grant(
        "imp", '[{apiGroups: [""], resources: [users], resourceNames: [root-user], verbs: [impersonate]}]'
    ) + binding("ClusterRoleBinding", "root", "ClusterRole", "cluster-admin", "[{kind: User, name: root-user}]")
    assert paths(text)["User:mallory"] == [("T1078", "User:root-user"), ("T1078", "cluster-admin")]
    text2 = text.replace("resourceNames: [root-user]", "resourceNames: [someone-else]")
    assert "User:mallory" not in paths(text2)


def test_token_request_into_kube_system_controller():
    got = paths(
        grant("tok", '[{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]', ns="kube-system")
    )
    hops = got["User:mallory"]
    assert hops[0] == ("T1528", "[any ServiceAccount of namespace kube-system]")
    assert (
        hops[-1] == ("T1098", "cluster-admin") and len(hops) == 3
    )  # e.g. clusterrole-aggregation-controller: escalate + patch
    assert "User:mallory" not in paths(
        grant("tok", '[{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]', ns="kube-system"),
        bootstrap=False,
    )


def test_legacy_token_secret_read():
    secret = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: ops-bot-token, namespace: ops, annotations: {kubernetes.io/service-account.name: ops-bot}}\n"
        "type: kubernetes.io/service-account-token\n---\n"
    )
    text = ADMIN_SA + secret + grant("reader", '[{apiGroups: [""], resources: [secrets], verbs: [list]}]', ns="ops")
    assert paths(text)["User:mallory"] == [
        ("T1552.007", "[Secrets of namespace ops]"),
        ("T1552.007", "ServiceAccount:ops:ops-bot"),
        ("T1078", "cluster-admin"),
    ]
    assert "User:mallory" not in paths(
        ADMIN_SA + grant("reader", '[{apiGroups: [""], resources: [secrets], verbs: [list]}]', ns="ops")
    )


def test_create_and_read_secrets_mints_a_legacy_token():
    text = ADMIN_SA + grant("minter", '[{apiGroups: [""], resources: [secrets], verbs: [create, get]}]', ns="ops")
    assert paths(text)["User:mallory"][0] == ("T1528", "[any ServiceAccount of namespace ops]")
    only_create = ADMIN_SA + grant("minter", '[{apiGroups: [""], resources: [secrets], verbs: [create]}]', ns="ops")
    assert "User:mallory" not in paths(only_create)


def test_exec_into_a_pod_with_a_mounted_admin_token():
    exec_rule = '[{apiGroups: [""], resources: [pods/exec], verbs: [create]}]'
    got = paths(ADMIN_SA + RUNNING_BOT + grant("exec", exec_rule, ns="ops"))
    assert got["User:mallory"] == [
        ("T1609", "[running pods of namespace ops]"),
        ("T1552.007", "ServiceAccount:ops:ops-bot"),
        ("T1078", "cluster-admin"),
    ]
    no_token = RUNNING_BOT.replace(
        "serviceAccountName: ops-bot,", "serviceAccountName: ops-bot, automountServiceAccountToken: false,"
    )
    assert "User:mallory" not in paths(ADMIN_SA + no_token + grant("exec", exec_rule, ns="ops"))
    assert "User:mallory" not in paths(ADMIN_SA + RUNNING_BOT + grant("exec", exec_rule, ns="other"))


def test_nodes_proxy_reaches_every_running_pod():
    got = paths(ADMIN_SA + RUNNING_BOT + grant("proxy", '[{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}]'))
    assert got["User:mallory"][0] == ("T1609", "[running pods of every namespace]")
    # through a RoleBinding nodes/proxy grants nothing
    assert "User:mallory" not in paths(
        ADMIN_SA + RUNNING_BOT + grant("proxy", '[{apiGroups: [""], resources: [nodes/proxy], verbs: [get]}]', ns="ops")
    )


def test_pod_creation_and_pod_security():
    pods = '[{apiGroups: [""], resources: [pods], verbs: [create]}]'
    got = paths(ADMIN_SA + RUNNING_BOT + grant("pods", pods, ns="web"))
    assert got["User:mallory"][:2] == [("T1610", "[a new pod in namespace web]"), ("T1611", "[root on a node]")]
    restricted = "apiVersion: v1\nkind: Namespace\nmetadata: {name: web, labels: {pod-security.kubernetes.io/enforce: restricted}}\n---\n"
    assert "User:mallory" not in paths(restricted + ADMIN_SA + RUNNING_BOT + grant("pods", pods, ns="web"))
    # ... unless it can create a hostPath PersistentVolume
    pv = grant("pv", '[{apiGroups: [""], resources: [persistentvolumes], verbs: [create]}]')
    assert paths(restricted + ADMIN_SA + RUNNING_BOT + grant("pods", pods, ns="web") + pv)["User:mallory"][0] == (
        "T1611",
        "[root on a node]",
    )
    # pods in the namespace of a powerful account: run a pod as that account
    assert paths(ADMIN_SA + grant("pods", pods, ns="ops"))["User:mallory"] == [
        ("T1610", "[a new pod in namespace ops]"),
        ("T1528", "ServiceAccount:ops:ops-bot"),
        ("T1078", "cluster-admin"),
    ]


def test_bind_and_escalate():
    bind_crb = grant(
        "binder",
        "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]},"
        " {apiGroups: [rbac.authorization.k8s.io], resources: [clusterrolebindings], verbs: [create]}]",
    )
    assert paths(bind_crb)["User:mallory"] == [("T1098", "cluster-admin")]
    named_other = bind_crb.replace("verbs: [bind]", "verbs: [bind], resourceNames: [view]")
    assert "User:mallory" not in paths(named_other)
    bind_rb = grant(
        "binder",
        "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]},"
        " {apiGroups: [rbac.authorization.k8s.io], resources: [rolebindings], verbs: [create]}]",
        ns="ops",
    )
    assert paths(ADMIN_SA + bind_rb)["User:mallory"][0] == ("T1098", "[admin of namespace ops]")
    escalate = grant(
        "self-editor", "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, patch]}]"
    )
    assert paths(escalate)["User:mallory"] == [("T1098", "cluster-admin")]
    no_escalate = grant(
        "self-editor", "[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [patch]}]"
    )
    assert "User:mallory" not in paths(no_escalate)


def test_csr_approval_issues_a_masters_certificate():
    rules = (
        "[{apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests], verbs: [create]},"
        " {apiGroups: [certificates.k8s.io], resources: [certificatesigningrequests/approval], verbs: [update]},"
        " {apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: [kubernetes.io/kube-apiserver-client], verbs: [approve]}]"
    )
    assert paths(grant("csr", rules))["User:mallory"] == [("T1649", "cluster-admin")]
    assert "User:mallory" not in paths(
        grant("csr", rules.replace("kubernetes.io/kube-apiserver-client", "example.com/internal"))
    )


def test_group_subjects_system_subjects_and_selection():
    rules = '[{apiGroups: [""], resources: [groups], verbs: [impersonate]}]'
    text = grant("imp", rules, subject="[{kind: Group, name: support}]") + binding(
        "ClusterRoleBinding", "sched", "ClusterRole", "imp", "[{kind: User, name: 'system:kube-scheduler'}]"
    )
    got = paths(text)
    assert "Group:support" in got and "User:system:kube-scheduler" not in got
    assert "User:system:kube-scheduler" in paths(text, include_system=True)
    only = find_paths(Policy(resources(text)), subjects=[Subject("Group", "support")])
    assert [str(p.subject) for p in only] == ["Group:support"]
    # every hop carries the grant that allows it
    assert only[0].hops[0].via[0].binding.key == "ClusterRoleBinding/imp"


# ---------------------------------------------------------------------------------------------
# evidence: each grant once per hop, whatever the rules share (issue 12 item 7)
# ---------------------------------------------------------------------------------------------
# (apiGroup, resource, verbs) pieces that hops combine: one rule may hold several, or each its own
_PIECES = (
    ("", "secrets", ("create", "get", "list")),
    ("rbac.authorization.k8s.io", "clusterroles", ("bind", "escalate", "update")),
    ("rbac.authorization.k8s.io", "clusterrolebindings", ("create",)),
    ("rbac.authorization.k8s.io", "rolebindings", ("create",)),
    ("", "persistentvolumes", ("create",)),
    ("", "pods", ("create",)),
    ("certificates.k8s.io", "certificatesigningrequests", ("create",)),
    ("certificates.k8s.io", "certificatesigningrequests/approval", ("update",)),
    ("certificates.k8s.io", "signers", ("approve",)),
)


@given(
    pieces=st.lists(st.sampled_from(range(len(_PIECES))), min_size=1, max_size=len(_PIECES), unique=True),
    split=st.integers(min_value=1, max_value=3),
    namespaced=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_each_grant_is_evidence_once_per_hop(pieces: list[int], split: int, namespaced: bool) -> None:
    import json

    chunks = [pieces[i::split] for i in range(split) if pieces[i::split]]
    rules = [
        {
            "apiGroups": sorted({_PIECES[i][0] for i in chunk}),
            "resources": sorted({_PIECES[i][1] for i in chunk}),
            "verbs": sorted({v for i in chunk for v in _PIECES[i][2]}),
        }
        for chunk in chunks
    ]
    text = ADMIN_SA + RUNNING_BOT + grant("mix", json.dumps(rules), ns="ops" if namespaced else None)
    found = find_paths(Policy(resources(text)))
    for p in found:
        for h in p.hops:
            assert len(h.via) == len(set(h.via)), h.text()
            lines = [g.describe() for g in h.via]
            assert len(lines) == len(set(lines)), lines
    # the class does produce hops whose permissions share a rule
    if split == 1 and {0} <= set(pieces):
        assert any(h.via for p in found for h in p.hops)


def test_cli_paths_lists_each_via_once(tmp_path) -> None:
    from click.testing import CliRunner

    from kubefort.cli.rbac import rbac

    f = tmp_path / "rbac.yaml"
    f.write_text(
        ADMIN_SA
        + grant(
            "rbac-manager",
            '[{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles, clusterrolebindings], verbs: ["*"]}]',
        )
        + grant(
            "secrets-rw",
            '[{apiGroups: [""], resources: [secrets], verbs: [create, get]}]',
            subject="[{kind: User, name: bob}]",
            ns="ops",
        )
    )
    out = CliRunner().invoke(rbac, ["paths", str(f)]).output
    via = [line.strip() for line in out.splitlines() if line.strip().startswith("via ")]
    assert via == [
        "via ClusterRoleBinding/rbac-manager -> ClusterRole/rbac-manager rules[0]: "
        "* clusterroles,clusterrolebindings in rbac.authorization.k8s.io",
        "via RoleBinding/ops/secrets-rw -> Role/ops/secrets-rw rules[0]: create,get secrets",
        "via ClusterRoleBinding/ops-bot-admin -> ClusterRole/cluster-admin rules[0]: * * in *",
    ]
