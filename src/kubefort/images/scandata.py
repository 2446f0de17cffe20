"""How scan results reach the KF-IMG scan checks (KF-IMG-007..009), and how they are matched.

One path, two sources, both turned on by options of those checks (`ImageScanOptions`, off
until set, so a scan without scan data runs none of them):

* **files**: `.kubefort.yaml` `image_scans: {files: [...]}` (paths relative to the config file;
  directories give their `*.json` files) sets `scans` for every check that takes scan data.
  They are read once per process (cached by path, size and modification time) whatever the
  number of checks and analysis units.
* **trivy-operator**: `image_scans: {vulnerability_reports: true}` makes the checks read the
  `VulnerabilityReport` objects (aquasecurity.github.io/v1alpha1) of the scanned input: a live
  cluster, a snapshot, or manifests that contain them. They are objects of the analysis unit
  (the checks declare `needs=("VulnerabilityReport",)`), so a report from one unit never judges
  another unit's workloads.

A file that cannot be read makes every check that uses it not evaluated, with the reason:
results computed without part of the data would be passes nobody can trust.

Matching (`ScanIndex.find`): an image is its normalised repository and, when known, the digests
it is pinned to or that its pods run; a scan matches by repository and digest. Without a known
digest (a manifest pulled by tag), a scan matches by repository and tag. A scan that names a
digest never matches a pod known to run another one: that is a scan of other content. The
newest matching scan wins.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubefort.model import OffUntilSet, Resource

if TYPE_CHECKING:  # the readers are imported when scan data is read: a scan without it never loads them
    from kubefort.images.vulns import ImageScan

__all__ = ["ImageScanOptions", "ScanIndex", "apply_config", "load_files", "scan_index"]


@dataclass(frozen=True, slots=True)
class ImageScanOptions(OffUntilSet):
    """What every scan-data check takes; set once for all of them with `image_scans:` in `.kubefort.yaml`."""

    scans: tuple[str, ...] = ()  # scanner files or directories (relative to the working directory here)
    vulnerability_reports: bool = False  # read trivy-operator VulnerabilityReport objects of the input

    @property
    def off(self) -> bool:
        return not self.scans and not self.vulnerability_reports


class ScanIndex:
    """Scans by (repository, digest) and (repository, tag), and the errors met reading them."""

    def __init__(self, scans: Iterable[ImageScan], errors: Sequence[str] = ()) -> None:
        self.scans = list(scans)
        self.errors = list(errors)
        self.by_digest: dict[tuple[str, str], list[ImageScan]] = {}
        self.by_tag: dict[tuple[str, str], list[ImageScan]] = {}
        self.digested: set[tuple[str, str]] = set()  # (repository, tag) pairs some scan knows a digest of
        for s in self.scans:
            for r in s.refs:
                if r.digest is not None:
                    self.by_digest.setdefault((r.repository, r.digest), []).append(s)
                if r.tag is not None:
                    self.by_tag.setdefault((r.repository, r.tag), []).append(s)

    def __len__(self) -> int:
        return len(self.scans)

    def find(self, repository: str, tag: str | None, digests: Iterable[str] = ()) -> ImageScan | None:
        """The newest scan of the image (see the module's matching rules), or None."""
        digests = list(digests)
        found: list[ImageScan] = []
        if digests:
            for d in digests:
                found += self.by_digest.get((repository, d), ())
            if tag is not None:  # a scan by tag alone (no digest named) is of the tag, whatever it pointed at
                found += [
                    s
                    for s in self.by_tag.get((repository, tag), ())
                    if not any(r.digest for r in s.refs if r.repository == repository)
                ]
        elif tag is not None:
            found = list(self.by_tag.get((repository, tag), ()))
        if not found:
            return None
        return max(found, key=_newest)


def _newest(s: ImageScan) -> tuple[bool, float]:
    return (s.scanned_at is not None, s.scanned_at.timestamp() if s.scanned_at else 0.0)


# ---------------------------------------------------------------------------------- loading
def _stat_key(paths: Sequence[str]) -> tuple[tuple[tuple[str, int, int], ...], tuple[str, ...]]:
    from kubefort.images.vulns import ScanError, scan_files

    files: list[tuple[str, int, int]] = []
    errors: list[str] = []
    try:
        for f in scan_files(paths):
            try:
                st = f.stat()
            except OSError as exc:
                errors.append(f"cannot read {f}: {exc.strerror or exc}")
                continue
            files.append((str(f), st.st_size, st.st_mtime_ns))
    except (ScanError, OSError) as exc:
        errors.append(str(exc))
    return tuple(files), tuple(errors)


@functools.lru_cache(maxsize=16)
def _read_files(files: tuple[tuple[str, int, int], ...]) -> tuple[tuple[ImageScan, ...], tuple[str, ...]]:
    from kubefort.images.vulns import ScanError, read_scan_file

    scans: list[ImageScan] = []
    errors: list[str] = []
    for name, _size, _mtime in files:
        try:
            scans += read_scan_file(name)
        except ScanError as exc:
            errors.append(str(exc))
    return tuple(scans), tuple(errors)


def load_files(paths: Sequence[str]) -> tuple[list[ImageScan], list[str]]:
    """Every scan in the files PATHs name, and every error met (read once per process while the
    files do not change)."""
    files, errors = _stat_key(paths)
    if not files and not errors:
        errors = (f"no scan file (*.json) found in {', '.join(paths)}",)
    scans, read_errors = _read_files(files)
    return list(scans), [*errors, *read_errors]


def reports_of(resources: Iterable[Resource]) -> tuple[list[ImageScan], list[str]]:
    from kubefort.images.vulns import ScanError, read_vulnerability_report

    scans: list[ImageScan] = []
    errors: list[str] = []
    for r in resources:
        if r.id.kind != "VulnerabilityReport" or not r.id.api_version.startswith("aquasecurity.github.io/"):
            continue
        try:
            scans.append(read_vulnerability_report(r.obj, str(r.id)))
        except ScanError as exc:
            errors.append(str(exc))
    return scans, errors


def scan_index(options: ImageScanOptions, reports: Iterable[Resource]) -> ScanIndex:
    """The scan data the options turn on: files, the unit's VulnerabilityReports, or both."""
    scans: list[ImageScan] = []
    errors: list[str] = []
    if options.scans:
        s, e = load_files(options.scans)
        scans += s
        errors += e
    if options.vulnerability_reports:
        s, e = reports_of(reports)
        scans += s
        errors += e
    return ScanIndex(scans, errors)


# ---------------------------------------------------------------------------------- config
_KEYS = {"files", "vulnerability_reports"}


def apply_config(options: dict[str, object], metas: Iterable[Any], raw: object, config_path: Path) -> None:
    """`.kubefort.yaml` `image_scans:` into the options of every check that takes scan data
    (options classes derived from ImageScanOptions), over what `options:` set for them.
    Relative `files` are relative to the config file. Raises ValueError with the reason."""
    if not isinstance(raw, dict) or set(raw) - _KEYS:
        raise ValueError(
            "image_scans: expected a mapping with 'files' (a list of paths) and/or 'vulnerability_reports' (true/false)"
        )
    files = raw.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise ValueError(f"image_scans.files: expected a list of paths, got {files!r}")
    reports = raw.get("vulnerability_reports", False)
    if not isinstance(reports, bool):
        raise ValueError(f"image_scans.vulnerability_reports: expected true or false, got {reports!r}")
    base = config_path.parent
    resolved = tuple(f if os.path.isabs(f) else str(base / f) for f in files)
    for m in metas:
        cls = m.options
        if not (isinstance(cls, type) and issubclass(cls, ImageScanOptions)):
            continue
        current = options.get(m.id)
        current = current if isinstance(current, cls) else cls()
        options[m.id] = replace(
            current,
            scans=current.scans or resolved,
            vulnerability_reports=current.vulnerability_reports or reports,
        )
