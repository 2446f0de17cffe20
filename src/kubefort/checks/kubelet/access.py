"""KF-KUBELET 011..014: who may call the kubelet API: anonymous auth, authorization mode, client CA,
the read-only port (CIS 4.2.1-4.2.4)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.kubelet.common import (
    ANONYMOUS,
    AUTHZ_MODE,
    CLIENT_CA,
    KINDS,
    KUBELET_REF,
    NSA_NODE,
    READ_ONLY_PORT,
    effective_what,
    kubelet_example,
    out,
    said,
    v,
)
from kubefort.checks.node_common import node_meta
from kubefort.model import CheckContext, Resource, Severity, Violation
from kubefort.registry import check


@check(
    id="KF-KUBELET-011",
    name="kubelet-anonymous-auth",
    title="Kubelet accepts anonymous requests",
    verified="Kubelet refuses anonymous requests",
    severity=Severity.CRITICAL,
    target="object",
    kinds=KINDS,
    remediation="Set authentication.anonymous.enabled: false in the kubelet config (or --anonymous-auth=false).",
    **node_meta(
        cis=("4.2.1",),
        peers={"trivy": ("KCV-0079",), "checkov": ("CKV_K8S_138",), "kubescape": ("C-0172", "C-0069")},
        nsa=NSA_NODE,
        mitre=("T1078", "T1609"),
        owasp=("K06", "K09"),
        what=effective_what(
            ANONYMOUS, "Flags a kubelet that authenticates unauthenticated requests as `system:anonymous`."
        ),
        why="The kubelet API on port 10250 runs commands in containers and reads logs and pod specs. With anonymous auth (and "
        "AlwaysAllow authorization) anyone who reaches the node port owns every pod on the node.",
        example=kubelet_example("authentication:", "  anonymous:", "    enabled: true"),
        fix=kubelet_example("authentication:", "  anonymous:", "    enabled: false", "  webhook:", "    enabled: true"),
        refs=(KUBELET_REF, "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/"),
    ),
)
def kubelet_anonymous_auth(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, ANONYMOUS)
    if s.value is True:
        yield out(kv, said(kv, s, "anonymous requests are accepted"), s.path)


@check(
    id="KF-KUBELET-012",
    name="kubelet-authorization-always-allow",
    title="Kubelet authorizes every request (AlwaysAllow)",
    verified="Kubelet does not authorize every request (no AlwaysAllow)",
    severity=Severity.CRITICAL,
    target="object",
    kinds=KINDS,
    remediation="Set authorization.mode: Webhook in the kubelet config (or --authorization-mode=Webhook).",
    **node_meta(
        cis=("4.2.2",),
        peers={"trivy": ("KCV-0080",), "checkov": ("CKV_K8S_139",), "kubescape": ("C-0173",)},
        nsa=NSA_NODE,
        mitre=("T1609",),
        owasp=("K03", "K09"),
        what=effective_what(AUTHZ_MODE, "Flags a kubelet whose authorization mode is `AlwaysAllow`."),
        why="With AlwaysAllow any authenticated (or anonymous) caller may exec into every container on the node; Webhook asks "
        "the API server (SubjectAccessReview) instead.",
        example=kubelet_example("authorization:", "  mode: AlwaysAllow"),
        fix=kubelet_example("authorization:", "  mode: Webhook"),
        refs=(
            KUBELET_REF,
            "https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/#kubelet-authorization",
        ),
    ),
)
def kubelet_authorization_always_allow(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, AUTHZ_MODE)
    if s.value == "AlwaysAllow":
        yield out(kv, said(kv, s, "every request is authorized"), s.path)


@check(
    id="KF-KUBELET-013",
    name="kubelet-client-ca-missing",
    title="Kubelet verifies no client certificates",
    verified="Kubelet verifies client certificates against a client CA",
    severity=Severity.HIGH,
    target="object",
    kinds=KINDS,
    remediation="Set authentication.x509.clientCAFile to the cluster CA (or --client-ca-file).",
    **node_meta(
        cis=("4.2.3",),
        peers={"trivy": ("KCV-0081",), "checkov": ("CKV_K8S_140",), "kubescape": ("C-0174", "C-0070")},
        nsa=NSA_NODE,
        owasp=("K06", "K09"),
        what=effective_what(CLIENT_CA, "Flags a kubelet without a client CA file."),
        why="Without a client CA the kubelet cannot authenticate the API server's client certificate, so its API is served to "
        "anonymous callers or not at all.",
        example=kubelet_example("authentication:", "  x509: {}"),
        fix=kubelet_example("authentication:", "  x509:", "    clientCAFile: /etc/kubernetes/pki/ca.crt"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_client_ca_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, CLIENT_CA)
    if not s.value:
        yield out(
            kv,
            said(kv, s, "no client CA file")
            if s.origin != "default"
            else "no client CA file is set (authentication.x509.clientCAFile / --client-ca-file)",
            s.path,
        )


@check(
    id="KF-KUBELET-014",
    name="kubelet-read-only-port-open",
    title="Kubelet serves its unauthenticated read-only port",
    verified="Kubelet keeps its read-only port off",
    severity=Severity.HIGH,
    target="object",
    kinds=KINDS,
    remediation="Set readOnlyPort: 0 in the kubelet config (or --read-only-port=0).",
    **node_meta(
        cis=("4.2.4",),
        manual=True,
        peers={"trivy": ("KCV-0082",), "checkov": ("CKV_K8S_141",), "kubescape": ("C-0175",)},
        nsa=NSA_NODE,
        mitre=("T1613",),
        owasp=("K07", "K09"),
        what=effective_what(READ_ONLY_PORT, "Flags a kubelet whose read-only port is not 0."),
        why="The read-only port (10255) answers without authentication: pod specs with their environment variables, node "
        "metrics and more, to anyone who can reach the node.",
        example=kubelet_example("readOnlyPort: 10255"),
        fix=kubelet_example("readOnlyPort: 0"),
        refs=(KUBELET_REF,),
    ),
)
def kubelet_read_only_port_open(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    kv, s = v(res, READ_ONLY_PORT)
    if s.value != 0:
        yield out(kv, said(kv, s, f"the unauthenticated read-only port {s.value} is open"), s.path)
