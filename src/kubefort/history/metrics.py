"""The key security metrics (issue 15): the catalogue, their value in one scan, and over the history.

`METRICS` lists every metric with its unit, definition and the checks that feed it (docs/history.md
explains them one by one). Two kinds:

* scan metrics: computed from one `ScanResult` when the store records it (`scan_metrics`), kept
  with the scan (so the history never reloads findings to draw a trend);
* history metrics: time to remediate and time to detect, from the findings the store tracks
  (`kubefort.history.stats`), and the open findings.

A metric is never 0 for "unknown": when its data is missing it is `available: false` with the
`reason`. When some objects in scope were not evaluated, the value is computed over the evaluated
ones only (left out of numerator and denominator; a count is then a lower bound) and the metric
is `partial: true`, with `not_evaluated` the number left out. Suppressed outcomes (accepted by an
exception or a baseline) count as failed: an accepted risk is still there.

`history_metrics(store, target=..., since=..., now=...)` gives, per metric, the latest value of
each target (`per_target`), the target's value or the fleet aggregate (`value`) and its `trend`
(see `kubefort.history.aggregate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kubefort.model import ScanResult, Status

if TYPE_CHECKING:
    from kubefort.history.store import Store
    from kubefort.registry import Registry

# units: "count", "ratio" (0..1), "seconds", "requests/hour"
COUNT, RATIO, SECONDS, PER_HOUR = "count", "ratio", "seconds", "requests/hour"
OBJECT_SCANS = ("manifests", "cluster", "snapshot")  # the scan kinds that read Kubernetes objects

# the checks that feed the metrics
# the RBAC checks on Role/ClusterRole objects that flag over-permission (one today: a second one would
# need roles failing any of them counted, not outcomes)
ROLE_OVER_PERMISSION = ("KF-RBAC-002",)
DEFAULT_DENY_INGRESS, DEFAULT_DENY_EGRESS = "KF-NET-001", "KF-NET-002"
NON_ROOT = "KF-POD-006"
PRIVILEGED = ("KF-POD-001", "KF-POD-021")  # privileged: true; Windows HostProcess (privileged on Windows)
# the KF-POD checks that judge a (pod or container) securityContext field
SECURITY_CONTEXT = (
    "KF-POD-001",  # privileged
    "KF-POD-005",  # allowPrivilegeEscalation
    "KF-POD-006",  # runAsNonRoot / runAsUser
    "KF-POD-007",  # readOnlyRootFilesystem
    "KF-POD-008",  # runAsUser: 0
    "KF-POD-009",  # runAsUser / runAsGroup below 10000
    "KF-POD-010",  # capabilities.drop
    "KF-POD-011",  # capabilities.add
    "KF-POD-012",  # seccompProfile
    "KF-POD-013",  # appArmorProfile
    "KF-POD-018",  # procMount
    "KF-POD-019",  # sysctls
    "KF-POD-020",  # seLinuxOptions
    "KF-POD-021",  # windowsOptions.hostProcess
    "KF-POD-022",  # runAsGroup / fsGroup / supplementalGroups 0
)
ENCRYPTION_FLAG, ENCRYPTION_CONFIG = "KF-CP-043", "KF-CP-044"
SECRET_LEAKS = ("KF-SEC-001", "KF-SEC-002", "KF-SEC-004")  # credentials written into manifests
LOAD_CHECKS = ("KF-INPUT-001", "KF-INPUT-002", "KF-INPUT-004")  # an input or a type could not be read
AUDIT_READ = "KF-INPUT-006"
NOT_AN_OBJECT_SCAN = "a {kind} scan reads no Kubernetes objects (scan manifests, a cluster or a snapshot)"
NO_IMAGE_DATA = (
    "no image scan data in this scan (image_scans in .kubefort.yaml: scanner reports or the cluster's "
    "VulnerabilityReports): there is nothing to count, and it is not 0"
)
FIXABLE_VULNS = "KF-IMG-007"  # critical/high vulnerabilities with a fix, unpatched longer than allowed


@dataclass(frozen=True, slots=True)
class Metric:
    """One key metric: `source` "scan" (computed per scan) or "history" (from tracked findings)."""

    name: str
    title: str
    unit: str
    practice: str  # the guides' practice it measures
    definition: str
    checks: tuple[str, ...] = ()
    source: str = "scan"
    # scan metrics: value from a scan; None for history metrics and for the never-available ones
    compute: Callable[[ScanFacts], dict[str, Any]] | None = field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------------------------------------
# what one pass over a scan gives the metric functions
# ---------------------------------------------------------------------------------------------
@dataclass(slots=True)
class ScanFacts:
    kind: str
    counts: dict[str, dict[str, int]]  # ScanResult.check_counts()
    run: frozenset[str]  # the checks the scan ran
    objects_by_kind: dict[str, int]  # "<API group>/<kind>" -> objects ("/Pod" for the core group)
    load_gaps: int  # inputs that failed to load, or types that could not be listed
    privileged: set[tuple[Any, ...]] = field(default_factory=set)  # objects with a privileged container
    privileged_ne: set[tuple[Any, ...]] = field(default_factory=set)
    audit: Mapping[str, Any] | None = None
    images: Mapping[str, Any] | None = None  # extras["images"] (kubefort.images.summary)

    def tally(self, check_id: str) -> tuple[int, int, int]:
        """(passed, failed incl. suppressed, not evaluated) of one check."""
        c = self.counts.get(check_id) or {}
        failed = c.get(Status.FAILED.value, 0) + c.get(Status.SUPPRESSED.value, 0)
        return c.get(Status.PASSED.value, 0), failed, c.get(Status.NOT_EVALUATED.value, 0)


def _object_key(o: Any) -> tuple[Any, ...]:
    src = o.source
    where = (src.file, src.doc_index, src.item_path) if src is not None else None
    return (o.resource, where)


def scan_facts(result: ScanResult, kind: str) -> ScanFacts:
    """The counts, object kinds and the objects the metrics name: one pass over the outcomes."""
    counts: dict[str, dict[str, int]] = result.check_counts()
    by_kind: dict[str, int] = {}
    for rid, _src in result.resources:
        key = f"{rid.api_version.rpartition('/')[0]}/{rid.kind}"  # "rbac.authorization.k8s.io/Role"
        by_kind[key] = by_kind.get(key, 0) + 1
    gaps = sum(1 for i in result.inputs if i.error)
    facts = ScanFacts(kind, counts, frozenset(result.checks_run), by_kind, gaps)
    for o in result.outcomes:
        cid = o.check_id
        if cid in PRIVILEGED:
            if o.status in (Status.FAILED, Status.SUPPRESSED):
                facts.privileged.add(_object_key(o))
            elif o.status is Status.NOT_EVALUATED:
                facts.privileged_ne.add(_object_key(o))
        elif cid in LOAD_CHECKS and o.status is not Status.PASSED:
            facts.load_gaps += 1
    audit = result.extras.get("audit")
    facts.audit = audit if isinstance(audit, Mapping) else None
    images = result.extras.get("images")
    facts.images = images if isinstance(images, Mapping) else None
    return facts


# ---------------------------------------------------------------------------------------------
# building a value
# ---------------------------------------------------------------------------------------------
def unavailable(reason: str) -> dict[str, Any]:
    return {"value": None, "available": False, "reason": reason, "partial": False}


def _value(value: float, *, not_evaluated: int = 0, what: str = "", **parts: float) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "available": True, "reason": None, "partial": bool(not_evaluated)}
    if not_evaluated:
        out["not_evaluated"] = not_evaluated
        out["reason"] = f"{not_evaluated} {what} not evaluated: left out of the value"
    out.update(parts)
    return out


def ratio(passed: int, failed: int, not_evaluated: int, what: str) -> dict[str, Any]:
    """passed / (passed + failed); not-evaluated ones in neither (then `partial`)."""
    judged = passed + failed
    if judged == 0:
        if not_evaluated:
            return unavailable(f"all {not_evaluated} {what} in scope were not evaluated")
        return unavailable(f"no {what} in scope")
    return _value(passed / judged, not_evaluated=not_evaluated, what=what, numerator=passed, denominator=judged)


def _not_run(facts: ScanFacts, checks: Iterable[str]) -> str | None:
    missing = [c for c in checks if c not in facts.run]
    if not missing:
        return None
    return f"{', '.join(missing)} did not run in this {facts.kind} scan"


def _check_ratio(check_id: str, what: str) -> Callable[[ScanFacts], dict[str, Any]]:
    def compute(facts: ScanFacts) -> dict[str, Any]:
        reason = _not_run(facts, (check_id,))
        if reason:
            return unavailable(reason)
        return ratio(*facts.tally(check_id), what)

    return compute


def _object_count(kinds: tuple[str, ...], what: str) -> Callable[[ScanFacts], dict[str, Any]]:
    def compute(facts: ScanFacts) -> dict[str, Any]:
        if facts.kind not in OBJECT_SCANS:
            return unavailable(NOT_AN_OBJECT_SCAN.format(kind=facts.kind))
        n = sum(facts.objects_by_kind.get(k, 0) for k in kinds)
        return _value(n, not_evaluated=facts.load_gaps, what=f"inputs or types holding {what} (read failures)")

    return compute


def _some_ran(facts: ScanFacts, checks: tuple[str, ...], out: dict[str, Any]) -> dict[str, Any]:
    """`out` made partial, with the reason, when only some of `checks` ran."""
    skipped = [c for c in checks if c not in facts.run]
    if skipped:
        out["partial"] = True
        out["reason"] = "; ".join(filter(None, (out["reason"], f"{', '.join(skipped)} did not run")))
    return out


def _privileged(facts: ScanFacts) -> dict[str, Any]:
    if not any(c in facts.run for c in PRIVILEGED):
        return unavailable(f"none of {', '.join(PRIVILEGED)} ran in this {facts.kind} scan")
    ne = len(facts.privileged_ne - facts.privileged)
    return _some_ran(facts, PRIVILEGED, _value(len(facts.privileged), not_evaluated=ne, what="pods"))


def _failed_sum(checks: tuple[str, ...], what: str) -> Callable[[ScanFacts], dict[str, Any]]:
    def compute(facts: ScanFacts) -> dict[str, Any]:
        ran = [c for c in checks if c in facts.run]
        if not ran:
            return unavailable(f"none of {', '.join(checks)} ran in this {facts.kind} scan")
        failed = sum(facts.tally(c)[1] for c in ran)
        ne = sum(facts.tally(c)[2] for c in ran)
        return _some_ran(facts, checks, _value(failed, not_evaluated=ne, what=what))

    return compute


def _encrypted(facts: ScanFacts) -> dict[str, Any]:
    reason = _not_run(facts, (ENCRYPTION_FLAG,))
    if reason:
        return unavailable(reason)
    flag_ok, flag_bad, flag_ne = facts.tally(ENCRYPTION_FLAG)
    if flag_ok + flag_bad == 0:
        why = (
            "was not evaluated" if flag_ne else "found no kube-apiserver (run `kubefort node` on a control-plane node)"
        )
        return unavailable(f"{ENCRYPTION_FLAG} {why}")
    conf_ok, conf_bad, conf_ne = facts.tally(ENCRYPTION_CONFIG)
    if flag_ok and not conf_bad and not conf_ok:
        return unavailable(
            f"the API server names an encryption configuration, but {ENCRYPTION_CONFIG} did not judge it "
            + ("(not evaluated)" if conf_ne else "(the file was not read)")
        )
    encrypting = flag_ok if not conf_bad else 0
    return _value(encrypting / (flag_ok + flag_bad), numerator=encrypting, denominator=flag_ok + flag_bad)


def _audit(facts: ScanFacts) -> Mapping[str, Any] | str:
    if facts.audit is None:
        return f"a {facts.kind} scan holds no audit analysis (kubefort audit)"
    return facts.audit


def _audit_coverage(facts: ScanFacts) -> dict[str, Any]:
    audit = _audit(facts)
    if isinstance(audit, str):
        return unavailable(audit)
    cov = audit.get("coverage")
    if not isinstance(cov, Mapping):
        return unavailable("no audit Policy was given (kubefort audit --policy FILE)")
    if cov.get("error"):
        return unavailable(f"the audit Policy could not be evaluated: {cov['error']}")
    rows = [r for r in cov.get("rows") or () if isinstance(r, Mapping)]
    if not rows:
        return unavailable("the audit Policy coverage has no rows")
    recorded = sum(1 for r in rows if r.get("level") not in (None, "None"))
    return _value(recorded / len(rows), numerator=recorded, denominator=len(rows))


def _suspicious(facts: ScanFacts) -> dict[str, Any]:
    audit = _audit(facts)
    if isinstance(audit, str):
        return unavailable(audit)
    ran = sorted(c for c in facts.run if c.startswith("KF-AUDIT-"))
    if not ran:
        return unavailable("no KF-AUDIT detection ran in this audit analysis")
    failed = sum(facts.tally(c)[1] for c in ran)
    ne = sum(facts.tally(c)[2] for c in ran) + facts.tally(AUDIT_READ)[1]
    return _value(failed, not_evaluated=ne, what="requests or events")


def _unix(ts: object) -> float | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return datetime.fromisoformat(ts).timestamp()
    except ValueError:
        return None


def _secret_rate(facts: ScanFacts) -> dict[str, Any]:
    audit = _audit(facts)
    if isinstance(audit, str):
        return unavailable(audit)
    secrets = audit.get("secrets") or {}
    events = audit.get("events") or {}
    first, last = _unix(events.get("first")), _unix(events.get("last"))
    if first is None or last is None or last <= first:
        return unavailable("the audit log spans no time (fewer than two event times)")
    hours = (last - first) / 3600
    n = int(secrets.get("total") or 0)
    return _value(n / hours, numerator=n, denominator=hours)


def _images(facts: ScanFacts) -> Mapping[str, Any] | str:
    """The scan's image summary, or why there is none."""
    if facts.kind not in OBJECT_SCANS:
        return NOT_AN_OBJECT_SCAN.format(kind=facts.kind)
    return facts.images if facts.images is not None else NO_IMAGE_DATA


