"""KF-IMG-007..010: what scanners found in the images workloads run, and what pods actually run.

KF-IMG-007..009 judge scan results (`kubefort.images.scandata`): they are off until
`.kubefort.yaml` gives scan data (`image_scans: {files: [...]}` and/or
`{vulnerability_reports: true}`), so a scan without scan data records none of their outcomes.
Once on, an image without a scan result is never passed: it is not evaluated ("no scan
result"), or a finding of KF-IMG-008 when configured so.

KF-IMG-010 reads pod statuses (`status.containerStatuses[].imageID`, see
`kubefort.images.inventory`): the digests a mutable tag runs across the scanned pods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubefort.checks.images import Image, container_image, normalized_name
from kubefort.images import SEVERITIES
from kubefort.images.scandata import ImageScanOptions, scan_index
from kubefort.kube.apis import require_api_version
from kubefort.kube.pods import ContainerView, PodView, find_pods
from kubefort.model import (
    CheckContext,
    ClusterIndex,
    NotApplicable,
    NotEvaluated,
    Path_,
    Resource,
    Severity,
    Violation,
)
from kubefort.registry import Mappings, check
from kubefort.wording import plural

if TYPE_CHECKING:  # the scanner readers are imported when scan data is read, never by a scan without it
    from kubefort.checks.images import ImageRef
    from kubefort.images.inventory import RunningImage
    from kubefort.images.scandata import ScanIndex
    from kubefort.images.vulns import ImageScan, Vulnerability


# kubefort.images.inventory is imported on first use: a scan that runs no KF-IMG scan check on
# a pod never loads it
def _parse_image_id(text: object) -> RunningImage | None:
    from kubefort.images.inventory import parse_image_id

    return parse_image_id(text)


def _reference_key(ref: ImageRef) -> str:
    from kubefort.images.inventory import reference_key

    return reference_key(ref)


def _pod_statuses(res: Resource) -> dict[tuple[str, str], str | None] | None:
    from kubefort.images.inventory import pod_statuses

    return pod_statuses(res)


NSA = ("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",)
OFF = "off: no scan data configured (image_scans in .kubefort.yaml)"
NO_STATUS = "the pod reports no container statuses (it has not run: manifests carry none)"
MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class FixableVulnOptions(ImageScanOptions):
    """Options of KF-IMG-007."""

    max_fix_age_days: int = 30
    severities: tuple[str, ...] = ("critical", "high")

    def __post_init__(self) -> None:
        if self.max_fix_age_days < 0:
            raise ValueError(f"max_fix_age_days: {self.max_fix_age_days} is negative")
        for s in self.severities:
            if s not in SEVERITIES:
                raise ValueError(f"severities: {s!r} is not one of {', '.join(SEVERITIES)}")


@dataclass(frozen=True, slots=True)
class MissingScanOptions(ImageScanOptions):
    """Options of KF-IMG-008."""

    missing_is_finding: bool = False


@dataclass(frozen=True, slots=True)
class ScanAgeOptions(ImageScanOptions):
    """Options of KF-IMG-009."""

    max_scan_age_days: int = 7

    def __post_init__(self) -> None:
        if self.max_scan_age_days < 0:
            raise ValueError(f"max_scan_age_days: {self.max_scan_age_days} is negative")


# ------------------------------------------------------------------------------------ shared
@dataclass(frozen=True, slots=True)
class _Use:
    container: ContainerView
    image: Image
    digests: tuple[str, ...]  # pinned, else the registry digest the pod's status reports

    @property
    def name(self) -> str:
        return _reference_key(self.image.ref)


def image_uses(res: Resource, paths: Mapping[str, Sequence[Path_]], unknown: list[str]) -> list[_Use]:
    """The images of every container of the object; containers that cannot be read go to `unknown`."""
    statuses = _pod_statuses(res) or {}
    out = []
    for pod in find_pods(res, paths):
        for c in pod.containers():
            try:
                image = container_image(c)
            except NotEvaluated as exc:
                unknown.append(exc.reason)
                continue
            if image is None:
                continue
            if image.ref.digest is not None:
                digests: tuple[str, ...] = (image.ref.digest,)
            else:
                running = _parse_image_id(statuses.get((c.list_key, c.name)))
                digests = (running.digest,) if running is not None and not running.local else ()
            out.append(_Use(c, image, digests))
    return out


def _scan_data(index: ClusterIndex, opts: ImageScanOptions) -> ScanIndex:
    """The scan data the check's options turn on, built once per analysis unit and options."""
    data = index.derived(
        f"image-scans:{opts.scans!r}:{opts.vulnerability_reports}",
        lambda: scan_index(opts, index.kind("VulnerabilityReport")),
    )
    if data.errors:
        raise NotEvaluated("scan data could not be read: " + "; ".join(data.errors[:3]))
    if not len(data):
        where = []
        if opts.scans:
            where.append("the image_scans files")
        if opts.vulnerability_reports:
            where.append("VulnerabilityReport objects")
        raise NotEvaluated(f"no scan data given: none found in {' or '.join(where)}")
    return data


