"""Credentials minted through the API: KF-AUDIT-013 certificate signing requests approved,
KF-AUDIT-015 ServiceAccount tokens created (TokenRequest)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.common import (
    TrustOptions,
    actor,
    changed,
    changed_object,
    named,
    system_note,
    trusted,
)
from kubefort.kube.pods import Fields, need
from kubefort.kube.rbac import MASTERS
from kubefort.model import Severity, Violation
from kubefort.registry import Mappings, check

# signers built into kube-controller-manager (Kubernetes docs: Certificates and Certificate
# Signing Requests, "Kubernetes signers")
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
SIGNERS = {
    CLIENT_SIGNER: "a client certificate the API server accepts, for whatever identity it names",
    "kubernetes.io/kube-apiserver-client-kubelet": "a kubelet's client certificate",
    "kubernetes.io/kubelet-serving": "a kubelet's serving certificate",
    "kubernetes.io/legacy-unknown": "a certificate of the legacy signer",
}


def csr_subject(request: str) -> tuple[list[str], list[str]] | str:
    """(common names, organizations) of a CertificateSigningRequest's `spec.request` (base64 of a
    PEM CSR, as the API encodes []byte), or why it cannot be read."""
    # imported here: cryptography's x509 costs ~50 ms, which every scan would pay at start-up
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        csr = x509.load_pem_x509_csr(base64.b64decode(request, validate=True))
    except (binascii.Error, ValueError) as exc:
        return f"the request cannot be read ({exc})"
    attrs = csr.subject.get_attributes_for_oid
    return (
        [str(a.value) for a in attrs(NameOID.COMMON_NAME)],
        [str(a.value) for a in attrs(NameOID.ORGANIZATION_NAME)],
    )


def approved(csr: Fields) -> bool:
    """The CSR carries an Approved condition (its status defaults to True)."""
    for i, c in enumerate(csr.list("status", "conditions")):
        at = csr.at("status", "conditions", i)
        cond = Fields(need(c, dict, "a condition mapping", at), at)
        if cond.str("type") == "Approved" and (cond.str("status") or "True") == "True":
            return True
    return False


def approval_text(csr: Fields) -> str:
    """What was approved: the signer, the subject, and what makes it dangerous."""
    signer = csr.str("spec", "signerName") or "(no signer)"
    parts = [f"signer {signer}"]
    if signer in SIGNERS:
        parts[0] += f": {SIGNERS[signer]}"
    subject = csr_subject(csr.str("spec", "request") or "")
    if isinstance(subject, str):
        parts.append(subject)
        return "; ".join(parts)
    cns, orgs = subject
    parts.append(f"subject CN={','.join(cns) or '(none)'} O={','.join(orgs) or '(none)'}")
    if MASTERS in orgs:
        parts.append(
            "it asks for system:masters: a certificate that is cluster-admin, which no RBAC change revokes "
            "before it expires"
        )
    return "; ".join(parts)


@check(
    id="KF-AUDIT-013",
    name="csr-approved",
    title="A certificate signing request was approved by a principal outside the control plane",
    verified="Request approves no certificate signing request, or was made by a trusted principal",
    severity=Severity.HIGH,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(
        verbs=frozenset({"update", "patch"}),
        resources=frozenset({"certificatesigningrequests.certificates.k8s.io/approval"}),
    ),
    mappings=Mappings(mitre=("T1649",), owasp=("K06",)),
    remediation="Find out who approved the request and for which identity; deny CSRs for system:masters, restrict approval (update on certificatesigningrequests/approval and approve on signers) to administrators, and keep signers' approval to their controllers.",
)
def csr_approved(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags an allowed update or patch of a CertificateSigningRequest's `approval` subresource
    (what `kubectl certificate approve` sends) by a principal that is not trusted (by default the
    control-plane identities, such as kube-controller-manager approving kubelets' client
    certificates). When the policy recorded the CSR (the request body of an update, the
    response body of a patch), only approvals count (a denial is a pass) and the message gives
    the signer and the subject the certificate will carry, and says when it asks for
    `system:masters` or is a `kubernetes.io/kube-apiserver-client` certificate (a client
    certificate the API server accepts for any identity). Without the body the approval is still
    flagged, saying that what was approved is unknown. Refused requests and dry runs are passes.

    Options (`options: {KF-AUDIT-013: {...}}`): `trusted_users`, `trusted_groups`,
    `trust_system` (default true).

    ## Why is this bad?
    An approved CSR becomes a certificate the API server trusts until it expires: RBAC cannot
    revoke it, and with `O=system:masters` it is cluster-admin. Approving one's own CSR is a
    known way to persistent admin access (MITRE ATT&CK T1649 Steal or Forge Authentication
    Certificates).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "update", "user": {"username": "mallory"},
     "objectRef": {"resource": "certificatesigningrequests", "subresource": "approval",
                   "apiGroup": "certificates.k8s.io", "name": "mallory-admin"},
     "responseStatus": {"code": 200}}
    ```

    ## How to fix
    If the approval was not intended, remove what the certificate grants (a binding to its user
    or group) and rotate the signer's CA if it names `system:masters`: a certificate cannot be
    revoked. Restrict `update` on `certificatesigningrequests/approval` and `approve` on
    `signers` to administrators (`kubefort rbac who-can update certificatesigningrequests/approval`).

    ## References
    - Kubernetes: Certificates and Certificate Signing Requests (https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/)
    - MITRE ATT&CK for Containers T1649 (https://attack.mitre.org/techniques/T1649/)
    """
    if not changed(ev) or trusted(ev, ctx.options):
        return
    obj = changed_object(ev)
    if obj is None:
        yield Violation(
            f"{actor(ev)} changed the approval of CertificateSigningRequest {named(ev)}; the audit policy did not "
            "record the CertificateSigningRequest, so whether it was approved, for which signer and which identity "
            "is unknown (record certificatesigningrequests/approval at level RequestResponse)"
        )
        return
    csr = Fields(obj, ())
    if approved(csr):
        yield Violation(f"{actor(ev)} approved CertificateSigningRequest {named(ev)}: {approval_text(csr)}")


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-015
# ------------------------------------------------------------------------------------------------
def token_text(req: dict[str, Any] | None) -> str:
    """What a TokenRequest asked for, from its recorded body ("" when not recorded)."""
    if req is None:
        return ""
    f = Fields(req, ())
    parts = []
    seconds = f.int("spec", "expirationSeconds")
    if seconds is not None:
        parts.append(f"valid {seconds}s")
    audiences = f.str_list("spec", "audiences")
    if audiences:
        parts.append(f"audiences {', '.join(audiences)}")
    bound = f.mapping("spec", "boundObjectRef")
    if bound:
        ref = Fields(bound, ("spec", "boundObjectRef"))
        parts.append(f"bound to {ref.str('kind') or '?'} {ref.str('name') or '?'}")
    return f" ({'; '.join(parts)})" if parts else ""