def _images_scanned(facts: ScanFacts) -> dict[str, Any]:
    found = _images(facts)
    if isinstance(found, str):
        return unavailable(found)
    errors = int(found.get("scan_data_errors", 0))
    out = _value(int(found.get("scanned", 0)), images=int(found.get("images", 0)))
    if errors:
        out["partial"] = True
        out["reason"] = f"{errors} scan data inputs could not be read: their images count as not scanned"
    return out


def _vulns_per_image(facts: ScanFacts) -> dict[str, Any]:
    found = _images(facts)
    if isinstance(found, str):
        return unavailable(found)
    scanned, vulns = int(found.get("scanned", 0)), int(found.get("vulnerabilities", 0))
    if not scanned:
        return unavailable(f"none of the {found.get('images', 0)} images has a scan result")
    return _value(vulns / scanned, numerator=vulns, denominator=scanned)


POD_CHECKS_NOTE = "Pods are Pods and the pod templates of workloads (one per object, as scanned)."
METRICS: tuple[Metric, ...] = (
    Metric(
        "rbac_roles",
        "RBAC roles",
        COUNT,
        "RBAC",
        "Role and ClusterRole objects in the scan (a cluster's built-in roles included).",
        compute=_object_count(("rbac.authorization.k8s.io/Role", "rbac.authorization.k8s.io/ClusterRole"), "roles"),
    ),
    Metric(
        "least_privilege_roles",
        "Least-privilege roles",
        RATIO,
        "RBAC",
        "Share of the Roles and ClusterRoles in scope with no failed RBAC check of the over-permission kind "
        f"({', '.join(ROLE_OVER_PERMISSION)}: no wildcard in verbs, resources or apiGroups). In scope: the roles "
        "the check judges (a release's unchanged built-in roles are not).",
        ROLE_OVER_PERMISSION,
        compute=_check_ratio(ROLE_OVER_PERMISSION[0], "roles"),
    ),
    Metric(
        "network_policies",
        "NetworkPolicies",
        COUNT,
        "Network",
        "NetworkPolicy objects in the scan.",
        compute=_object_count(("networking.k8s.io/NetworkPolicy",), "NetworkPolicies"),
    ),
    Metric(
        "default_deny_ingress_namespaces",
        "Namespaces denying ingress by default",
        RATIO,
        "Network",
        f"Share of Namespaces with a default-deny ingress NetworkPolicy ({DEFAULT_DENY_INGRESS} passed).",
        (DEFAULT_DENY_INGRESS,),
        compute=_check_ratio(DEFAULT_DENY_INGRESS, "namespaces"),
    ),
    Metric(
        "default_deny_egress_namespaces",
        "Namespaces denying egress by default",
        RATIO,
        "Network",
        f"Share of Namespaces with a default-deny egress NetworkPolicy ({DEFAULT_DENY_EGRESS} passed).",
        (DEFAULT_DENY_EGRESS,),
        compute=_check_ratio(DEFAULT_DENY_EGRESS, "namespaces"),
    ),
    Metric(
        "non_root_containers",
        "Containers running as non-root",
        RATIO,
        "Workloads",
        f"Share of containers (init and ephemeral included) that cannot run as root ({NON_ROOT} passed: "
        "runAsNonRoot or a non-zero runAsUser). Counted per container, as the check judges; a pod runs as "
        f"non-root when all its containers do. {POD_CHECKS_NOTE}",
        (NON_ROOT,),
        compute=_check_ratio(NON_ROOT, "containers"),
    ),
    Metric(
        "privileged_pods",
        "Privileged pods",
        COUNT,
        "Workloads",
        "Pods with at least one privileged container (securityContext.privileged: true, KF-POD-001) or a "
        f"Windows HostProcess container (KF-POD-021). {POD_CHECKS_NOTE}",
        PRIVILEGED,
        compute=_privileged,
    ),
    Metric(
        "security_context_violations",
        "Security-context violations",
        COUNT,
        "Workloads",
        "Failed outcomes of the KF-POD checks that judge a pod or container securityContext field "
        "(one per container, or per pod for pod-level fields).",
        SECURITY_CONTEXT,
        compute=_failed_sum(SECURITY_CONTEXT, "containers or pods"),
    ),
    Metric(
        "images_scanned",
        "Images scanned",
        COUNT,
        "Images",
        "Distinct container images (normalised reference, with the digest pods run when known) that the "
        "scanned workloads use and that have a vulnerability scan result in the scan data given "
        "(image_scans: scanner reports, VulnerabilityReports); `images` is how many they use in all.",
        ("KF-IMG-007", "KF-IMG-008"),
        compute=_images_scanned,
    ),
    Metric(
        "vulnerabilities_per_image",
        "Vulnerabilities per image",
        COUNT,
        "Images",
        "Known vulnerabilities (every severity, suppressed ones left out) of the scanned images over the "
        "images scanned (numerator and denominator given).",
        ("KF-IMG-007",),
        compute=_vulns_per_image,
    ),
    Metric(
        "open_findings",
        "Open findings",
        COUNT,
        "Remediation",
        "Findings (failed outcomes; suppressed ones are not tracked) open now: seen in the target's scans and "
        "not absent from a later complete scan.",
        source="history",
    ),
    Metric(
        "time_to_remediate_median",
        "Time to remediate (median)",
        SECONDS,
        "Remediation",
        "Median of fixed - opened over the remediated episodes of findings (a finding reopened later starts "
        "a new episode); fixed is the finish time of the first complete scan without it. Findings still open "
        "have no remediation time yet (see open findings).",
        source="history",
    ),
    Metric(
        "time_to_remediate_p90",
        "Time to remediate (90th percentile)",
        SECONDS,
        "Remediation",
        "90th percentile (nearest rank) of fixed - opened over the remediated episodes, as the median.",
        source="history",
    ),
    Metric(
        "time_to_remediate_vulnerabilities_median",
        "Time to remediate vulnerabilities (median)",
        SECONDS,
        "Remediation",
        "Time to remediate over the episodes of KF-IMG-007 findings only (a workload running an image with a "
        "critical or high vulnerability whose fix is older than allowed), as time_to_remediate_median.",
        (FIXABLE_VULNS,),
        source="history",
    ),
    Metric(
        "time_to_remediate_vulnerabilities_p90",
        "Time to remediate vulnerabilities (90th percentile)",
        SECONDS,
        "Remediation",
        "90th percentile (nearest rank) over the remediated KF-IMG-007 episodes.",
        (FIXABLE_VULNS,),
        source="history",
    ),
    Metric(
        "audit_coverage",
        "Audit coverage",
        RATIO,
        "Audit",
        "Share of the security-relevant request classes (kind of request x verb class x kind of caller, "
        "kubefort/audit/coverage.py) that the cluster's audit Policy records at Metadata level or above, for "
        "every verb of the class. From `kubefort audit --policy FILE`.",
        compute=_audit_coverage,
    ),
    Metric(
        "suspicious_events",
        "Suspicious events",
        COUNT,
        "Audit",
        "Failed outcomes of the KF-AUDIT detections in an audit analysis (one per suspicious request).",
        ("KF-AUDIT-*",),
        compute=_suspicious,
    ),
    Metric(
        "time_to_detect_median",
        "Time to detect (median)",
        SECONDS,
        "Audit",
        "Median of detection - event time over the audit findings: detection is the finish time of the "
        "analysis that first reported the finding, the event time its stageTimestamp.",
        ("KF-AUDIT-*",),
        source="history",
    ),
    Metric(
        "time_to_detect_p90",
        "Time to detect (90th percentile)",
        SECONDS,
        "Audit",
        "90th percentile (nearest rank) of detection - event time over the audit findings, as the median.",
        ("KF-AUDIT-*",),
        source="history",
    ),
    Metric(
        "secrets_encrypted_at_rest",
        "Secrets encrypted at rest",
        RATIO,
        "Secrets",
        f"Share of the API servers judged that encrypt Secrets at rest: {ENCRYPTION_FLAG} passed "
        f"(--encryption-provider-config set) and {ENCRYPTION_CONFIG} passed on the configuration (the first "
        "provider for secrets is a cipher). From `kubefort node` on control-plane nodes (1 or 0 per node).",
        (ENCRYPTION_FLAG, ENCRYPTION_CONFIG),
        compute=_encrypted,
    ),
    Metric(
        "secret_access_rate",
        "Secret access frequency",
        PER_HOUR,
        "Secrets",
        "Requests on core Secrets (get, list, watch, create, update, patch, delete) per hour of audit log: "
        "extras.audit.secrets.total over the time between the first and last event read.",
        compute=_secret_rate,
    ),
    Metric(
        "secret_leaks",
        "Secret leakage incidents",
        COUNT,
        "Secrets",
        "Credentials written where they leak: failed outcomes of KF-SEC-001 (Secret data committed in a "
        "manifest), KF-SEC-002 (literal credential in a container env var) and KF-SEC-004 (credential in a "
        "ConfigMap).",
        SECRET_LEAKS,
        compute=_failed_sum(SECRET_LEAKS, "objects or containers"),
    ),
)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def scan_metrics(result: ScanResult, registry: Registry, kind: str) -> list[dict[str, Any]]:
    """The scan metrics of one scan (JSON-able, in catalogue order): `{name, value, unit, available,
    reason, partial}` and, for ratios and rates, `numerator`/`denominator`; `not_evaluated` when
    objects in scope were left out. O(outcomes); definitions stay in the catalogue (`METRICS`)."""
    del registry  # the feeding checks are the catalogue's; kept for the Store.record contract
    facts = scan_facts(result, kind)
    out: list[dict[str, Any]] = []
    for m in METRICS:
        if m.compute is None:
            continue
        out.append({"name": m.name, "unit": m.unit, **m.compute(facts)})
    return out


def history_metrics(
    store: Store, *, target: str | None = None, since: float | None = None, now: float
) -> list[dict[str, Any]]:
    """Every metric of the catalogue over the stored history (module docstring)."""
    from kubefort.history.aggregate import history_metrics as build

    return build(store, target=target, since=since, now=now)
