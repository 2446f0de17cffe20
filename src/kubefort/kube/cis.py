"""The CIS Kubernetes Benchmark (sections 1-4) controls that need a person's judgement.

`kubefort node` never reports these as passed: it lists them (`--list-manual`, and `extras.node.cis_manual`
in reports) with guidance and the checks that cover their mechanical part.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from kubefort.registry import Registry


class ManualControl(TypedDict):
    """One manual control as reported: its CIS number, title, guidance and the checks that partly cover it."""

    cis: str
    title: str
    status: Literal["manual"]
    guidance: str
    checked_by: list[str]


# CIS 1.x-4.x controls that need a person's judgement. Never reported as passed: kubefort lists them
# with guidance and names the checks that cover their mechanical part.
MANUAL_CONTROLS: tuple[tuple[str, str, str], ...] = (
    (
        "1.1.9",
        "CNI configuration file permissions are 600 or stricter",
        "Check every file under the CNI configuration directory and /var/lib/cni/networks: the mode part is checked by KF-CP-007 for /etc/cni/net.d.",
    ),
    ("1.1.10", "CNI configuration files are owned by root:root", "As 1.1.9, for ownership."),
    (
        "1.1.20",
        "PKI certificate files are 644 or stricter",
        "Checked for /etc/kubernetes/pki/*.crt; review certificates kept elsewhere.",
    ),
    (
        "1.1.21",
        "PKI private key files are 600 or stricter",
        "Checked for /etc/kubernetes/pki/*.key; review keys kept elsewhere (HSM, external CA).",
    ),
    (
        "1.2.1",
        "--anonymous-auth is false",
        "Decide whether load balancers need anonymous health checks; if so allow them for /healthz, /livez and /readyz only (AuthenticationConfiguration anonymous.conditions).",
    ),
    (
        "1.2.3",
        "DenyServiceExternalIPs is enabled",
        "Enable it unless Services legitimately use externalIPs; then restrict the field with a validating admission policy.",
    ),
    (
        "1.2.9",
        "EventRateLimit is enabled",
        "Choose limits that fit the cluster and set them in the admission control config file.",
    ),
    (
        "1.2.11",
        "AlwaysPullImages is enabled",
        "Required on multi-tenant clusters; on single-tenant ones document the exception.",
    ),
    (
        "1.2.20",
        "--request-timeout is appropriate",
        "Keep the default (60s) unless large list or watch calls need more; no automated test exists.",
    ),
    ("1.2.27", "--encryption-provider-config is set", "Plan key storage and rotation (KMS v2 recommended)."),
    (
        "1.2.28",
        "Encryption providers are appropriately configured",
        "Review which resources are covered beyond Secrets and how keys are rotated.",
    ),
    (
        "1.2.29",
        "The API server uses strong cipher suites only",
        "Check that every client (old kubectl, load balancers, webhooks) supports the list.",
    ),
    ("1.3.1", "--terminated-pod-gc-threshold is appropriate", "Choose a threshold that fits the cluster's job churn."),
    (
        "2.7",
        "etcd uses a CA of its own",
        "Confirm that --trusted-ca-file is not the Kubernetes cluster CA (/etc/kubernetes/pki/ca.crt): kubeadm's etcd/ca.crt is separate.",
    ),
    (
        "3.1.1",
        "No client-certificate authentication for users",
        "Authenticate people with OIDC or webhook tokens; client certificates cannot be revoked. Review who holds certificates signed by the cluster CA.",
    ),
    (
        "3.1.2",
        "No service-account-token authentication for users",
        "Check that people do not use service-account tokens (kubeconfigs with long-lived tokens).",
    ),
    (
        "3.1.3",
        "No bootstrap-token authentication for users",
        "Bootstrap tokens are for node join only; delete expired ones (kube-system Secrets of type bootstrap.kubernetes.io/token).",
    ),
    ("3.2.1", "A minimal audit policy is created", "Also ship the audit log off the node and watch it."),
    (
        "3.2.2",
        "The audit policy covers key security concerns",
        "Review the policy against the cluster's threat model; KF-CP-057/058 check the common events and payload levels.",
    ),
    (
        "4.1.3",
        "kube-proxy kubeconfig permissions are 600 or stricter",
        "kubeadm keeps it in a ConfigMap mounted into the kube-proxy pod: review that ConfigMap's RBAC.",
    ),
    ("4.1.4", "kube-proxy kubeconfig is owned by root:root", "As 4.1.3."),
    (
        "4.1.7",
        "Client CA file permissions are 644 or stricter",
        "Checked for the file the kubelet names; review copies kept elsewhere.",
    ),
    ("4.1.8", "Client CA file is owned by root:root", "As 4.1.7."),
    ("4.2.4", "The read-only port is 0", "Confirm that monitoring no longer scrapes port 10255."),
    ("4.2.5", "--streaming-connection-idle-timeout is not 0", "Choose a timeout that suits interactive use (5m-4h)."),
    ("4.2.7", "--hostname-override is not set", "Some cloud providers need it: document the exception."),
    (
        "4.2.8",
        "eventRecordQPS captures events appropriately",
        "Choose a rate that keeps important events (the default 50 is usually fine; 0 means unlimited).",
    ),
    (
        "4.2.9",
        "The kubelet's serving certificate is set as appropriate",
        "Prefer serverTLSBootstrap with an approver for kubelet-serving CSRs.",
    ),
    (
        "4.2.11",
        "RotateKubeletServerCertificate is enabled",
        "Also enable serverTLSBootstrap, or rotation has nothing to do.",
    ),
    (
        "4.2.12",
        "The kubelet uses strong cipher suites only",
        "Check that the API server and monitoring agents support the list.",
    ),
    ("4.2.13", "A pod PID limit is set", "Choose a limit that fits the heaviest legitimate workload."),
    ("4.2.14", "seccompDefault is enabled", "Test workloads under RuntimeDefault before turning it on node by node."),
)


def manual_controls(registry: Registry) -> list[ManualControl]:
    """The manual controls with their guidance and the checks that cover their mechanical part."""
    by_cis: dict[str, list[str]] = {}
    for m in registry:
        for c in m.mappings.cis:
            by_cis.setdefault(c, []).append(m.id)
    return [
        {"cis": cid, "title": title, "status": "manual", "guidance": guide, "checked_by": sorted(by_cis.get(cid, []))}
        for cid, title, guide in MANUAL_CONTROLS
    ]


__all__ = ["MANUAL_CONTROLS", "ManualControl", "manual_controls"]