@check(
    id="KF-AUDIT-015",
    name="serviceaccount-token-created",
    title="A ServiceAccount token was created by a principal other than the kubelet or the controllers",
    verified="Request creates no ServiceAccount token, or was made by a trusted principal",
    severity=Severity.MEDIUM,
    target="audit",
    options=TrustOptions,
    audit=AuditScope(verbs=frozenset({"create"}), resources=frozenset({"serviceaccounts/token"})),
    mappings=Mappings(mitre=("T1528",), owasp=("K06",)),
    remediation="Find out who minted the token and where it went; restrict create on serviceaccounts/token, and list the tools that mint tokens by design in `trusted_users`.",
)
def serviceaccount_token_created(ev: AuditEvent, ctx: AuditContext[TrustOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every allowed create of a ServiceAccount's `token` subresource (the TokenRequest API:
    `kubectl create token`) by a principal that is not trusted. By default the control-plane
    identities are trusted: kubelets (`system:node:*`) request the tokens of the pods they run,
    kube-controller-manager those of its controllers. When the policy recorded the request body
    the message gives the token's lifetime, audiences and the object it is bound to. Refused
    requests and dry runs are passes. Tokens used from unexpected addresses are the concern of
    the stateful audit checks, which follow each principal over time.

    Options (`options: {KF-AUDIT-015: {...}}`): `trusted_users` (CI systems that mint tokens by
    design), `trusted_groups`, `trust_system` (default true).

    ## Why is this bad?
    A minted token carries the ServiceAccount's permissions wherever it is copied, for as long
    as it lives (up to the API server's maximum), outside any pod: a quiet way to keep access
    (MITRE ATT&CK T1528 Steal Application Access Token).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete",
     "verb": "create", "user": {"username": "alice@example.com"},
     "objectRef": {"resource": "serviceaccounts", "subresource": "token",
                   "namespace": "kube-system", "name": "replicaset-controller"},
     "responseStatus": {"code": 201}}
    ```

    ## How to fix
    Find out who minted the token and for what. Restrict `create` on `serviceaccounts/token`
    (`kubefort rbac who-can create serviceaccounts/token`) and prefer short-lived tokens bound to
    a pod.

    ## References
    - Kubernetes: TokenRequest API (https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-request-v1/)
    - MITRE ATT&CK for Containers T1528 (https://attack.mitre.org/techniques/T1528/)
    """
    if not changed(ev) or trusted(ev, ctx.options):
        return
    detail = token_text(ev.request_object())
    yield Violation(f"{actor(ev)} created a token for ServiceAccount {named(ev)}{system_note(ev.namespace)}{detail}")
