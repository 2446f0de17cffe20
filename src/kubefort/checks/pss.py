"""KF-PSS: would the Pod Security admission plugin admit this pod? (exact, versioned)

The verdict comes from `kubefort.kube.pss`, which implements every control of the reference
`k8s.io/pod-security-admission` library at every policy version (conformance-tested against
the upstream fixtures). `kubefort scan --pss LEVEL [--pss-version vX.Y]` selects one level and
adds the verdict to every pod-bearing object in the JSON report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubefort.kube import pss
from kubefort.kube.pods import PodView
from kubefort.model import CheckContext, NotEvaluated, Path_, Severity, Violation, format_path
from kubefort.registry import CheckMeta, Mappings, Registry, check
from kubefort.wording import plural

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^\]]+)\]")


@dataclass(frozen=True, slots=True)
class PSSOptions:
    version: str = "latest"  # the policy version to judge against: "latest" or "v1.N"

    def __post_init__(self) -> None:
        pss.parse_version(self.version)  # raises ValueError for junk, so config rejects it


def field_path(pod: PodView, field: str) -> Path_:
    """'spec.containers[0].securityContext' -> the path inside the scanned object."""
    steps: list[str | int] = []
    for name, idx, key in _TOKEN.findall(field):
        steps.append(int(idx) if idx else (key or name))
    if steps and steps[0] == "spec":
        return pod.spec.path + tuple(steps[1:])
    if steps and steps[0] == "metadata" and pod.meta is not None:
        return pod.meta.path + tuple(steps[1:])
    return pod.spec.path


def verdict(pod: PodView, level: str, version: str) -> list[pss.PSSViolation]:
    try:
        # the same objects (not copies) for every level: one evaluation per pod and version
        return pss.evaluate_shared(pod.meta.data if pod.meta is not None else None, pod.spec.data, level, version)
    except pss.PSSInputError as exc:
        raise NotEvaluated(f"Pod Security Standards cannot judge this pod: {exc}") from None


def _report(pod: PodView, level: str, version: str) -> Iterator[Violation]:
    found = verdict(pod, level, version)
    if not found:
        return
    shown = pss.LATEST if version == "latest" else version
    controls = sorted({v.control for v in found})
    detail = "; ".join(f"{v.control}: {v.field}={v.value}" for v in found[:12])
    more = f" and {len(found) - 12} more" if len(found) > 12 else ""
    yield Violation(
        f"rejected at {level} ({shown}) by {plural(len(controls), 'control')} [{', '.join(controls)}]: {detail}{more}",
        field_path(pod, found[0].field),
    )


@check(
    id="KF-PSS-001",
    name="pss-baseline-violation",
    title="Pod would be rejected by Pod Security admission at baseline",
    verified="Pod would be admitted by Pod Security admission at baseline",
    severity=Severity.HIGH,
    target="pod",
    options=PSSOptions,
    mappings=Mappings(
        pss=("baseline",),
        nsa=("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security",),
        mitre=("T1611",),
        owasp=("K01",),
        kubescape=("C-0193",),
    ),
    remediation="Fix each listed control (see `kubefort explain` of the matching KF-POD check), or run the workload in a namespace whose policy is deliberately privileged.",
)
def pss_baseline_violation(pod: PodView, ctx: CheckContext[PSSOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Evaluates the pod (or pod template) exactly as the Kubernetes Pod Security admission
    plugin does at the **baseline** level: host namespaces, privileged containers, added
    capabilities beyond the baseline set, hostPath volumes, host ports, AppArmor, SELinux,
    `/proc` mount type, seccomp `Unconfined`, unsafe sysctls, Windows host-process, and probe or
    lifecycle `host` fields (from v1.34), each as the versioned policy defines it. The message
    lists every control that rejects it, with the field and the offending value.

    ## Why is this bad?
    Baseline is the minimum the Kubernetes project considers safe for ordinary workloads: it
    blocks the known privilege escalations to the node. A namespace labelled
    `pod-security.kubernetes.io/enforce: baseline` rejects this pod, and a cluster-wide default
    of baseline would too.

    ## Example
    ```yaml
    spec:
      hostNetwork: true
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
        securityContext:
          capabilities: {add: ["SYS_ADMIN"]}
    ```

    ## How to fix
    ```yaml
    spec:
      containers:
      - name: app
        image: registry.example.com/app:1.4.2
        securityContext:
          capabilities: {drop: ["ALL"]}
    ```

    ## Options
    `version` (default `latest`): the policy version, as in `enforce-version` labels (`v1.29`).
    Set with `--pss-version` or `.kubefort.yaml` `options: {KF-PSS-001: {version: v1.29}}`.

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/
    """
    return _report(pod, "baseline", ctx.options.version)


