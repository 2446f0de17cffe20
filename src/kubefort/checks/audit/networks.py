"""KF-AUDIT-021..022: where requests come from: outside the configured networks, and
service-account tokens used from an address their pod does not have."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubefort.audit.context import AuditContext, AuditScope
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit.windows import LRU, NetSet, clamp, event_time, parse_networks, positive
from kubefort.kube.rbac.model import SA_USER_PREFIX
from kubefort.model import NotApplicable, NotEvaluated, OffUntilSet, Severity, Violation
from kubefort.registry import Mappings, check

OFF = "the check is off: no allowed_cidrs are configured in .kubefort.yaml options"
NOT_A_TOKEN = "the request was not made with a service-account token"  # noqa: S105 - a message, not a password
NOTHING_TO_FOLLOW = (
    "no pod_cidrs, node_cidrs or trusted_cidrs are configured and the token carries no credential ID or pod UID"
)
# user.extra keys the service-account authenticator sets (k8s.io/apiserver pkg/authentication:
# user.CredentialIDKey "JTI=<id>" for tokens with a JWT ID, serviceaccount.PodUIDKey/PodNameKey
# for tokens bound to a pod)
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
POD_UID = "authentication.kubernetes.io/pod-uid"
POD_NAME = "authentication.kubernetes.io/pod-name"
ORIGINS_PER_TOKEN = 8  # addresses remembered per token (the most recent)
SHOWN = 3


@dataclass(frozen=True, slots=True)
class NetworkOptions(OffUntilSet):
    """allowed_cidrs: the networks requests may come from (every address of a request's
    sourceIPs must be inside one); empty leaves the check off."""

    allowed_cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parse_networks("allowed_cidrs", self.allowed_cidrs)


@check(
    id="KF-AUDIT-021",
    name="request-from-outside-allowed-networks",
    title="A request reached the API server from outside the allowed networks",
    verified="Request came from an allowed network",
    severity=Severity.MEDIUM,
    target="audit",
    audit=AuditScope(nonresource=True),
    options=NetworkOptions,
    mappings=Mappings(mitre=("T1133", "T1078"), owasp=("K09",)),
    remediation="Find out who sent the request and from where; restrict access to the API server endpoint (firewall, private endpoint, authorized networks) to the allowed networks, or add the network to allowed_cidrs.",
)
def request_from_outside_allowed_networks(ev: AuditEvent, ctx: AuditContext[NetworkOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags every request, allowed or refused, whose `sourceIPs` hold an address outside the
    networks of the `allowed_cidrs` option (loopback addresses, the API server's own host, are
    always allowed). Every address of the list is tested: the API server lists the
    `X-Forwarded-For` addresses, then `X-Real-Ip`, then the address of the connection itself,
    and only that last one cannot be set by the client (audit.k8s.io/v1 Event `sourceIPs`), so
    a client outside cannot hide behind a forged header, and a proxy inside does not hide the
    client it forwards.

    No Falco k8saudit rule is equivalent.

    ## Why is this bad?
    An API server that answers from networks it should not be reachable from is exposed to
    credential stuffing and to stolen credentials used from anywhere (MITRE ATT&CK T1133,
    External Remote Services; T1078, Valid Accounts). Refused requests from outside show the
    endpoint is reachable; allowed ones show a credential works from there.

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": "list",
     "user": {"username": "alice@example.com"}, "sourceIPs": ["203.0.113.9"],
     "objectRef": {"resource": "pods", "namespace": "shop", "apiVersion": "v1"},
     "responseStatus": {"code": 200}}
    ```
    with `allowed_cidrs: [10.0.0.0/8]`.

    ## How to fix
    Restrict who can reach the API server (a private endpoint, firewall rules, the managed
    service's authorized networks), and rotate the credential if the request was allowed.
    Declare the networks requests may come from:

    ```yaml
    options:
      KF-AUDIT-021:
        allowed_cidrs: [10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32]
    ```

    ## Not applicable when
    The check is off: no allowed_cidrs are configured in .kubefort.yaml options. Until the
    option names the networks, no request gets an outcome from this check.

    ## References
    - Kubernetes: Controlling access to the Kubernetes API (https://kubernetes.io/docs/concepts/security/controlling-access/)
    - audit.k8s.io/v1 Event (https://kubernetes.io/docs/reference/config-api/apiserver-audit.v1/#audit-k8s-io-v1-Event)
    - MITRE ATT&CK T1133 (https://attack.mitre.org/techniques/T1133/)
    """
    nets = ctx.scratch.get("nets")
    if nets is None:
        nets = ctx.scratch["nets"] = NetSet(parse_networks("allowed_cidrs", ctx.options.allowed_cidrs), loopback=True)
    if not nets:
        raise NotApplicable(OFF)
    outside = nets.outside(ev)
    if outside:
        who = ev.principal or "an unauthenticated client"
        code = f" (response {ev.code})" if ev.code is not None else ""
        yield Violation(f"{who} sent a request from {', '.join(outside)}, outside allowed_cidrs{code}")


