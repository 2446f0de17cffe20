"""KF-CLU: facts of a live cluster: versions (end of life, known CVEs, skew), runtimes, anonymous access.

The live scanner sends one synthetic `kubefort.io/v1alpha1 ClusterInfo` object per scan (server
URL, the `/version` answer, an unauthenticated probe of a few paths) and the cluster's `v1 Node`
objects. Version judgements use the dated data of `kubefort.vulndb`; every message names the
data's date, and a version newer than the data is not evaluated rather than passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubefort import vulndb
from kubefort.kube.pods import type_name
from kubefort.model import CheckContext, ClusterIndex, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import Mappings, check
from kubefort.vulndb import AFFECTED, Version

CLUSTER_INFO = ("ClusterInfo",)
NODE = ("Node",)
NSA_UPGRADE = ("NSA-CISA Kubernetes Hardening Guide: Upgrading and application security practices",)
NSA_AUTHN = ("NSA-CISA Kubernetes Hardening Guide: Authentication and authorization",)
# paths an unauthenticated client may reach by upstream default (system:public-info-viewer)
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
KUBELET_VERSION: Path_ = ("status", "nodeInfo", "kubeletVersion")
RUNTIME_VERSION: Path_ = ("status", "nodeInfo", "containerRuntimeVersion")
GIT_VERSION: Path_ = ("serverVersion", "gitVersion")


@dataclass(frozen=True, slots=True)
class EolOptions:
    """Options of KF-CLU-001, KF-CLU-003 and KF-CLU-006."""

    today: str = ""  # ISO date to judge end of life at; empty: the real date


@dataclass(frozen=True, slots=True)
class CveOptions:
    """Options of KF-CLU-002 and KF-CLU-004."""

    include_unfixed: bool = False  # also report CVEs that no version fixes (upgrading does not help)


@dataclass(frozen=True, slots=True)
class SkewOptions:
    """Options of KF-CLU-005."""

    max_kubelet_skew: int = 3  # minors a kubelet may trail the API server (the policy allows 3 since 1.28, 2 before)


def _today(options: EolOptions) -> dt.date:
    text = options.today
    if not text:
        return dt.date.today()  # noqa: DTZ011 - expiry dates are calendar dates in the user's own time zone
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise NotEvaluated(f"option today={text!r} is not an ISO date (YYYY-MM-DD)") from None


def server_version(res: Resource) -> Version:
    """The API server's version from ClusterInfo.serverVersion; NotEvaluated when absent or unreadable."""
    sv = res.obj.get("serverVersion")
    if sv is None:
        raise NotEvaluated("serverVersion is null: the API server's /version could not be read", ("serverVersion",))
    if not isinstance(sv, dict):
        raise NotEvaluated("serverVersion is not a mapping", ("serverVersion",))
    if sv.get("gitVersion") is not None and not isinstance(sv.get("gitVersion"), str):
        raise NotEvaluated(
            f"serverVersion.gitVersion is {type_name(sv.get('gitVersion'))}, expected a string", GIT_VERSION
        )
    v = vulndb.parse_version(sv.get("gitVersion"))
    if v is None and isinstance(sv.get("major"), str) and isinstance(sv.get("minor"), str):
        v = vulndb.parse_version(f"{sv['major']}.{sv['minor'].rstrip('+')}")
    if v is None:
        raise NotEvaluated(
            f"serverVersion.gitVersion {sv.get('gitVersion')!r} is not a Kubernetes version", GIT_VERSION
        )
    return v


def kubelet_version(res: Resource) -> Version:
    info = (res.obj.get("status") or {}).get("nodeInfo") if isinstance(res.obj.get("status"), dict) else None
    raw = info.get("kubeletVersion") if isinstance(info, dict) else None
    v = vulndb.parse_version(raw)
    if v is None:
        raise NotEvaluated(f"status.nodeInfo.kubeletVersion {raw!r} is not a Kubernetes version", KUBELET_VERSION)
    return v


def _eol_violation(what: str, v: Version, today: dt.date, path: Path_) -> Iterator[Violation]:
    data = vulndb.load()
    eol = vulndb.version_eol(v.minor_str, today, data)
    if eol is None:
        raise NotEvaluated(f"release data of {data.releases_generated} does not know v{v.minor_str}", path)
    if eol["past_eol"]:
        since = f"since {eol['eol']}" if eol["eol"] else "long ago"
        yield Violation(
            f"{what} v{v} is Kubernetes {v.minor_str}, out of upstream patch support {since} "
            f"(release data of {data.releases_generated})",
            path,
        )


