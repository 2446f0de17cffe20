"""KF-CP: who gets in through the API server: anonymous and token-file authentication (018, 019),
authorizers (023..025), profiling (032) and service-account tokens (037, 038, 046)."""

from __future__ import annotations

from collections.abc import Iterator

from kubefort.checks.control_plane.common import API_REF, PROFILING_WHY, api, bool_flag, config_file, flags_set
from kubefort.checks.node_common import NODE_KINDS, node_meta, pod_example, viol
from kubefort.kube.flags import ComponentView
from kubefort.model import CheckContext, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import check


@check(
    id="KF-CP-018",
    name="apiserver-anonymous-auth",
    title="API server accepts anonymous requests",
    verified="API server refuses anonymous requests",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --anonymous-auth=false, or (Kubernetes 1.32+) allow anonymous requests only to health endpoints with an AuthenticationConfiguration `anonymous.conditions`.",
    **node_meta(
        cis=("1.2.1",),
        manual=True,
        peers={"trivy": ("KCV-0001",), "checkov": ("CKV_K8S_68",), "kubescape": ("C-0113", "C-0262")},
        mitre=("T1078",),
        owasp=("K06", "K09"),
        what="Flags an API server that authenticates unauthenticated requests as `system:anonymous`: `--anonymous-auth` is true or "
        "absent (its default is true), or the `--authentication-config` file enables `anonymous` without `conditions`.",
        why="Every request without credentials gets the `system:anonymous` identity. RBAC then decides, and one careless binding "
        "to `system:anonymous` or `system:unauthenticated` opens the cluster to the network.",
        example=pod_example("kube-apiserver", "--anonymous-auth=true"),
        fix=pod_example("kube-apiserver", "--anonymous-auth=false"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests"),
        extra="CIS 1.12 made this control manual because load balancers may need anonymous health checks; with Kubernetes 1.32+ "
        "restrict anonymous access to `/healthz`, `/livez` and `/readyz` instead (kubefort passes that).",
    ),
)
def apiserver_anonymous_auth(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    v = api(res)
    if v.last("anonymous-auth") is None and v.last("authentication-config") is not None:
        cfg = config_file(v, "authentication-config")
        anon = cfg.get("anonymous")
        enabled = anon.get("enabled") if isinstance(anon, dict) else None
        conditions = anon.get("conditions") if isinstance(anon, dict) else None
        if (
            (anon is not None and not isinstance(anon, dict))
            or (enabled is not None and not isinstance(enabled, bool))
            or (conditions is not None and not isinstance(conditions, list))
        ):  # the API server refuses such a file and does not start
            raise NotEvaluated(
                "anonymous in the --authentication-config file has the wrong type",
                v.at(v.last("authentication-config")),
            )
        if isinstance(anon, dict):
            if enabled is True and not conditions:
                yield viol(
                    v,
                    "the --authentication-config file enables anonymous requests to every path",
                    v.at(v.last("authentication-config")),
                )
            return
    on, p = v.boolean("anonymous-auth", True)
    if on:
        yield viol(
            v,
            "--anonymous-auth is not set; the API server accepts anonymous requests by default"
            if v.last("anonymous-auth") is None
            else "--anonymous-auth=true",
            p,
        )


@check(
    id="KF-CP-019",
    name="apiserver-token-auth-file",
    title="API server authenticates with a static token file",
    verified="API server authenticates without a static token file",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove --token-auth-file; authenticate users with OIDC, webhook or client certificates and services with service accounts.",
    **node_meta(
        cis=("1.2.2",),
        peers={"trivy": ("KCV-0002",), "checkov": ("CKV_K8S_70",), "kubescape": ("C-0114",)},
        mitre=("T1078",),
        owasp=("K06", "K09"),
        what="Flags an API server started with `--token-auth-file`.",
        why="Static tokens live in clear text on the control-plane node, never expire and can only be changed by restarting the "
        "API server: a leaked token stays valid indefinitely.",
        example=pod_example("kube-apiserver", "--token-auth-file=/etc/kubernetes/tokens.csv"),
        fix=pod_example("kube-apiserver", "--authentication-config=/etc/kubernetes/authn.yaml   # OIDC / JWT instead"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#static-token-file"),
    ),
)
def apiserver_token_auth_file(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    v = api(res)
    f = v.last("token-auth-file")
    if f is not None and f.value:
        yield viol(v, f"--token-auth-file is set ({f.value})", v.at(f))


def authorization_modes(v: ComponentView) -> tuple[list[str], Path_]:
    """The API server's authorizers: --authorization-mode (default AlwaysAllow) or the --authorization-config file."""
    if v.last("authorization-config") is not None and v.last("authorization-mode") is None:
        cfg = config_file(v, "authorization-config")
        auths = cfg.get("authorizers")
        if not isinstance(auths, list):
            raise NotEvaluated(
                "the --authorization-config file has no authorizers list", v.at(v.last("authorization-config"))
            )
        where = v.at(v.last("authorization-config"))
        if not all(a is None or (isinstance(a, dict) and isinstance(a.get("type"), str)) for a in auths):
            raise NotEvaluated("an authorizer of the --authorization-config file has no string type", where)
        return [a["type"] for a in auths if a is not None], where
    items, given = v.items("authorization-mode")
    if not given:
        return ["AlwaysAllow"], v.missing
    return [m for m, _ in items], v.at(v.last("authorization-mode"))


def _authz(res: Resource, mode: str, present: bool) -> Iterator[Violation]:
    v = api(res)
    modes, p = authorization_modes(v)
    default = (
        ""
        if v.last("authorization-mode") or v.last("authorization-config")
        else " (--authorization-mode is not set; it defaults to AlwaysAllow)"
    )
    if present and mode not in modes:
        yield viol(v, f"authorization modes {','.join(modes)} do not include {mode}{default}", p)
    if not present and mode in modes:
        yield viol(v, f"authorization modes include {mode}{default}", p)


_AUTHZ_WHAT = (
    "Reads `--authorization-mode` (default `AlwaysAllow`) or the authorizers of the `--authorization-config` file."
)


@check(
    id="KF-CP-023",
    name="apiserver-authorization-always-allow",
    title="API server authorizes every request (AlwaysAllow)",
    verified="API server does not authorize every request (no AlwaysAllow)",
    severity=Severity.CRITICAL,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --authorization-mode=Node,RBAC (never AlwaysAllow).",
    **node_meta(
        cis=("1.2.6",),
        peers={"trivy": ("KCV-0007",), "checkov": ("CKV_K8S_74",), "kubescape": ("C-0118",)},
        mitre=("T1078",),
        owasp=("K03", "K09"),
        what="Flags an API server whose authorizers include `AlwaysAllow`. " + _AUTHZ_WHAT,
        why="With AlwaysAllow every authenticated request (and every anonymous one, when anonymous auth is on) is allowed: RBAC is not consulted.",
        example=pod_example("kube-apiserver", "--authorization-mode=AlwaysAllow"),
        fix=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/authorization/"),
    ),
)
def apiserver_authorization_always_allow(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from _authz(res, "AlwaysAllow", False)


@check(
    id="KF-CP-024",
    name="apiserver-authorization-node-missing",
    title="API server does not use the Node authorizer",
    verified="API server uses the Node authorizer",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Add Node to --authorization-mode (Node,RBAC).",
    **node_meta(
        cis=("1.2.7",),
        peers={"trivy": ("KCV-0008",), "checkov": ("CKV_K8S_75",), "kubescape": ("C-0119",)},
        owasp=("K03", "K09"),
        what="Flags an API server whose authorizers do not include `Node`. " + _AUTHZ_WHAT,
        why="The Node authorizer limits each kubelet to the Secrets, ConfigMaps and volumes of the pods bound to its node; "
        "without it a compromised node's credentials read objects of the whole cluster.",
        example=pod_example("kube-apiserver", "--authorization-mode=RBAC"),
        fix=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/node/"),
    ),
)
def apiserver_authorization_node_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from _authz(res, "Node", True)


@check(
    id="KF-CP-025",
    name="apiserver-authorization-rbac-missing",
    title="API server does not use RBAC authorization",
    verified="API server uses RBAC authorization",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Add RBAC to --authorization-mode (Node,RBAC).",
    **node_meta(
        cis=("1.2.8",),
        peers={"trivy": ("KCV-0009",), "checkov": ("CKV_K8S_77",), "kubescape": ("C-0120", "C-0088")},
        owasp=("K03", "K09"),
        what="Flags an API server whose authorizers do not include `RBAC`. " + _AUTHZ_WHAT,
        why="Without RBAC, Roles and ClusterRoles are ignored: access is whatever the remaining authorizers allow, usually far too much.",
        example=pod_example("kube-apiserver", "--authorization-mode=Node"),
        fix=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
        refs=(API_REF, "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"),
    ),
)
def apiserver_authorization_rbac_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from _authz(res, "RBAC", True)


@check(
    id="KF-CP-032",
    name="apiserver-profiling-enabled",
    title="API server exposes profiling endpoints",
    verified="API server keeps its profiling endpoints off",
    severity=Severity.LOW,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --profiling=false.",
    **node_meta(
        cis=("1.2.15",),
        peers={"trivy": ("KCV-0018",), "checkov": ("CKV_K8S_90",), "kubescape": ("C-0129",)},
        what="Flags an API server with `--profiling` true or absent (default true).",
        why=PROFILING_WHY,
        example=pod_example("kube-apiserver", "--authorization-mode=Node,RBAC"),
        fix=pod_example("kube-apiserver", "--profiling=false"),
        refs=(API_REF,),
    ),
)
def apiserver_profiling_enabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from bool_flag(res, "kube-apiserver", "profiling", False, True, "profiling is on by default")


@check(
    id="KF-CP-037",
    name="apiserver-service-account-lookup-disabled",
    title="API server does not check that service-account tokens still exist",
    verified="API server checks that service-account tokens still exist",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Remove --service-account-lookup=false (the default, true, is right).",
    **node_meta(
        cis=("1.2.21",),
        peers={"trivy": ("KCV-0024",), "checkov": ("CKV_K8S_96",), "kubescape": ("C-0135",)},
        owasp=("K06", "K09"),
        what="Flags `--service-account-lookup=false` (the default is true).",
        why="Without the lookup a token of a deleted service account (or of a deleted Secret) stays valid until it expires.",
        example=pod_example("kube-apiserver", "--service-account-lookup=false"),
        fix=pod_example("kube-apiserver", "--service-account-lookup=true"),
        refs=(API_REF,),
    ),
)
def apiserver_service_account_lookup_disabled(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from bool_flag(res, "kube-apiserver", "service-account-lookup", True, True, "")


@check(
    id="KF-CP-038",
    name="apiserver-service-account-key-missing",
    title="API server has no service-account verification key",
    verified="API server has a service-account verification key",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --service-account-key-file to the public key(s) matching the signing key (rotate by listing old and new keys).",
    **node_meta(
        cis=("1.2.22",),
        peers={"trivy": ("KCV-0025",), "checkov": ("CKV_K8S_97",), "kubescape": ("C-0136",)},
        owasp=("K06", "K09"),
        what="Flags an API server without `--service-account-key-file`.",
        why="Without an explicit key the API server falls back to its TLS key, which ties token validity to the serving "
        "certificate and makes signing-key rotation impossible.",
        example=pod_example("kube-apiserver", "--service-account-issuer=https://kubernetes.default.svc"),
        fix=pod_example("kube-apiserver", "--service-account-key-file=/etc/kubernetes/pki/sa.pub"),
        refs=(API_REF,),
    ),
)
def apiserver_service_account_key_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "service-account-key-file")


@check(
    id="KF-CP-046",
    name="apiserver-service-account-token-extension",
    title="API server extends projected service-account token lifetimes",
    verified="API server keeps projected service-account token lifetimes as requested",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --service-account-extend-token-expiration=false.",
    **node_meta(
        cis=("1.2.30",),
        peers={"kubescape": ("C-0290",)},
        owasp=("K06", "K09"),
        what="Flags an API server with `--service-account-extend-token-expiration` true or absent (default true).",
        why="The extension gives projected tokens a one-year lifetime for compatibility; a stolen token then stays valid for a year "
        "instead of an hour.",
        example=pod_example("kube-apiserver", "--service-account-issuer=https://kubernetes.default.svc"),
        fix=pod_example("kube-apiserver", "--service-account-extend-token-expiration=false"),
        refs=(API_REF,),
    ),
)
def apiserver_service_account_token_extension(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from bool_flag(
        res,
        "kube-apiserver",
        "service-account-extend-token-expiration",
        False,
        True,
        "the API server extends token lifetimes by default",
    )