def find_scan(data: ScanIndex, use: _Use) -> ImageScan | None:
    return data.find(normalized_name(use.image.ref), use.image.ref.tag or _default_tag(use), use.digests)


def _default_tag(use: _Use) -> str | None:
    return "latest" if use.image.ref.digest is None else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def finish(violations: list[Violation], unknown: list[str]) -> Iterator[Violation]:
    """Failed when anything failed; else not evaluated when a container could not be judged; else passed."""
    if violations:
        yield from violations
    elif unknown:
        raise NotEvaluated(
            "; ".join(unknown[:MAX_LISTED])
            + (f" (and {len(unknown) - MAX_LISTED} more)" if len(unknown) > MAX_LISTED else "")
        )


def _ids(vulns: list[tuple[Vulnerability, int]]) -> str:
    shown = ", ".join(
        f"{v.id} ({v.severity}, {v.package or '?'} {v.installed} -> {', '.join(v.fixed) or 'fixed'}, {days} days)"
        for v, days in vulns[:MAX_LISTED]
    )
    return shown + (f" and {len(vulns) - MAX_LISTED} more" if len(vulns) > MAX_LISTED else "")


# ------------------------------------------------------------------------------------ checks
@check(
    id="KF-IMG-007",
    name="fixable-vulnerability-not-patched",
    title="Image has a critical or high vulnerability whose fix is older than allowed",
    verified="Image has no critical or high vulnerability with a fix older than allowed",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("@pods",),
    needs=("VulnerabilityReport",),
    options=FixableVulnOptions,
    mappings=Mappings(
        nsa=NSA,
        mitre=("T1190", "T1525"),
        owasp=("K02",),
        kubescape=("C-0083", "C-0084", "C-0085"),
    ),
    remediation="Rebuild or update the image to a version that contains the fixed packages, redeploy, and rescan.",
)
def fixable_vulnerability_not_patched(
    res: Resource, index: ClusterIndex, ctx: CheckContext[FixableVulnOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until scan data is configured** (`image_scans:` in `.kubefort.yaml`, see
    docs/images.md): no outcome at all without it.

    For every object that carries a pod spec, finds the scan result of each container's image
    (init and ephemeral containers too) and flags vulnerabilities of the configured severities
    (critical and high by default) that have a fix available (a fixed version) and whose fix
    is older than `max_fix_age_days` (30 by default). The age is counted from the fix's own
    date where the scanner gives one (Grype's `fix.available[].date`), else from the
    vulnerability's publication date. Vulnerabilities a CycloneDX VEX statement marks
    `not_affected`, `false_positive`, `resolved` or `resolved_with_pedigree` are not counted.

    An image is matched to scans by its normalised repository and digest (pinned, or for a
    running pod the digest its status reports), else by repository and tag.

    ## Options
    - `max_fix_age_days` (integer, default 30): how long a fix may wait.
    - `severities` (list, default `[critical, high]`): which severities count.
    - `scans`, `vulnerability_reports`: the scan data, set for every scan check at once by
      `image_scans:` in `.kubefort.yaml`.

    ```yaml
    # .kubefort.yaml
    image_scans:
      files: [scans/]                 # Trivy, Grype or CycloneDX JSON, relative to this file
      vulnerability_reports: true     # trivy-operator VulnerabilityReports in the input
    options:
      KF-IMG-007: {max_fix_age_days: 14}
    ```

    ## Why is this bad?
    A known vulnerability with a published fix is what attackers scan for first (MITRE ATT&CK
    T1190, Exploit Public-Facing Application); every day the fixed image is not deployed the
    window stays open. The NSA/CISA guide asks for images scanned and patched, measured as
    vulnerabilities per image and time to remediate.

    ## Example
    A Trivy report of `registry.example.com/app:1.4.2` lists CVE-2023-44487 (high, fixed in
    golang.org/x/net 0.17.0, published 2023-10-10), and the Deployment still runs that image.

    ## How to fix
    Rebuild the image with the fixed package versions (or move to the patched upstream tag),
    deploy it, and rescan. A vulnerability that does not affect the image can be declared so
    with a CycloneDX VEX statement (`analysis.state: not_affected`).

    ## Not applicable when
    KF-IMG-007 is off: no scan data configured (image_scans in .kubefort.yaml), the default.
    No object gets an outcome until it is set.

    ## Not evaluated when
    The scan data cannot be read, holds no scan, or has no result for an image of the object
    (KF-IMG-008 reports that); a fixable vulnerability has no date to count its age from; the
    image is not a valid reference.

    ## References
    - https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF
    - https://cyclonedx.org/capabilities/vex/
    - https://aquasecurity.github.io/trivy-operator/latest/docs/crds/vulnerability-report/
    """
    opts = ctx.options
    if opts.off:
        raise NotApplicable(f"KF-IMG-007 is {OFF}")
    data = _scan_data(index, opts)
    unknown: list[str] = []
    violations: list[Violation] = []
    now = _now()
    for use in image_uses(res, ctx.pod_template_paths, unknown):
        scan = find_scan(data, use)
        if scan is None:
            unknown.append(f"{use.container.label()}: no scan result for {use.name}")
            continue
        old: list[tuple[Vulnerability, int]] = []
        undated = 0
        for v in scan.vulnerabilities:
            if v.suppressed or not v.fix_available or v.severity not in opts.severities:
                continue
            when = v.dated
            if when is None:
                undated += 1
                continue
            days = (now - when).days
            if days > opts.max_fix_age_days:
                old.append((v, days))
        if old:
            old.sort(key=lambda x: (SEVERITIES.index(x[0].severity), -x[1], x[0].id))
            violations.append(
                Violation(
                    f"{use.container.label()} runs {use.name}, whose scan ({scan.format}, {scan.source}) lists "
                    f"{len(old)} fixable {'/'.join(opts.severities)} vulnerabilities with a fix older than "
                    f"{opts.max_fix_age_days} days: {_ids(old)}",
                    use.container.at("image"),
                )
            )
        elif undated:
            unknown.append(
                f"{use.container.label()}: {undated} fixable vulnerabilities of {use.name} have no date to count their age from"
            )
    yield from finish(violations, unknown)


@check(
    id="KF-IMG-008",
    name="image-without-scan-result",
    title="Image has no vulnerability scan result",
    verified="Every image has a vulnerability scan result",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("@pods",),
    needs=("VulnerabilityReport",),
    options=MissingScanOptions,
    mappings=Mappings(nsa=NSA, owasp=("K02",)),
    remediation="Scan the image (trivy image, grype, or trivy-operator in the cluster) and give the result to kubefort.",
)
def image_without_scan_result(
    res: Resource, index: ClusterIndex, ctx: CheckContext[MissingScanOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until scan data is configured** (`image_scans:` in `.kubefort.yaml`): no outcome at
    all without it.

    For every object that carries a pod spec, looks for a scan result of each container's image
    (matched as KF-IMG-007 matches). An object whose images all have one passes. An image
    without one makes the object **not evaluated** by default ("no scan result"): a
    scan set that covers part of a fleet is normal while it is being rolled out. With
    `missing_is_finding: true` it is a finding instead: the policy "every image deployed is
    scanned".

    ## Options
    - `missing_is_finding` (boolean, default false): an image without a scan result fails
      the check instead of leaving it not evaluated.

    ```yaml
    options:
      KF-IMG-008: {missing_is_finding: true}
    ```

    ## Why is this bad?
    An image nobody scanned may carry any known vulnerability: "number of images scanned" is
    the first of the guides' image metrics, and an unscanned image is where a supply-chain
    compromise goes unnoticed.

    ## Example
    The scan set has results for `registry.example.com/app` but the workload runs
    `registry.example.com/worker:2.0`, which no scan names.

    ## How to fix
    Scan every image in CI before it is deployed (`trivy image -f json`, `grype -o json`,
    `trivy image -f cyclonedx`), or run trivy-operator in the cluster, and give the results to
    kubefort (`image_scans:`).

    ## Not applicable when
    KF-IMG-008 is off: no scan data configured (image_scans in .kubefort.yaml), the default.
    No object gets an outcome until it is set.

    ## Not evaluated when
    The scan data cannot be read or holds no scan; an image has no scan result and
    `missing_is_finding` is false; the image is not a valid reference.

    ## References
    - https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF
    """
    opts = ctx.options
    if opts.off:
        raise NotApplicable(f"KF-IMG-008 is {OFF}")
    data = _scan_data(index, opts)
    unknown: list[str] = []
    violations: list[Violation] = []
    for use in image_uses(res, ctx.pod_template_paths, unknown):
        if find_scan(data, use) is not None:
            continue
        known = f" (pods run {', '.join(use.digests)})" if use.digests and use.image.ref.digest is None else ""
        if opts.missing_is_finding:
            violations.append(
                Violation(
                    f"{use.container.label()} runs {use.name}{known}, which no scan result covers",
                    use.container.at("image"),
                )
            )
        else:
            unknown.append(f"{use.container.label()}: no scan result for {use.name}{known}")
    yield from finish(violations, unknown)


@check(
    id="KF-IMG-009",
    name="image-scan-outdated",
    title="Image's newest vulnerability scan is older than allowed",
    verified="Every image's newest vulnerability scan is recent",
    severity=Severity.LOW,
    target="cluster",
    kinds=("@pods",),
    needs=("VulnerabilityReport",),
    options=ScanAgeOptions,
    mappings=Mappings(nsa=NSA, owasp=("K02",)),
    remediation="Rescan the image with a current vulnerability database (in CI on a schedule, or let trivy-operator rescan).",
)
def image_scan_outdated(res: Resource, index: ClusterIndex, ctx: CheckContext[ScanAgeOptions]) -> Iterator[Violation]:
    """
    ## What it does
    **Off until scan data is configured** (`image_scans:` in `.kubefort.yaml`): no outcome at
    all without it.

    For every object that carries a pod spec, flags images whose newest scan result is older
    than `max_scan_age_days` (7 by default). The scan's date is the report's own: Trivy's
    `CreatedAt`, Grype's `descriptor.timestamp`, CycloneDX `metadata.timestamp`,
    trivy-operator's `report.updateTimestamp` (never the file's modification time).

    ## Options
    - `max_scan_age_days` (integer, default 7).

    ## Why is this bad?
    Vulnerabilities are published every day: a scan a month old says nothing about the ones
    found since, so an image that was clean then may not be now.

    ## Example
    The only Trivy report of `registry.example.com/app:1.4.2` was created 2024-01-05.

    ## How to fix
    Rescan deployed images on a schedule (trivy-operator rescans on its own:
    `OPERATOR_SCANNER_REPORT_TTL`), and feed the new results to kubefort.

    ## Not applicable when
    KF-IMG-009 is off: no scan data configured (image_scans in .kubefort.yaml), the default.
    No object gets an outcome until it is set.

    ## Not evaluated when
    The scan data cannot be read or holds no scan; an image has no scan result (KF-IMG-008);
    the newest scan has no date; the image is not a valid reference.

    ## References
    - https://aquasecurity.github.io/trivy-operator/latest/tutorials/manage_vulnerability_reports/
    """
    opts = ctx.options
    if opts.off:
        raise NotApplicable(f"KF-IMG-009 is {OFF}")
    data = _scan_data(index, opts)
    unknown: list[str] = []
    violations: list[Violation] = []
    now = _now()
    for use in image_uses(res, ctx.pod_template_paths, unknown):
        scan = find_scan(data, use)
        if scan is None:
            unknown.append(f"{use.container.label()}: no scan result for {use.name}")
        elif scan.scanned_at is None:
            unknown.append(f"{use.container.label()}: the scan of {use.name} ({scan.source}) has no date")
        elif (days := (now - scan.scanned_at).days) > opts.max_scan_age_days:
            violations.append(
                Violation(
                    f"{use.container.label()} runs {use.name}, whose newest scan ({scan.source}) is {days} days old "
                    f"(at most {opts.max_scan_age_days} allowed)",
                    use.container.at("image"),
                )
            )
    yield from finish(violations, unknown)


def _running_by_tag(index: ClusterIndex) -> dict[str, dict[str, set[str]]]:
    """Normalised tag reference -> registry digest -> pods running it, over the unit's Pods."""
    out: dict[str, dict[str, set[str]]] = {}
    for res in index.kind("Pod"):
        try:
            statuses = _pod_statuses(res)
        except NotEvaluated:  # a status the API server would refuse: that pod is judged not evaluated
            continue
        if not statuses or res.id.api_version != "v1":
            continue
        for pod in _pods_or_none(res):
            for c in _containers_or_none(pod):
                try:
                    image = container_image(c)
                except NotEvaluated:
                    continue
                running = _parse_image_id(statuses.get((c.list_key, c.name)))
                if image is None or image.pinned or running is None or running.local:
                    continue
                key = _reference_key(image.ref)
                out.setdefault(key, {}).setdefault(running.digest, set()).add(f"{res.id.namespace}/{res.id.name}")
    return out


def _pods_or_none(res: Resource) -> list[PodView]:
    try:
        return list(find_pods(res))
    except NotEvaluated:
        return []


def _containers_or_none(pod: PodView) -> list[ContainerView]:
    try:
        return list(pod.containers())
    except NotEvaluated:
        return []


@check(
    id="KF-IMG-010",
    name="mutable-tag-runs-several-digests",
    title="A tag runs different image digests, or a pinned image runs another digest",
    verified="Each tag runs one digest, and pinned images run their digest",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("Pod",),
    mappings=Mappings(nsa=NSA, mitre=("T1525", "T1195.002"), owasp=("K02",)),
    remediation="Pin the image by digest (image: repo:tag@sha256:<digest>) and roll the workload out so every pod runs the same content.",
)
def mutable_tag_runs_several_digests(
    res: Resource, index: ClusterIndex, ctx: CheckContext[None]
) -> Iterator[Violation]:
    """
    ## What it does
    For every Pod that reports container statuses (a live cluster or a snapshot), reads the
    digest each container actually runs (`status.containerStatuses[].imageID`, init and
    ephemeral containers too) and flags:

    * a container pulled by tag when pods of the scan run that same tag (normalised: `nginx`
      is `docker.io/library/nginx:latest`) as **more than one digest**: the tag was moved
      while older pods kept the old image;
    * a container whose image is pinned by digest but whose status reports another digest.

    Only registry digests are compared: a status that names only the node's image ID
    (`sha256:...` without repository, an image built or loaded on the node) says nothing about
    the registry's content and leaves that container not evaluated.

    In `kubefort scan --cluster`, Pods that run the same containers as their controller are
    folded into it and not read by cross-object checks: run with `--scan-owned` to compare
    every pod's digests. `kubefort images --cluster` always reads every pod.

    ## Why is this bad?
    Pods of one workload running different content under one tag means the registry, not the
    manifest, decided what runs: a re-pushed tag (a compromised CI job or registry account,
    MITRE ATT&CK T1525 and T1195.002) reaches a node at its next pull while the review saw
    the old image, and a rollback does not roll back.

    ## Example
    Two pods of `web` run `registry.example.com/web:2.1`; one reports
    `registry.example.com/web@sha256:aaaa...`, the other `@sha256:bbbb...`.

    ## How to fix
    Pin the image by digest and roll the workload out:
    ```yaml
    image: registry.example.com/web:2.1@sha256:bbbb...
    ```

    ## Not applicable when
    - The pod reports no container statuses (it has not run: manifests carry none), as a Pod
      in a manifest or one not yet scheduled.
    - A custom resource of another API group that reuses the kind's name `Pod`.

    ## Not evaluated when
    A container's status names only a local image ID, or no imageID at all (not started
    yet), and nothing else fails; the image is not a valid reference.

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
    - https://github.com/containerd/containerd/blob/main/internal/cri/server/container_status.go (imageRef is the repo digest)
    """
    require_api_version(res, "v1")
    statuses = _pod_statuses(res)
    if statuses is None:
        raise NotApplicable(NO_STATUS)
    by_tag = index.derived("image-running-digests", lambda: _running_by_tag(index))
    me = f"{res.id.namespace}/{res.id.name}"
    unknown: list[str] = []
    violations: list[Violation] = []
    for pod in find_pods(res):
        for c in pod.containers():
            try:
                image = container_image(c)
            except NotEvaluated as exc:
                unknown.append(exc.reason)
                continue
            if image is None:
                continue
            running = _parse_image_id(statuses.get((c.list_key, c.name)))
            if running is None or running.local:
                why = "no imageID (not started)" if running is None else f"only the node's image ID {running.digest}"
                unknown.append(f"{c.label()}: its status reports {why}")
                continue
            key = _reference_key(image.ref)
            if image.ref.digest is not None:
                if running.digest != image.ref.digest:
                    violations.append(
                        Violation(f"{c.label()} pins {image.ref.digest} but runs {running.digest}", c.at("image"))
                    )
                continue
            digests = by_tag.get(key, {})
            if len(digests) > 1:
                others = sorted(d for d in digests if d != running.digest)
                pods = sum(len(p) for d, p in digests.items() if d != running.digest and me not in p)
                violations.append(
                    Violation(
                        f"{c.label()} runs {key} as {running.digest}, while the same tag runs as {', '.join(others)} in "
                        f"{plural(pods, 'other pod')}: the tag was moved",
                        c.at("image"),
                    )
                )
    yield from finish(violations, unknown)