@check(
    id="KF-PSS-002",
    name="pss-restricted-violation",
    title="Pod would be rejected by Pod Security admission at restricted",
    verified="Pod would be admitted by Pod Security admission at restricted",
    severity=Severity.MEDIUM,
    target="pod",
    options=PSSOptions,
    mappings=Mappings(
        pss=("restricted",),
        nsa=("NSA-CISA Kubernetes Hardening Guide: Kubernetes Pod security",),
        mitre=("T1611", "T1548"),
        owasp=("K01",),
        kubescape=("C-0193",),
    ),
    remediation="Run as non-root, drop ALL capabilities, set allowPrivilegeEscalation: false and seccompProfile RuntimeDefault, and use only the allowed volume types.",
)
def pss_restricted_violation(pod: PodView, ctx: CheckContext[PSSOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Evaluates the pod exactly as the Pod Security admission plugin does at the **restricted**
    level, which includes every baseline control plus: only the allowed volume types,
    `allowPrivilegeEscalation: false`, `runAsNonRoot: true`, no `runAsUser: 0`, seccomp
    `RuntimeDefault` or `Localhost`, capabilities dropping `ALL` and adding at most
    `NET_BIND_SERVICE`, with the exemptions the versioned policy grants (Windows pods, user
    namespaces). The message lists every rejecting control with field and value.

    ## Why is this bad?
    Restricted is the hardened profile for workloads that can run with least privilege. A team
    that wants to switch a namespace to `enforce: restricted` needs to know, before the switch,
    which workloads would stop being admitted; and a pod that passes restricted leaves an
    attacker who controls it with very little to work with.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    securityContext:
      runAsNonRoot: true
      seccompProfile: {type: RuntimeDefault}
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        allowPrivilegeEscalation: false
        capabilities: {drop: ["ALL"]}
    ```

    ## Options
    `version` (default `latest`), as for KF-PSS-001.

    ## References
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    - https://kubernetes.io/docs/concepts/security/pod-security-admission/
    """
    return _report(pod, "restricted", ctx.options.version)


# ---------------------------------------------------------------------------------------------
# `kubefort scan --pss LEVEL [--pss-version vX.Y]`: one level's check, and its verdict per object
# ---------------------------------------------------------------------------------------------
LEVELS = ("baseline", "restricted")
_LEVEL_CHECK = {"baseline": pss_baseline_violation, "restricted": pss_restricted_violation}


def check_ids() -> tuple[str, ...]:
    """The IDs of the PSS verdict checks (they share one `version` option)."""
    return tuple(_LEVEL_CHECK[level].meta.id for level in LEVELS)  # type: ignore[attr-defined]


def with_version(options: dict[str, object], version: str | None) -> dict[str, object]:
    """`options` with one policy version for every PSS check: `version`, else the one the config
    gives either check, else latest. Raises ValueError for a version that does not exist."""
    ids = check_ids()
    if version is None:
        given = next((o for o in (options.get(i) for i in reversed(ids)) if isinstance(o, PSSOptions)), None)
        version = given.version if given is not None else "latest"
    opts = PSSOptions(version=version)
    return {**options, **dict.fromkeys(ids, opts)}


def select_level(level: str, registry: Registry) -> Callable[[list[CheckMeta]], list[CheckMeta]]:
    """A selection rewrite for `--pss LEVEL`: that level's check only (restricted includes every
    baseline control), added when the selection did not have it."""
    keep = _LEVEL_CHECK[level].meta.id  # type: ignore[attr-defined]
    ids = set(check_ids())

    def adjust(chosen: list[CheckMeta]) -> list[CheckMeta]:
        chosen = [m for m in chosen if m.id not in ids or m.id == keep]
        if keep not in {m.id for m in chosen}:
            chosen.append(registry.get(keep))
        return chosen

    return adjust


def admission_summary(pods: list[PodView], error: NotEvaluated | None, *, level: str, version: str) -> dict[str, Any]:
    """The `pss` member of a JSON report object: would admission at LEVEL:VERSION accept it?"""
    if error is not None:
        return {"pss": {"level": level, "version": version, "allowed": None, "error": error.reason, "violations": []}}
    out: dict[str, Any] = {"level": level, "version": version, "allowed": True, "violations": []}
    try:
        for pod in pods:
            for v in verdict(pod, level, version):
                out["allowed"] = False
                out["violations"].append(
                    {"control": v.control, "field": format_path(field_path(pod, v.field)), "value": v.value}
                )
    except NotEvaluated as exc:
        out["allowed"] = None
        out["error"] = exc.reason
    return {"pss": out}


def object_report(level: str, version: str) -> Callable[[list[PodView], NotEvaluated | None], dict[str, Any]]:
    """The per-object report addition of `--pss LEVEL` (EngineSettings.object_report)."""
    return functools.partial(admission_summary, level=level, version=version)
