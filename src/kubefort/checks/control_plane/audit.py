"""KF-CP: auditing: the API server's audit log and policy flags (033..036, 056) and the audit Policy (057, 058)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.control_plane.common import API_REF, flags_set, int_at_least
from kubefort.checks.node_common import NODE_KINDS, node_meta, pod_example
from kubefort.kube.auditpolicy import LEVELS, AuditPolicy, AuditRequest, evaluate, parse_policy
from kubefort.model import CheckContext, NotApplicable, Path_, Resource, Severity, Violation
from kubefort.registry import check

AUDIT_LOG_REF = "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#log-backend"


@check(
    id="KF-CP-033",
    name="apiserver-audit-log-missing",
    title="API server writes no audit log",
    verified="API server writes an audit log",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --audit-log-path (and --audit-policy-file) so the API server records who did what.",
    **node_meta(
        cis=("1.2.16",),
        peers={"trivy": ("KCV-0019",), "checkov": ("CKV_K8S_91",), "kubescape": ("C-0130", "C-0067")},
        owasp=("K05",),
        what="Flags an API server without `--audit-log-path`.",
        why="Without an audit log there is no record of who read Secrets, exec'ed into pods or changed RBAC, so an incident cannot be investigated.",
        example=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
        fix=pod_example(
            "kube-apiserver",
            "--audit-log-path=/var/log/kubernetes/audit/audit.log",
            "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
        ),
        refs=(API_REF, "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/"),
    ),
)
def apiserver_audit_log_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "audit-log-path")


@check(
    id="KF-CP-034",
    name="apiserver-audit-log-maxage-low",
    title="API server keeps audit logs for less than 30 days",
    verified="API server keeps audit logs for 30 days or more",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --audit-log-maxage=30 or higher.",
    **node_meta(
        cis=("1.2.17",),
        peers={"trivy": ("KCV-0020",), "checkov": ("CKV_K8S_92",), "kubescape": ("C-0131",)},
        owasp=("K05",),
        what="Flags an API server whose `--audit-log-maxage` is absent or below 30.",
        why="Investigations often start weeks after the event; old audit files must still be there.",
        example=pod_example(
            "kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxage=15"
        ),
        fix=pod_example(
            "kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxage=30"
        ),
        refs=(API_REF, AUDIT_LOG_REF),
    ),
)
def apiserver_audit_log_maxage_low(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from int_at_least(res, "kube-apiserver", "audit-log-maxage", 30)


@check(
    id="KF-CP-035",
    name="apiserver-audit-log-maxbackup-low",
    title="API server keeps fewer than 10 rotated audit logs",
    verified="API server keeps 10 or more rotated audit logs",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --audit-log-maxbackup=10 or higher.",
    **node_meta(
        cis=("1.2.18",),
        peers={"trivy": ("KCV-0021",), "checkov": ("CKV_K8S_93",), "kubescape": ("C-0132",)},
        owasp=("K05",),
        what="Flags an API server whose `--audit-log-maxbackup` is absent or below 10.",
        why="Too few rotated files means a busy cluster overwrites the evidence within hours.",
        example=pod_example(
            "kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxbackup=5"
        ),
        fix=pod_example(
            "kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxbackup=10"
        ),
        refs=(API_REF, AUDIT_LOG_REF),
    ),
)
def apiserver_audit_log_maxbackup_low(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from int_at_least(res, "kube-apiserver", "audit-log-maxbackup", 10)


@check(
    id="KF-CP-036",
    name="apiserver-audit-log-maxsize-low",
    title="API server rotates audit logs below 100 MB",
    verified="API server rotates audit logs at 100 MB or more",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --audit-log-maxsize=100 or higher.",
    **node_meta(
        cis=("1.2.19",),
        peers={"trivy": ("KCV-0022",), "checkov": ("CKV_K8S_94",), "kubescape": ("C-0133",)},
        owasp=("K05",),
        what="Flags an API server whose `--audit-log-maxsize` is absent or below 100.",
        why="Small files rotate constantly; with a bounded backup count that shortens the history kept.",
        example=pod_example(
            "kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxsize=50"
        ),
        fix=pod_example(
            "kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log", "--audit-log-maxsize=100"
        ),
        refs=(API_REF, AUDIT_LOG_REF),
    ),
)
def apiserver_audit_log_maxsize_low(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from int_at_least(res, "kube-apiserver", "audit-log-maxsize", 100)


@check(
    id="KF-CP-056",
    name="apiserver-audit-policy-missing",
    title="API server loads no audit policy",
    verified="API server loads an audit policy",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --audit-policy-file to a policy that records at least the events listed in KF-CP-057.",
    **node_meta(
        cis=("3.2.1",),
        manual=True,
        peers={"kubescape": ("C-0160",)},
        owasp=("K05",),
        what="Flags an API server without `--audit-policy-file`: without a policy no audit event is recorded, whatever the backend.",
        why="Audit logs are the only record of who read Secrets, exec'ed into pods or changed RBAC.",
        example=pod_example("kube-apiserver", "--audit-log-path=/var/log/kubernetes/audit/audit.log"),
        fix=pod_example(
            "kube-apiserver",
            "--audit-log-path=/var/log/kubernetes/audit/audit.log",
            "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
        ),
        refs=(API_REF, "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy"),
    ),
)
def apiserver_audit_policy_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "audit-policy-file")


def audit_policy(res: Resource) -> AuditPolicy:
    """The audit Policy the object holds, as the API server loads it (kube/auditpolicy.py);
    NotEvaluated for one it refuses, NotApplicable for other objects."""
    if res.id.kind != "Policy" or not res.id.api_version.startswith("audit.k8s.io/"):
        raise NotApplicable()
    return parse_policy(res.obj)


RBAC = "rbac.authorization.k8s.io"
# what CIS 3.2.2 asks the policy to record, and what kubefort's audit detections (KF-AUDIT) read:
# reads and changes of Secrets, RBAC changes, interactive access, token minting, admission and
# certificate control, namespace deletion
KEY_EVENTS = (
    AuditRequest("reading Secrets", "get", "", "secrets"),
    AuditRequest("listing Secrets", "list", "", "secrets"),
    AuditRequest("watching Secrets", "watch", "", "secrets"),
    AuditRequest("changing Secrets", "patch", "", "secrets"),
    AuditRequest("exec into pods", "create", "", "pods", "exec"),
    AuditRequest("attaching to pods", "create", "", "pods", "attach"),
    AuditRequest("port-forwarding to pods", "create", "", "pods", "portforward"),
    AuditRequest("proxying to pods", "get", "", "pods", "proxy"),
    AuditRequest("proxying to services", "get", "", "services", "proxy"),
    AuditRequest("proxying to nodes (the kubelet API)", "get", "", "nodes", "proxy", namespace=""),
    AuditRequest("adding ephemeral containers", "patch", "", "pods", "ephemeralcontainers"),
    AuditRequest("creating pods", "create", "", "pods"),
    AuditRequest("changing Deployments", "patch", "apps", "deployments"),
    AuditRequest("binding cluster roles", "create", RBAC, "clusterrolebindings", namespace=""),
    AuditRequest("deleting cluster role bindings", "delete", RBAC, "clusterrolebindings", namespace=""),
    AuditRequest("binding roles", "create", RBAC, "rolebindings"),
    AuditRequest("changing roles", "update", RBAC, "roles"),
    AuditRequest("changing cluster roles", "patch", RBAC, "clusterroles", namespace=""),
    AuditRequest("requesting service-account tokens", "create", "", "serviceaccounts", "token"),
    AuditRequest(
        "changing admission webhooks",
        "update",
        "admissionregistration.k8s.io",
        "validatingwebhookconfigurations",
        namespace="",
    ),
    AuditRequest(
        "approving certificate requests",
        "update",
        "certificates.k8s.io",
        "certificatesigningrequests",
        "approval",
        namespace="",
    ),
    AuditRequest("deleting namespaces", "delete", "", "namespaces", name="default"),  # its namespace is its name
)
SENSITIVE = (
    (AuditRequest("creating Secrets", "create", "", "secrets"), 1),
    (AuditRequest("updating Secrets", "update", "", "secrets"), 1),
    (AuditRequest("patching Secrets", "patch", "", "secrets"), 1),
    (AuditRequest("reading Secrets", "get", "", "secrets"), 2),
    (AuditRequest("listing Secrets", "list", "", "secrets"), 2),
    (AuditRequest("updating ConfigMaps", "update", "", "configmaps"), 1),
    (AuditRequest("TokenReviews", "create", "authentication.k8s.io", "tokenreviews", namespace=""), 1),
    (AuditRequest("TokenRequests", "create", "", "serviceaccounts", "token"), 2),
)
_POLICY_EXAMPLE = "```yaml\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n```"
_POLICY_FIX = (
    "```yaml\napiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
    "- level: Metadata            # never bodies: they hold the secret values\n  resources:\n"
    '  - {group: "", resources: [secrets, configmaps, serviceaccounts/token]}\n'
    "  - {group: authentication.k8s.io, resources: [tokenreviews]}\n"
    '- level: RequestResponse\n  resources:\n  - {group: "", resources: [pods/exec, pods/attach, pods/portforward, pods/proxy, services/proxy]}\n'
    "  - {group: rbac.authorization.k8s.io}\n- level: Request\n  verbs: [create, update, patch, delete]\n"
    "- level: Metadata\n```"
)


@check(
    id="KF-CP-057",
    name="audit-policy-misses-key-events",
    title="Audit policy does not record key security events",
    verified="Audit policy records the key security events",
    severity=Severity.MEDIUM,
    target="object",
    kinds=("Policy",),
    remediation="Add rules that log at least Metadata for Secrets, pods/exec|attach|portforward|proxy|ephemeralcontainers, services/proxy, nodes/proxy, pod and Deployment changes, RBAC changes, token requests, admission webhook changes, certificate approvals and namespace deletion.",
    **node_meta(
        cis=("3.2.2",),
        manual=True,
        peers={"kubescape": ("C-0161",)},
        owasp=("K05",),
        what="Evaluates an audit `Policy` (`audit.k8s.io`, in `kubefort scan` input or the file named by `--audit-policy-file`) the "
        "way the API server does (first matching rule wins, no match means None) for the events CIS 3.2.2 lists, and flags "
        "the policy when any of them is not recorded: "
        + ", ".join(e.label for e in KEY_EVENTS)
        + ". The request is from an ordinary authenticated user in namespace `default`. A request is not recorded when no "
        "rule matches it, when the deciding rule's level is None, or when every stage it writes (RequestReceived, "
        "ResponseStarted for long-running requests such as watch and exec, ResponseComplete) is in `omitStages`. "
        "Besides CIS 3.2.2's list, the events kubefort's audit detections (KF-AUDIT) read must be there: listing and "
        "watching Secrets, RBAC changes, token requests, admission webhook changes, certificate approvals, ephemeral "
        "containers, kubelet API proxying and namespace deletion.",
        why="A policy that records nothing (or only some noise) gives an audit log in which the attack is missing.",
        example=_POLICY_EXAMPLE,
        fix=_POLICY_FIX,
        refs=("https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy",),
        extra="Authentication failures cannot be selected by a policy rule; they are logged by any rule that matches the request.",
    ),
)
def audit_policy_misses_key_events(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    policy = audit_policy(res)
    missing: list[tuple[str, Path_]] = []
    for ev in KEY_EVENTS:
        d = evaluate(policy, ev)
        if d.level == 0:
            missing.append((ev.label, d.path))
    if missing:
        yield Violation(f"the policy records nothing for: {', '.join(m for m, _ in missing)}", missing[0][1])


@check(
    id="KF-CP-058",
    name="audit-policy-logs-secret-payloads",
    title="Audit policy writes secret values into the audit log",
    verified="Audit policy keeps secret values out of the audit log",
    severity=Severity.HIGH,
    target="object",
    kinds=("Policy",),
    remediation="Log Secrets, ConfigMaps, TokenReviews and TokenRequests at Metadata level only, in a rule placed before broader Request/RequestResponse rules.",
    **node_meta(
        cis=("3.2.2",),
        manual=True,
        peers={},
        mitre=("T1552",),
        owasp=("K05", "K08"),
        what="Evaluates an audit `Policy` like KF-CP-057 and flags it when a request carrying a credential is logged with its body: "
        "creating, updating or patching Secrets, updating ConfigMaps, TokenReviews at `Request` or above, reading or listing Secrets or requesting tokens at `RequestResponse`.",
        why="The audit log is usually shipped to a log platform that many people can read: Secret values, service-account tokens "
        "and reviewed bearer tokens end up there in clear text.",
        example="```yaml\napiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse   # every body, Secrets included\n```",
        fix=_POLICY_FIX,
        refs=(
            "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/#audit-policy",
            "CIS Kubernetes Benchmark 3.2.2 (Metadata level for Secrets, ConfigMaps and TokenReviews)",
        ),
    ),
)
def audit_policy_logs_secret_payloads(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    policy = audit_policy(res)
    leaks: list[tuple[str, Path_]] = []
    for ev, limit in SENSITIVE:
        d = evaluate(policy, ev)
        if d.level > limit:
            leaks.append((f"{ev.label} at {LEVELS[d.level]}", d.path))
    if leaks:
        yield Violation(
            f"the policy logs request or response bodies for: {', '.join(x for x, _ in leaks)}", leaks[0][1]
        )