# -- service-account tokens from unexpected addresses -------------------------------------------
@dataclass(frozen=True, slots=True)
class TokenAddressOptions:
    """pod_cidrs, node_cidrs: the cluster's pod and node networks, where service-account tokens
    are normally used; trusted_cidrs: other networks allowed to use them (CI runners, bastions).
    window_seconds: how long a token's addresses are remembered. max_tracked: tokens remembered
    at once (the least recently used are forgotten first)."""

    pod_cidrs: tuple[str, ...] = ()
    node_cidrs: tuple[str, ...] = ()
    trusted_cidrs: tuple[str, ...] = ()
    window_seconds: int = 86400
    max_tracked: int = 50_000

    def __post_init__(self) -> None:
        for name in ("pod_cidrs", "node_cidrs", "trusted_cidrs"):
            parse_networks(name, getattr(self, name))
        positive("window_seconds", self.window_seconds)
        positive("max_tracked", self.max_tracked)


@dataclass(slots=True)
class TokenSeen:
    last: float  # the token's clock (clamped: never runs backwards)
    origins: dict[tuple[str, ...], float] = field(default_factory=dict)  # sourceIPs -> last used


def _extra(ev: AuditEvent, key: str) -> str:
    """The first value of user.extra[key] ("" when absent); NotEvaluated on a wrong type."""
    user = ev.raw.get("user")
    extra = user.get("extra") if isinstance(user, dict) else None
    if extra is None:
        return ""
    if not isinstance(extra, dict):
        raise NotEvaluated(f"user.extra is {type(extra).__name__}, expected an object")
    v = extra.get(key)
    if v is None:
        return ""
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise NotEvaluated(f"user.extra[{key!r}] is not a list of strings")
    return next((x for x in v if x), "")


def token_identity(ev: AuditEvent) -> tuple[str, str] | None:
    """(key, description) of the one credential used: its credential ID, else the pod it is bound
    to; None for a token that names neither (a legacy Secret-based token)."""
    cred = _extra(ev, CREDENTIAL_ID)
    if cred:
        return cred, f"credential {cred}"
    uid = _extra(ev, POD_UID)
    if uid:
        pod = _extra(ev, POD_NAME)
        namespace = ev.user[len(SA_USER_PREFIX) :].split(":", 1)[0]  # a pod uses its namespace's accounts
        return f"pod-uid={uid}", f"bound to pod {namespace}/{pod}, uid {uid}" if pod else f"bound to pod uid {uid}"
    return None


def _state(ctx: AuditContext[TokenAddressOptions]) -> tuple[NetSet, LRU[str, TokenSeen]]:
    s = ctx.scratch
    if "nets" not in s:
        o = ctx.options
        nets = parse_networks("pod_cidrs", o.pod_cidrs) + parse_networks("node_cidrs", o.node_cidrs)
        s["nets"] = NetSet(nets + parse_networks("trusted_cidrs", o.trusted_cidrs), loopback=True)
        s["tokens"] = LRU[str, TokenSeen](o.max_tracked)
    return s["nets"], s["tokens"]


def _moved(ev: AuditEvent, ctx: AuditContext[Any], key: str, what: str, tokens: LRU[str, TokenSeen]) -> str:
    """The rule of the stateful part (message, "" when none): the token was used from other
    sourceIPs within the window and never from these."""
    window = ctx.options.window_seconds
    t = event_time(ev, "KF-AUDIT-022")
    seen = tokens.get(key)
    now = clamp(t, None if seen is None else seen.last)
    if seen is None:
        seen = TokenSeen(now)
    seen.last = now
    origins = seen.origins
    for o in [o for o, at in origins.items() if at < now - window]:
        del origins[o]
    origin = ev.source_ips
    message = ""
    if origins and origin not in origins:
        recent = sorted(origins, key=lambda o: -origins[o])[:SHOWN]
        shown = "; ".join(", ".join(o) for o in recent)
        message = (
            f"the token ({what}) was used from {', '.join(origin)}; within the last {window}s "
            f"it was used from {shown} and never from there"
        )
    origins[origin] = now
    if len(origins) > ORIGINS_PER_TOKEN:
        del origins[min(origins, key=lambda o: origins[o])]
    tokens.put(key, seen)
    return message