def _cve_violation(component: str, v: Version, options: CveOptions, path: Path_) -> Iterator[Violation]:
    data = vulndb.load()
    known = data.cve_minors_known()
    if Version(v.major, v.minor) > known:
        raise NotEvaluated(f"CVE data of {data.cves_generated} does not know v{v.minor_str}", path)
    hits = [(r, s) for r, s in vulndb.cves_for(component, v, data) if options.include_unfixed or not r.get("unfixed")]
    affected = [r["id"] for r, s in hits if s == AFFECTED]
    unsure = [r["id"] for r, s in hits if s != AFFECTED]
    note = f"(CVE data of {data.cves_generated}{'' if data.cves.get('complete', True) else ', partial'})"
    if affected:
        more = f"; cannot tell for {', '.join(unsure)}" if unsure else ""
        yield Violation(f"{component} v{v} is affected by {', '.join(affected)}{more} {note}", path)
    elif unsure:
        raise NotEvaluated(
            f"{component} v{v}: cannot tell whether {', '.join(unsure)} apply: their version ranges "
            f"could not be read {note}",
            path,
        )


@check(
    id="KF-CLU-001",
    name="kubernetes-version-end-of-life",
    title="The API server runs a Kubernetes version past its end of life",
    verified="The API server runs a Kubernetes version that is still supported",
    severity=Severity.HIGH,
    target="object",
    kinds=CLUSTER_INFO,
    options=EolOptions,
    mappings=Mappings(nsa=NSA_UPGRADE, mitre=("T1190",), owasp=("K10",), kubescape=("C-0273",)),
    remediation="Upgrade the control plane to a supported Kubernetes minor (one minor at a time), then the nodes.",
)
def kubernetes_version_end_of_life(res: Resource, ctx: CheckContext[EolOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Reads the API server's version from the cluster's `/version` answer (`ClusterInfo.serverVersion`)
    and flags it when its minor release is past its upstream end of life (end of patch support)
    on the scan date, per the release data shipped with kubefort (`kubefort db info`).
    Vendor suffixes (`-eks-…`, `-gke.…`, `+k3s1`, `+rke2r1`) are ignored.

    ## Why is this bad?
    Kubernetes patches a minor release for about 14 months. After that, fixes for newly found
    vulnerabilities are no longer released for it: every later CVE of the API server, the
    controllers or the kubelet stays open (OWASP Kubernetes Top 10 K10, outdated components).

    ## Example
    ```yaml
    apiVersion: kubefort.io/v1alpha1
    kind: ClusterInfo
    serverVersion: {major: "1", minor: "29", gitVersion: v1.29.4}
    ```

    ## How to fix
    Upgrade to a supported minor, one at a time (`kubeadm upgrade plan`, or the managed
    service's upgrade), after checking removed APIs (KF-WL checks).

    ## Options
    `today` (ISO date, default: the real date): the date end of life is judged at.

    ## Not evaluated when
    `serverVersion` is null or unreadable, or the minor is newer than the release data knows
    (update kubefort).

    ## Known limitations
    Managed services (EKS, GKE, AKS) may support a minor beyond upstream's end of life with
    their own backports; kubefort judges the upstream support window.

    ## References
    - https://kubernetes.io/releases/
    - https://kubernetes.io/releases/patch-releases/
    """
    yield from _eol_violation("the API server", server_version(res), _today(ctx.options), GIT_VERSION)


@check(
    id="KF-CLU-002",
    name="kube-apiserver-known-cves",
    title="The API server's version is affected by known Kubernetes CVEs",
    verified="The API server's version is affected by no known Kubernetes CVE",
    severity=Severity.HIGH,
    target="object",
    kinds=CLUSTER_INFO,
    options=CveOptions,
    mappings=Mappings(nsa=NSA_UPGRADE, mitre=("T1190", "T1068"), owasp=("K10",), kubescape=("C-0089",)),
    remediation="Upgrade the API server to a patch release that fixes the listed CVEs (see each advisory's fixed versions).",
)
def kube_apiserver_known_cves(res: Resource, ctx: CheckContext[CveOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Compares the API server's version (`ClusterInfo.serverVersion`) with the affected version
    ranges of the kube-apiserver CVEs of the official Kubernetes CVE feed, and lists the CVE IDs
    that apply. The message names the date of the CVE data.

    CVEs that no release fixes (mitigated by configuration only) are left out unless the option
    `include_unfixed` is set: upgrading does not help for them.

    ## Why is this bad?
    A published CVE comes with a description of what to attack; exploits follow. The API server
    is the cluster's front door and its bugs lead to privilege escalation or bypassed admission
    policies (MITRE ATT&CK T1190, Exploit Public-Facing Application).

    ## Example
    ```yaml
    kind: ClusterInfo
    serverVersion: {gitVersion: v1.29.2}   # CVE-2024-3177 (fixed in v1.29.4)
    ```

    ## How to fix
    Apply the newest patch release of the minor (`v1.29.x` -> latest), or upgrade the minor.

    ## Options
    `include_unfixed` (bool, default false).

    ## Not evaluated when
    The version is unreadable, newer than the CVE data knows, or the only CVEs that may apply have
    version ranges kubefort could not read from the feed ("cannot tell": never reported as passed).

    ## Known limitations
    Vendor builds (EKS, GKE, AKS, OpenShift) may carry backported fixes without a new upstream patch
    number; the judgement follows the upstream version. Only CVEs in the data (`kubefort db info`,
    `kubefort db update`) are known.

    ## References
    - https://kubernetes.io/docs/reference/issues-security/official-cve-feed/
    """
    yield from _cve_violation("kube-apiserver", server_version(res), ctx.options, GIT_VERSION)


@check(
    id="KF-CLU-003",
    name="kubelet-version-end-of-life",
    title="A node's kubelet runs a Kubernetes version past its end of life",
    verified="The node's kubelet runs a Kubernetes version that is still supported",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE,
    options=EolOptions,
    mappings=Mappings(nsa=NSA_UPGRADE, mitre=("T1068",), owasp=("K10",), kubescape=("C-0273",)),
    remediation="Upgrade the node (drain, upgrade the kubelet package or replace the node image, uncordon) to a supported minor.",
)
def kubelet_version_end_of_life(res: Resource, ctx: CheckContext[EolOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags a Node whose `status.nodeInfo.kubeletVersion` is a Kubernetes minor past its upstream
    end of life on the scan date (release data shipped with kubefort).

    ## Why is this bad?
    Node upgrades are often left behind the control plane's. An unsupported kubelet receives no
    fixes for vulnerabilities that let pods reach the host (subPath, gitRepo, Windows volume bugs).

    ## Example
    ```yaml
    kind: Node
    status:
      nodeInfo: {kubeletVersion: v1.27.8}
    ```

    ## How to fix
    Replace or upgrade the node so that its kubelet runs a supported minor.

    ## Options
    `today` (ISO date, default: the real date).

    ## Not evaluated when
    `kubeletVersion` is missing or unreadable, or newer than the release data knows.

    ## References
    - https://kubernetes.io/releases/
    - https://kubernetes.io/docs/tasks/administer-cluster/kubeadm/upgrading-linux-nodes/
    """
    yield from _eol_violation(
        f"node {res.id.name!r}: kubelet", kubelet_version(res), _today(ctx.options), KUBELET_VERSION
    )


@check(
    id="KF-CLU-004",
    name="kubelet-known-cves",
    title="A node's kubelet version is affected by known Kubernetes CVEs",
    verified="The node's kubelet version is affected by no known Kubernetes CVE",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE,
    options=CveOptions,
    mappings=Mappings(nsa=NSA_UPGRADE, mitre=("T1611", "T1068"), owasp=("K10",), kubescape=("C-0058",)),
    remediation="Upgrade the node's kubelet to a patch release that fixes the listed CVEs.",
)
def kubelet_known_cves(res: Resource, ctx: CheckContext[CveOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Compares each Node's `status.nodeInfo.kubeletVersion` with the affected version ranges of the
    kubelet CVEs of the official Kubernetes CVE feed and lists those that apply, with the date of
    the CVE data. CVEs no release fixes are left out unless `include_unfixed` is set.

    ## Why is this bad?
    Kubelet bugs are typically container escapes to the node (MITRE ATT&CK T1611): a pod that can
    mount a crafted volume or reach the kubelet API gets the node, its credentials and every pod on
    it. Some apply only to Windows nodes; the advisory says which.

    ## Example
    ```yaml
    kind: Node
    status:
      nodeInfo: {kubeletVersion: v1.30.2}   # CVE-2024-10220 (fixed in v1.30.3)
    ```

    ## How to fix
    Upgrade the kubelet (or the node image) to the newest patch release of its minor.

    ## Options
    `include_unfixed` (bool, default false).

    ## Not evaluated when
    The version is unreadable or newer than the CVE data knows, or the only candidate CVEs have
    ranges kubefort could not read ("cannot tell").

    ## Known limitations
    As KF-CLU-002: vendor backports are not visible in the version; only CVEs in the data are known.

    ## References
    - https://kubernetes.io/docs/reference/issues-security/official-cve-feed/
    """
    yield from _cve_violation("kubelet", kubelet_version(res), ctx.options, KUBELET_VERSION)


@check(
    id="KF-CLU-005",
    name="kubelet-version-skew",
    title="A kubelet's version is outside the supported skew from the API server",
    verified="The kubelet's version is within the supported skew from the API server",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=NODE,
    needs=CLUSTER_INFO,
    options=SkewOptions,
    mappings=Mappings(nsa=NSA_UPGRADE, owasp=("K10",)),
    remediation="Upgrade the node to within the supported skew of the API server (never newer than it).",
)
def kubelet_version_skew(res: Resource, index: ClusterIndex, ctx: CheckContext[SkewOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Compares each Node's kubelet minor with the API server's (from `ClusterInfo`). Flags kubelets
    newer than the API server, and kubelets more than `max_kubelet_skew` minors older (3, the
    limit of the version skew policy since Kubernetes 1.28; 2 for API servers older than 1.28).

    ## Why is this bad?
    Outside the supported skew, the combination is untested: security features of the newer side
    (admission, node authorization, credential handling) may be ignored or broken by the other.
    A kubelet far behind is usually also a kubelet without security fixes.

    ## Example
    ```yaml
    kind: Node
    status:
      nodeInfo: {kubeletVersion: v1.31.4}   # API server v1.36.1: 5 minors apart
    ```

    ## How to fix
    Upgrade the nodes before the next control-plane upgrade; upgrade the control plane before nodes.

    ## Options
    `max_kubelet_skew` (int, default 3).

    ## Not evaluated when
    No (or more than one) ClusterInfo is among the inputs, or a version cannot be read.

    ## References
    - https://kubernetes.io/releases/version-skew-policy/#kubelet
    """
    infos = index.kind("ClusterInfo")
    if len(infos) != 1:
        raise NotEvaluated(f"{len(infos)} ClusterInfo objects in the inputs: the API server version is not known")
    server = server_version(infos[0])
    kubelet = kubelet_version(res)
    if server.major != kubelet.major:
        raise NotEvaluated(f"major versions differ (API server v{server}, kubelet v{kubelet})", KUBELET_VERSION)
    allowed = ctx.options.max_kubelet_skew if server.minor >= 28 else min(ctx.options.max_kubelet_skew, 2)
    lag = server.minor - kubelet.minor
    if lag < 0:
        yield Violation(
            f"node {res.id.name!r}: kubelet v{kubelet} is newer than the API server v{server}", KUBELET_VERSION
        )
    elif lag > allowed:
        yield Violation(
            f"node {res.id.name!r}: kubelet v{kubelet} is {lag} minor versions behind the API server "
            f"v{server} (supported: {allowed})",
            KUBELET_VERSION,
        )


@check(
    id="KF-CLU-006",
    name="container-runtime-end-of-life",
    title="A node's container runtime is past its end of life or is Docker Engine",
    verified="The node's container runtime is supported and is not Docker Engine",
    severity=Severity.MEDIUM,
    target="object",
    kinds=NODE,
    options=EolOptions,
    mappings=Mappings(nsa=NSA_UPGRADE, mitre=("T1611",), owasp=("K10",)),
    remediation="Move the node to a supported containerd or CRI-O release (replace the node image or upgrade the runtime package).",
)
def container_runtime_end_of_life(res: Resource, ctx: CheckContext[EolOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Reads `status.nodeInfo.containerRuntimeVersion` (`containerd://1.7.2`, `cri-o://1.28.1`,
    `docker://24.0.7`) and flags:

    - containerd minors past their end of life per containerd's release table (dates the table
      marks tentative are not used);
    - CRI-O minors whose Kubernetes minor of the same number is past end of life (CRI-O follows
      the Kubernetes release cycle);
    - Docker Engine (`docker://`): dockershim was removed in Kubernetes 1.24, so such nodes run
      the out-of-tree cri-dockerd adapter or a vendor fork outside the upstream support chain.

    ## Why is this bad?
    The runtime enforces the container boundary (namespaces, seccomp, capabilities). Runtime
    escapes (runc and containerd CVEs) are fixed only on supported branches (MITRE ATT&CK T1611).

    ## Example
    ```yaml
    kind: Node
    status:
      nodeInfo: {containerRuntimeVersion: "containerd://1.6.20"}
    ```

    ## How to fix
    Upgrade to a supported runtime minor (containerd 2.x, or the CRI-O minor of your Kubernetes).

    ## Options
    `today` (ISO date, default: the real date).

    ## Not evaluated when
    The runtime version is missing or unreadable, the runtime or its minor is not in the data, or
    its end of life was only tentative in the data and that date has passed.

    ## References
    - https://containerd.io/releases/
    - https://github.com/cri-o/cri-o#compatibility-matrix-cri-o--kubernetes
    - https://kubernetes.io/blog/2022/02/17/dockershim-faq/
    """
    info = (res.obj.get("status") or {}).get("nodeInfo") if isinstance(res.obj.get("status"), dict) else None
    raw = info.get("containerRuntimeVersion") if isinstance(info, dict) else None
    if not isinstance(raw, str) or "://" not in raw:
        raise NotEvaluated(
            f"status.nodeInfo.containerRuntimeVersion {raw!r} is not <runtime>://<version>", RUNTIME_VERSION
        )
    runtime, _, text = raw.partition("://")
    runtime = runtime.lower()
    node = f"node {res.id.name!r}"
    if runtime == "docker":
        yield Violation(
            f"{node} runs Docker Engine ({raw}): dockershim was removed in Kubernetes 1.24", RUNTIME_VERSION
        )
        return
    v = vulndb.parse_version(text)
    if runtime not in ("containerd", "cri-o") or v is None:
        raise NotEvaluated(f"{node}: no support data for container runtime {raw!r}", RUNTIME_VERSION)
    data = vulndb.load()
    eol = vulndb.runtime_eol(runtime, v, _today(ctx.options), data)
    if eol is None:
        raise NotEvaluated(
            f"release data of {data.releases_generated} does not know {runtime} {v.minor_str}", RUNTIME_VERSION
        )
    if eol["past_eol"] is None:
        raise NotEvaluated(
            f"{node}: the end of life of {runtime} {v.minor_str} was tentative ({eol['eol']}) in the release data "
            f"of {data.releases_generated}; cannot tell whether it was extended",
            RUNTIME_VERSION,
        )
    if eol["past_eol"]:
        since = f"since {eol['eol']}" if eol.get("eol") else "long ago"
        yield Violation(
            f"{node}: {runtime} {v} ({v.minor_str}) is out of support {since} "
            f"(release data of {data.releases_generated})",
            RUNTIME_VERSION,
        )


# the fact KF-CLU-007/008 read: a cluster scan made without it (--no-anonymous-probe) makes them
# "not evaluated by request"
ANONYMOUS_PROBE = "anonymous-probe"


def _anonymous(res: Resource) -> dict[str, Any]:
    anon = res.obj.get("anonymous")
    if anon is None:
        raise NotEvaluated("the unauthenticated probe was not run (anonymous is null)", ("anonymous",))
    if not isinstance(anon, dict):
        raise NotEvaluated("anonymous is not a mapping of path -> answer", ("anonymous",))
    return anon


def _answered(answer: Any) -> int | None:
    """The HTTP status of a probe answer (None: no answer); NotEvaluated when it is not one."""
    status = answer.get("status") if isinstance(answer, dict) else None
    if (answer is not None and not isinstance(answer, dict)) or (
        status is not None and (not isinstance(status, int) or isinstance(status, bool))
    ):
        raise NotEvaluated(f"an answer of the unauthenticated probe is malformed: {answer!r:.60}", ("anonymous",))
    return status


@check(
    id="KF-CLU-007",
    name="api-server-anonymous-access",
    title="The API server answers unauthenticated requests beyond health and version endpoints",
    verified="The API server refuses unauthenticated requests beyond health and version endpoints",
    severity=Severity.HIGH,
    target="object",
    kinds=CLUSTER_INFO,
    facts=(ANONYMOUS_PROBE,),
    mappings=Mappings(
        cis=("1.2.1",),
        nsa=NSA_AUTHN,
        mitre=("T1190", "T1613"),
        owasp=("K06",),
        trivy=("KCV-0001",),
        checkov=("CKV_K8S_68",),
        kubescape=("C-0113", "C-0262"),
    ),
    remediation="Set --anonymous-auth=false (or an AuthenticationConfiguration that allows anonymous only for /healthz, /livez and /readyz) and remove RBAC bindings to system:anonymous and system:unauthenticated.",
)
def api_server_anonymous_access(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Reads the unauthenticated probe that the live scan made (`ClusterInfo.anonymous`: the HTTP
    status each path answered without credentials) and flags a 2xx answer on any path other than
    `/version`, `/healthz`, `/livez` and `/readyz`, for example `/api`, `/apis`, `/metrics` or a
    resource path such as `/api/v1/namespaces`. The message lists the paths.

    This judges the effect, where CIS 1.2.1 and its peers read the `--anonymous-auth` flag: a
    cluster with anonymous authentication on but no grants to `system:anonymous` passes.

    ## Why is this bad?
    Anything the API server answers anonymously, anyone who can reach it can read: discovery
    documents map the cluster's APIs and CRDs, `/metrics` leaks object counts and names, and a
    resource path means RBAC grants the anonymous user real permissions (MITRE ATT&CK T1613,
    Container and Resource Discovery). API servers exposed to the internet are scanned for this.

    ## Example
    ```yaml
    kind: ClusterInfo
    anonymous:
      "/api": {status: 200}
      "/api/v1/namespaces": {status: 200}
    ```

    ## How to fix
    ```yaml
    kind: ClusterInfo
    anonymous:
      "/api": {status: 401}
      "/api/v1/namespaces": {status: 403}
    ```
    Remove bindings to `system:anonymous` / `system:unauthenticated` (KF-RBAC checks) and, where
    possible, turn anonymous authentication off or restrict it to the health endpoints.

    ## Not evaluated when
    The probe was not run (`anonymous: null`).

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests
    - CIS Kubernetes Benchmark 1.2.1
    """
    anon = _anonymous(res)
    open_paths = sorted(p for p, a in anon.items() if p not in PUBLIC_PATHS and (_answered(a) or 0) // 100 == 2)
    if open_paths:
        first = ("anonymous", open_paths[0])
        yield Violation(
            f"the API server at {res.obj.get('server') or '?'} answers without credentials on {', '.join(open_paths)}",
            first,
        )


@check(
    id="KF-CLU-008",
    name="api-server-version-anonymous",
    title="The API server discloses its version to unauthenticated clients",
    verified="The API server keeps its version from unauthenticated clients",
    severity=Severity.LOW,
    target="object",
    facts=(ANONYMOUS_PROBE,),
    kinds=CLUSTER_INFO,
    mappings=Mappings(nsa=NSA_AUTHN, mitre=("T1592.002",), owasp=("K06",)),
    remediation="Remove system:unauthenticated from the system:public-info-viewer ClusterRoleBinding (or turn anonymous authentication off), keeping /healthz, /livez and /readyz reachable if load balancers need them.",
)
def api_server_version_anonymous(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags a 2xx answer of `/version` to the unauthenticated probe (`ClusterInfo.anonymous`).

    Severity is low: this is the upstream default (the `system:public-info-viewer` role is bound to
    `system:unauthenticated`), and the version reveals nothing else. It is reported because the
    exact build lets anyone who reaches the endpoint pick exploits for the CVEs it carries
    (KF-CLU-002) without touching anything that needs credentials (MITRE ATT&CK T1592.002,
    Gather Victim Host Information: Software).

    ## Why is this bad?
    Reconnaissance without a trace in the audit log of authenticated users: scanners on the
    internet collect `/version` answers and match them against CVE lists.

    ## Example
    ```yaml
    kind: ClusterInfo
    anonymous:
      "/version": {status: 200}
    ```

    ## How to fix
    ```yaml
    kind: ClusterInfo
    anonymous:
      "/version": {status: 403}
    ```
    `kubectl edit clusterrolebinding system:public-info-viewer` and remove the
    `system:unauthenticated` subject (set the annotation
    `rbac.authorization.kubernetes.io/autoupdate: "false"` so that it is not restored).

    ## Not evaluated when
    The probe was not run (`anonymous: null`) or did not include `/version`.

    ## References
    - https://kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles
    """
    anon = _anonymous(res)
    if anon.get("/version") is None:  # null is absent
        raise NotEvaluated("the unauthenticated probe did not ask /version", ("anonymous",))
    status = _answered(anon["/version"])
    if status is not None and status // 100 == 2:
        yield Violation(
            f"the API server at {res.obj.get('server') or '?'} tells its version to unauthenticated clients "
            f"(/version answered {status})",
            ("anonymous", "/version"),
        )
