"""What a scan with image scan data records for the history (`extras["images"]`, read by the
metrics "images scanned" and "vulnerabilities per image" of `kubefort.history.metrics`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from kubefort.checks.image_scans import find_scan, image_uses
from kubefort.images.scandata import ImageScanOptions, scan_index
from kubefort.model import CheckContext, NotEvaluated, Resource

if TYPE_CHECKING:
    from kubefort.images.vulns import ImageScan

__all__ = ["image_extras", "scan_summary"]

SUMMARY_CHECK = "KF-IMG-007"  # whose scan data the summary reads (the image_scans options it was given)


def scan_summary(ctx: Mapping[str, CheckContext[object]], collected: Sequence[tuple[Resource, bool]]) -> dict[str, int]:
    """`extras["images"]` of a scan with image scan data (`kubefort.history.metrics`: images
    scanned, vulnerabilities per image): the distinct images the scanned workloads run (by
    normalised reference), how many of them have a scan result, their vulnerabilities (not
    suppressed, every severity) and the scan data that could not be read. Empty without scan data."""
    c = ctx.get(SUMMARY_CHECK)
    opts = c.options if c is not None else None
    if not isinstance(opts, ImageScanOptions) or not (opts.scans or opts.vulnerability_reports):
        return {}
    resources = [r for r, _ in collected]
    data = scan_index(opts, [r for r in resources if r.id.kind == "VulnerabilityReport"])
    found: dict[str, ImageScan | None] = {}
    for res in resources:
        try:
            uses = image_uses(res, c.pod_template_paths if c is not None else {}, [])
        except NotEvaluated:
            continue
        for use in uses:
            key = use.name + "".join(f"@{d}" for d in use.digests if d not in use.name)
            if found.get(key) is None:
                found[key] = find_scan(data, use)
    scans = [s for s in found.values() if s is not None]
    return {
        "images": len(found),
        "scanned": len(scans),
        "vulnerabilities": sum(sum(s.counts().values()) for s in scans),
        "scan_data_errors": len(data.errors),
    }


def image_extras(
    ctx: Mapping[str, CheckContext[object]], collected: Sequence[tuple[Resource, bool]]
) -> dict[str, object] | None:
    """`{"images": scan_summary(...)}` for a scan's extras, None without scan data."""
    found = scan_summary(ctx, collected)
    return {"images": found} if found else None