@check(
    id="KF-AUDIT-022",
    name="service-account-token-from-unexpected-address",
    title="A service-account token was used from an address its workload does not have",
    verified="Service-account token used from an expected address",
    severity=Severity.HIGH,
    target="audit",
    audit=AuditScope(nonresource=True, stateful=True),
    options=TokenAddressOptions,
    mappings=Mappings(mitre=("T1528", "T1550.001"), owasp=("K03",)),
    remediation="Treat the token as stolen: find where it was copied from (the pod it is bound to), delete that pod or rotate the Secret holding the token, and check what the requests from the unexpected address did.",
)
def service_account_token_from_unexpected_address(
    ev: AuditEvent, ctx: AuditContext[TokenAddressOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Looks at every request authenticated with a service-account token (user
    `system:serviceaccount:NAMESPACE:NAME`, impersonation aside: the token is the caller's),
    allowed or refused, and flags it when either rule holds:

    1. **Outside the cluster's networks**: when `pod_cidrs`, `node_cidrs` or `trusted_cidrs` are
       configured, an address of the request's `sourceIPs` is in none of them (loopback
       addresses are always allowed).
    2. **A token that moved**: the token identifies one credential, by its credential ID
       (`user.extra["authentication.kubernetes.io/credential-id"]`, `JTI=...` for tokens with a JWT
       ID) or else the pod it is bound to (`authentication.kubernetes.io/pod-uid`); it was used,
       within the last `window_seconds`, only from other `sourceIPs` lists, and now from this one.
       A pod keeps its address for its whole life, so one credential seen from two addresses
       means the token was copied. Each new address is reported once (at its first use; later
       uses from it are passes while it is remembered). Times are the events' own
       `stageTimestamp`, per token never running backwards: an event stamped before the
       token's latest counts at that latest time. At most `max_tracked` tokens and 8 addresses
       per token are remembered (the least recently used are forgotten first; addresses older
       than the window are dropped when the token is used again).

    No Falco k8saudit rule is equivalent.

    ## Why is this bad?
    Service-account tokens are bearer credentials: whoever holds one is the workload. A token
    used from a laptop, a CI machine it was never given to, or a second pod is the sign of a
    stolen credential (MITRE ATT&CK T1528, Steal Application Access Token; T1550.001, Use
    Alternate Authentication Material: Application Access Token).

    ## Example
    ```json
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": "ResponseComplete", "verb": "list",
     "user": {"username": "system:serviceaccount:shop:web",
              "extra": {"authentication.kubernetes.io/credential-id": ["JTI=3f1c..."]}},
     "sourceIPs": ["198.51.100.23"], "objectRef": {"resource": "secrets", "namespace": "shop"},
     "responseStatus": {"code": 200}}
    ```
    after the same credential was used from the pod's address `10.244.1.17`.

    ## How to fix
    Find the pod the token belongs to (the message names it or its credential ID) and how the
    token left it (a log, a debug session, a mounted volume). Delete the pod (a bound token dies
    with it) or, for a legacy token, delete its Secret; review what the requests from the
    unexpected address did. Describe the cluster's networks so the first rule can apply:

    ```yaml
    options:
      KF-AUDIT-022:
        pod_cidrs: [10.244.0.0/16]
        node_cidrs: [192.168.10.0/24]
    ```

    ## Not applicable when
    - the request was not made with a service-account token (another user, or an
      unauthenticated request);
    - no pod_cidrs, node_cidrs or trusted_cidrs are configured and the token carries no
      credential ID or pod UID (a legacy Secret-based token): there is nothing to compare its
      addresses with.

    ## References
    - Kubernetes: Service account tokens (https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/)
    - MITRE ATT&CK T1528 (https://attack.mitre.org/techniques/T1528/)
    """
    if not ev.user.startswith(SA_USER_PREFIX):
        raise NotApplicable(NOT_A_TOKEN)
    nets, tokens = _state(ctx)
    messages = []
    if nets:
        outside = nets.outside(ev)
        if outside:
            messages.append(
                f"the token was used from {', '.join(outside)}, outside pod_cidrs, node_cidrs and trusted_cidrs"
            )
    token = token_identity(ev)
    if token is not None:
        if not ev.source_ips:
            raise NotEvaluated("the event records no sourceIPs")
        if ev.time is not None or not messages:  # without a time only the first rule can judge
            moved = _moved(ev, ctx, token[0], token[1], tokens)
            if moved:
                messages.append(moved)
    elif not nets:
        raise NotApplicable(NOTHING_TO_FOLLOW)
    if messages:
        yield Violation(f"{ev.user}: " + "; ".join(messages))
