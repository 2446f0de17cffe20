"""KF-AUDIT-020: Secrets read, listed or watched by a principal that does not normally read them."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.audit.baseline import UsageBaseline
from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import allowed
from kubefort.checks.audit.windows import Principals, principal_groups
from kubefort.kube.rbac import builtin
from kubefort.kube.rbac.model import Request, sa_username
from kubefort.model import Severity, Violation
from kubefort.registry import Mappings, check

READ_VERBS = ("get", "list", "watch")
READ_ACTIONS = tuple(f"{v} secrets" for v in READ_VERBS)
# Kubelets read the Secrets of the pods bound to their node through the Node authorizer, not RBAC
# (plugin/pkg/auth/authorizer/node/node_authorizer.go: get, list and watch of a related Secret).
NODES_GROUP = "system:nodes"
_VERB_WORDS = {"get": "read", "list": "listed", "watch": "watched"}


@dataclass(frozen=True, slots=True)
class SecretReaderOptions:
    """expected_users: user names allowed to read Secrets, shell patterns allowed; service accounts
    are `system:serviceaccount:NAMESPACE:NAME` (`system:serviceaccount:vault:*`).
    expected_groups: groups whose members may read Secrets.
    default_readers: also expect the readers of a standard cluster (the bootstrap RBAC policy's
    Secret readers, and nodes).
    baseline_readers: also expect every principal the usage baseline saw reading Secrets."""

    expected_users: tuple[str, ...] = ()
    expected_groups: tuple[str, ...] = ()
    default_readers: bool = True
    baseline_readers: bool = True


@dataclass(frozen=True, slots=True)
class DefaultReaders:
    """Who the default RBAC policy lets read Secrets: user names and groups, each everywhere
    (None) or in the namespaces of the RoleBindings that grant it."""

    users: dict[str, frozenset[str] | None]
    groups: dict[str, frozenset[str] | None]

    def match(self, user: str, groups: tuple[str, ...], namespace: str) -> bool:
        if _admits(self.users.get(user, frozenset()), namespace):
            return True
        return any(_admits(self.groups.get(g, frozenset()), namespace) for g in groups)

    def names(self) -> list[str]:
        """`User:NAME` / `Group:NAME` (`in NS` when namespaced), for docs and tests."""
        out = [f"User:{u}" + _where(ns) for u, ns in self.users.items()]
        return sorted(out + [f"Group:{g}" + _where(ns) for g, ns in self.groups.items()])


def _admits(namespaces: frozenset[str] | None, namespace: str) -> bool:
    return namespaces is None or namespace in namespaces


def _where(ns: frozenset[str] | None) -> str:
    return "" if ns is None else f" (in {', '.join(sorted(ns))})"


def _widen(table: dict[str, frozenset[str] | None], key: str, namespace: str | None) -> None:
    current = table.get(key, frozenset())
    if current is not None:
        table[key] = None if namespace is None else current | {namespace}


@functools.cache
def default_readers(version: str) -> DefaultReaders:
    """The subjects the release's bootstrap RBAC policy allows to get, list or watch Secrets (a
    ClusterRoleBinding: everywhere; a RoleBinding: its namespace), and the nodes group."""
    from kubefort.kube.rbac.policy import Policy

    policy = Policy(kubernetes_version=version)
    users: dict[str, frozenset[str] | None] = {}
    groups: dict[str, frozenset[str] | None] = {NODES_GROUP: None}
    for verb in READ_VERBS:
        for subject, grants in policy.who_can(Request(verb, "", "secrets", namespace=""), any_namespace=True).items():
            for g in grants:
                ns = g.binding.namespace
                if subject.kind == "Group":
                    _widen(groups, subject.name, ns)
                elif subject.kind == "User":
                    _widen(users, subject.name, ns)
                elif subject.kind == "ServiceAccount" and subject.namespace:
                    _widen(users, sa_username(subject.namespace, subject.name), ns)
    return DefaultReaders(users, groups)


def cluster_version(ctx: AuditContext[Any]) -> str:
    """The release whose bootstrap policy applies: the RBAC service's, else the newest shipped."""
    v = getattr(ctx.services.rbac, "version", None)
    return v if isinstance(v, str) and v in builtin.shipped_versions() else builtin.latest()


def _expected(ctx: AuditContext[SecretReaderOptions]) -> Principals:
    p = ctx.scratch.get("expected")
    if not isinstance(p, Principals):
        p = ctx.scratch["expected"] = Principals(ctx.options.expected_users, ctx.options.expected_groups)
    return p


@check(
    id="KF-AUDIT-020",
    name="secret-read-by-unexpected-principal",
    title="A principal that does not normally read Secrets read, listed or watched them",
    verified="Secret read by an expected reader",
    severity=Severity.MEDIUM,
    target="audit",
    audit=AuditScope(verbs=frozenset(READ_VERBS), resources=frozenset({"secrets"}), stateful=True),
    options=SecretReaderOptions,
    mappings=Mappings(mitre=("T1552.007", "T1528"), owasp=("K08", "K03")),
    remediation="Find out why the principal read the Secret; if it should not, revoke the grant (kubefort rbac who-can get secrets) and rotate the Secret; if it should, add it to expected_users or expected_groups in .kubefort.yaml.",
)
def secret_read_by_unexpected_principal(ev: AuditEvent, ctx: AuditContext[SecretReaderOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed `get`, `list` or `watch` of Secrets (core group) by a principal (the
    impersonated user when the request impersonated one) that is not an expected Secret reader.
    Expected readers are, together:

    - the users and groups of the options `expected_users` (shell patterns; service accounts as
      `system:serviceaccount:NAMESPACE:NAME`) and `expected_groups`;
    - with `default_readers` (on by default), the readers of a standard cluster, taken from the
      bootstrap RBAC policy of the cluster's release (the RBAC service's version, else the newest
      release kubefort ships): the subjects a default ClusterRoleBinding allows to read Secrets
      anywhere, and those a default RoleBinding allows in its namespace. For the newest release
      they are the group `system:masters` (cluster-admin), the user
      `system:kube-controller-manager`, and the kube-system service accounts of the controllers
      that read Secrets (`generic-garbage-collector`, `namespace-controller`,
      `resourcequota-controller`, `storage-version-migrator-controller`, and `bootstrap-signer`
      and `token-cleaner` in kube-system only); plus the group `system:nodes`, as kubelets read
      the Secrets of their pods through the Node authorizer;
    - with `baseline_readers` (on by default) and a usage baseline loaded (`AuditServices.baseline`),
      every principal the baseline saw get, list or watch Secrets, and every read inside the
      baseline's learning window (it is being learned as normal).

    Refused reads are not findings here (bursts of refusals are KF-AUDIT-023).
    Falco k8saudit equivalent: *K8s Secret Get Successfully* (which fires for every reader).

    ## Why is this bad?
    Secrets hold the cluster's credentials: service-account tokens, registry and cloud keys,
    TLS keys. A workload or person that starts reading them, listing a whole namespace's
    Secrets in particular, is the typical step after a token is stolen (MITRE ATT&CK T1552.007,
    Unsecured Credentials: Container API; T1528, Steal Application Access Token).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": "list",
     "user": {"username": "system:serviceaccount:shop:web"},
     "objectRef": {"resource": "secrets", "namespace": "payments", "apiVersion": "v1"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    Ask who runs the principal why it read the Secret. If it should not have, remove the grant
    (`kubefort rbac who-can list secrets -n payments` names it) and rotate the Secrets it read.
    If it should, list it in `.kubefort.yaml`:

    ```yaml
    options:
      KF-AUDIT-020:
        expected_users: ["system:serviceaccount:external-secrets:*"]
        expected_groups: [platform-admins]
    ```

    ## References
    - Kubernetes: Good practices for Kubernetes Secrets (https://kubernetes.io/docs/concepts/security/secrets-good-practices/)
    - Kubernetes: Node authorization (https://kubernetes.io/docs/reference/access-authn-authz/node/)
    - MITRE ATT&CK T1552.007 (https://attack.mitre.org/techniques/T1552/007/)
    - Falco k8saudit rules (https://github.com/falcosecurity/plugins/tree/main/plugins/k8saudit/rules)
    """
    if not allowed(ev):
        return
    opts = ctx.options
    principal = ev.principal
    groups = principal_groups(ev)
    if _expected(ctx).match(principal, groups):
        return
    if opts.default_readers and default_readers(cluster_version(ctx)).match(principal, groups, ev.namespace):
        return
    baseline = ctx.services.baseline
    if (
        opts.baseline_readers
        and isinstance(baseline, UsageBaseline)
        and (baseline.learning(ev.time) or baseline.knows_any(principal, READ_ACTIONS))
    ):
        return
    what = _VERB_WORDS.get(ev.verb, ev.verb)
    if ev.name:
        target = f"Secret {ev.namespace}/{ev.name}" if ev.namespace else f"Secret {ev.name}"
    else:
        target = f"the Secrets of namespace {ev.namespace}" if ev.namespace else "the Secrets of every namespace"
    who = principal or "an unnamed user"
    via = f" (impersonated by {ev.user})" if ev.impersonated_user else ""
    yield Violation(f"{who}{via} {what} {target}; it is not an expected Secret reader")
