"""Scanner output read into one model: which image was scanned, when, and what was found.

Four formats, recognised by their content (never by the file name):

| format | recognised by | image | scanned at | per vulnerability |
|---|---|---|---|---|
| Trivy JSON (`trivy image -f json`, pkg/types/report.go) | `SchemaVersion` and `ArtifactName` | `ArtifactName`, `Metadata.RepoDigests`, `Metadata.RepoTags` | `CreatedAt` | `Results[].Vulnerabilities[]`: `VulnerabilityID`, `Severity`, `FixedVersion`, `PublishedDate` |
| Grype JSON (`grype -o json`, grype/presenter/models) | `matches` and `descriptor` | `source.target`: `userInput`, `repoDigests`, `manifestDigest`, `tags` | `descriptor.timestamp` | `matches[].vulnerability`: `id`, `severity`, `fix.state`/`fix.versions`, `fix.available[].date` |
| CycloneDX 1.4-1.6 JSON | `bomFormat: CycloneDX` | `metadata.component` of type `container`: its purl (`pkg:oci/...?repository_url=`), Trivy's `aquasecurity:trivy:RepoDigest`/`RepoTag` properties, or its name | `metadata.timestamp` | `vulnerabilities[]`: `id`, the highest `ratings[].severity`, `published`, `affects[].versions[]` with status `unaffected` (fixed), `analysis.state` (VEX) |
| trivy-operator `VulnerabilityReport` (aquasecurity.github.io/v1alpha1, one object, a List, or objects of a scanned cluster) | `kind: VulnerabilityReport` | `report.registry.server` + `report.artifact.repository`, `tag`, `digest` | `report.updateTimestamp` | `report.vulnerabilities[]`: `vulnerabilityID`, `severity`, `fixedVersion`, `publishedDate` |

Severities are one vocabulary: critical, high, medium, low, unknown (Grype's `Negligible` and
CycloneDX's `info`/`none` are low; `moderate` is medium). A CycloneDX VEX state `not_affected`,
`false_positive`, `resolved` or `resolved_with_pedigree` suppresses the vulnerability (it is
kept, marked, and never counted or judged); `exploitable` and `in_triage` do not.

Reads are bounded (`MAX_SCAN_BYTES`, 64 MiB by default); a file that is not JSON, or JSON that is
none of the four formats, or a document whose fields have the wrong types, raises ScanError with
the file and the reason, never another exception.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from kubefort.images import SEVERITIES
from kubefort.images.inventory import normalize_reference
from kubefort.kube.imageref import ImageRefError, is_tag

__all__ = [
    "FORMATS",
    "MAX_SCAN_BYTES",
    "SEVERITIES",
    "SUPPRESSING_VEX",
    "ImageScan",
    "ScanError",
    "ScanRef",
    "Vulnerability",
    "parse_time",
    "read_document",
    "read_scan_file",
    "read_vulnerability_report",
    "scan_files",
]

MAX_SCAN_BYTES = 64 * 1024 * 1024
FORMATS = ("trivy", "grype", "cyclonedx", "trivy-operator")

_SEVERITY_WORDS = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    "negligible": "low",
    "info": "low",
    "none": "low",
}
# CycloneDX impactAnalysisState (bom-1.6.schema.json): the states that say the image is not affected
SUPPRESSING_VEX = frozenset({"not_affected", "false_positive", "resolved", "resolved_with_pedigree"})
CYCLONEDX_VERSIONS = ("1.4", "1.5", "1.6")
OPERATOR_GROUP = "aquasecurity.github.io/"


class ScanError(Exception):
    """A scanner file or object kubefort cannot read: the message names it and says why."""


@dataclass(frozen=True, slots=True)
class ScanRef:
    """One name of the scanned image: normalised repository, and the tag or digest it was known by."""

    repository: str
    tag: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class Vulnerability:
    id: str
    severity: str  # one of SEVERITIES
    package: str = ""
    installed: str = ""
    fixed: tuple[str, ...] = ()  # versions that fix it
    fix_available: bool = False
    published: dt.datetime | None = None
    fix_date: dt.datetime | None = None  # when the fix was published (Grype's fix.available[].date)
    vex: str | None = None  # CycloneDX analysis.state

    @property
    def suppressed(self) -> bool:
        return self.vex in SUPPRESSING_VEX

    @property
    def dated(self) -> dt.datetime | None:
        """The date a fix's age is counted from: the fix's own date when known, else the vulnerability's publication."""
        return self.fix_date or self.published


@dataclass(frozen=True, slots=True)
class ImageScan:
    source: str  # file path, or `VulnerabilityReport/ns/name`
    format: str  # one of FORMATS
    refs: tuple[ScanRef, ...]
    scanned_at: dt.datetime | None
    vulnerabilities: tuple[Vulnerability, ...]

    @property
    def image(self) -> str:
        """The first name, for messages."""
        r = self.refs[0]
        return r.repository + (f":{r.tag}" if r.tag else "") + (f"@{r.digest}" if r.digest else "")

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITIES, 0)
        for v in self.vulnerabilities:
            if not v.suppressed:
                out[v.severity] += 1
        return out


# ---------------------------------------------------------------------------------- helpers
def _severity(text: object) -> str:
    return _SEVERITY_WORDS.get(text.strip().lower(), "unknown") if isinstance(text, str) else "unknown"


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(text: object) -> dt.datetime | None:
    return _parse_time(text) if isinstance(text, str) else None


@functools.lru_cache(maxsize=4096)  # the same dates recur across a report's vulnerabilities
def _parse_time(text: str) -> dt.datetime | None:
    """RFC 3339 / ISO 8601 timestamps as the scanners write them (Go's nanoseconds, `Z`, a date
    alone), in UTC; None for anything else."""
    if not text.strip():
        return None
    t = _FRACTION.sub(r"\1", text.strip())
    try:
        value = dt.datetime.fromisoformat(t)
    except ValueError:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _dict(v: object) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: object) -> list[Any]:
    return v if isinstance(v, list) else []


def _str(v: object) -> str:
    return v if isinstance(v, str) else ""


def _ref(text: str, tag: str | None = None) -> ScanRef | None:
    """A reference written by a scanner, normalised; None when it is not an image reference
    (a tar file, a directory)."""
    try:
        repo, t, digest = normalize_reference(text)
    except ImageRefError:
        return None
    if t is None:
        t = tag if tag is not None else ("latest" if digest is None else None)  # the kubelet's default tag
    return ScanRef(repo, t, digest)


def _unique(refs: Iterable[ScanRef | None]) -> tuple[ScanRef, ...]:
    return tuple(dict.fromkeys(r for r in refs if r is not None))


def _fixed_list(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())  # Trivy joins several with ", "


# ---------------------------------------------------------------------------------- formats
def _trivy(doc: dict[str, Any], source: str) -> list[ImageScan]:
    meta = _dict(doc.get("Metadata"))
    artifact = _ref(_str(doc.get("ArtifactName")))
    refs: list[ScanRef | None] = [artifact]
    for rd in _list(meta.get("RepoDigests")):
        r = _ref(_str(rd))
        if r is not None and artifact is not None and r.repository == artifact.repository:
            r = ScanRef(r.repository, artifact.tag, r.digest)
        refs.append(r)
    refs += [_ref(_str(t)) for t in _list(meta.get("RepoTags"))]
    vulns = []
    for result in _list(doc.get("Results")):
        for v in _list(_dict(result).get("Vulnerabilities")):
            v = _dict(v)
            fixed = _fixed_list(_str(v.get("FixedVersion")))
            vulns.append(
                Vulnerability(
                    id=_str(v.get("VulnerabilityID")),
                    severity=_severity(v.get("Severity")),
                    package=_str(v.get("PkgName")),
                    installed=_str(v.get("InstalledVersion")),
                    fixed=fixed,
                    fix_available=bool(fixed),
                    published=parse_time(v.get("PublishedDate")),
                )
            )
    return [_scan(source, "trivy", refs, parse_time(doc.get("CreatedAt")), vulns)]


def _grype(doc: dict[str, Any], source: str) -> list[ImageScan]:
    src = _dict(doc.get("source"))
    if src.get("type") != "image":
        raise ScanError(f"{source}: a Grype report of a {src.get('type')!r} source, not of a container image")
    target = _dict(src.get("target"))
    user = _ref(_str(target.get("userInput")))
    refs: list[ScanRef | None] = [user]
    for rd in _list(target.get("repoDigests")):
        r = _ref(_str(rd))
        if r is not None and user is not None and r.repository == user.repository:
            r = ScanRef(r.repository, user.tag, r.digest)
        refs.append(r)
    manifest = _str(target.get("manifestDigest"))
    if user is not None and manifest:
        refs.append(_ref(f"{user.repository}@{manifest}"))
    refs += [_ref(_str(t)) for t in _list(target.get("tags"))]
    vulns = []
    for m in _list(doc.get("matches")):
        m = _dict(m)
        v, art = _dict(m.get("vulnerability")), _dict(m.get("artifact"))
        fix = _dict(v.get("fix"))
        versions = tuple(x for x in _list(fix.get("versions")) if isinstance(x, str) and x)
        dates = [d for a in _list(fix.get("available")) if (d := parse_time(_dict(a).get("date"))) is not None]
        vulns.append(
            Vulnerability(
                id=_str(v.get("id")),
                severity=_severity(v.get("severity")),
                package=_str(art.get("name")),
                installed=_str(art.get("version")),
                fixed=versions,
                fix_available=fix.get("state") == "fixed" or bool(versions),
                fix_date=min(dates) if dates else None,
            )
        )
    return [_scan(source, "grype", refs, parse_time(_dict(doc.get("descriptor")).get("timestamp")), vulns)]


def _purl_ref(purl: str) -> ScanRef | None:
    """`pkg:oci/nginx@sha256%3A...?repository_url=docker.io/library/nginx&tag=1.25` (purl-spec's oci type)."""
    if not purl.startswith("pkg:oci/"):
        return None
    body, _, query = purl[len("pkg:oci/") :].partition("?")
    name, _, version = body.partition("@")
    params = urllib.parse.parse_qs(query)
    repo_url = params.get("repository_url", [""])[0] or name
    digest = urllib.parse.unquote(version) or None
    tag = params.get("tag", [None])[0]
    base = _ref(repo_url)
    if base is None:
        return None
    return ScanRef(base.repository, tag, digest if digest and digest.startswith("sha") else None)


def _cyclonedx(doc: dict[str, Any], source: str) -> list[ImageScan]:
    version = doc.get("specVersion")
    if version not in CYCLONEDX_VERSIONS:
        raise ScanError(f"{source}: CycloneDX specVersion {version!r} is not supported (1.4, 1.5 or 1.6)")
    meta = _dict(doc.get("metadata"))
    comp = _dict(meta.get("component"))
    if comp.get("type") != "container":
        raise ScanError(
            f"{source}: this CycloneDX document describes no container image (metadata.component.type is "
            f"{comp.get('type')!r}, not 'container')"
        )
    props = {_str(_dict(p).get("name")): _str(_dict(p).get("value")) for p in _list(comp.get("properties"))}
    name, version = _str(comp.get("name")), _str(comp.get("version"))
    # the component's version is the tag (syft: name "busybox", version "1.36") or the digest
    if ":" in version and not is_tag(version):
        named = _ref(f"{name}@{version}")
    else:
        named = _ref(name, version if version and is_tag(version) else None)
    refs: list[ScanRef | None] = [_purl_ref(_str(comp.get("purl"))), named]
    for key, value in props.items():
        if key in ("aquasecurity:trivy:RepoDigest", "aquasecurity:trivy:RepoTag"):
            refs.append(_ref(value))
    components = {_str(_dict(c).get("bom-ref")): _dict(c) for c in _list(doc.get("components"))}
    vulns = []
    for v in _list(doc.get("vulnerabilities")):
        v = _dict(v)
        ratings = [_severity(_dict(r).get("severity")) for r in _list(v.get("ratings"))]
        known = [s for s in ratings if s != "unknown"]
        fixed: list[str] = []
        package = installed = ""
        for a in _list(v.get("affects")):
            a = _dict(a)
            c = components.get(_str(a.get("ref")), {})
            package, installed = package or _str(c.get("name")), installed or _str(c.get("version"))
            fixed += [
                _str(_dict(x).get("version"))
                for x in _list(a.get("versions"))
                if _dict(x).get("status") == "unaffected" and _str(_dict(x).get("version"))
            ]
        state = _dict(v.get("analysis")).get("state")
        vulns.append(
            Vulnerability(
                id=_str(v.get("id")),
                severity=min(known, key=SEVERITIES.index) if known else "unknown",
                package=package,
                installed=installed,
                fixed=tuple(dict.fromkeys(fixed)),
                fix_available=bool(fixed),
                published=parse_time(v.get("published")),
                vex=state if isinstance(state, str) else None,
            )
        )
    return [_scan(source, "cyclonedx", refs, parse_time(meta.get("timestamp")), vulns)]


def read_vulnerability_report(obj: dict[str, Any], source: str) -> ImageScan:
    """A trivy-operator VulnerabilityReport (aquasecurity.github.io/v1alpha1) object."""
    report = _dict(obj.get("report"))
    art, reg = _dict(report.get("artifact")), _dict(report.get("registry"))
    repo, server = _str(art.get("repository")), _str(reg.get("server"))
    tag, digest = _str(art.get("tag")) or None, _str(art.get("digest")) or None
    base = _ref(f"{server}/{repo}" if server else repo)
    refs = [ScanRef(base.repository, tag, digest)] if base is not None else []
    vulns = []
    for v in _list(report.get("vulnerabilities")):
        v = _dict(v)
        fixed = _fixed_list(_str(v.get("fixedVersion")))
        vulns.append(
            Vulnerability(
                id=_str(v.get("vulnerabilityID")),
                severity=_severity(v.get("severity")),
                package=_str(v.get("resource")),
                installed=_str(v.get("installedVersion")),
                fixed=fixed,
                fix_available=bool(fixed),
                published=parse_time(v.get("publishedDate")),
            )
        )
    return _scan(source, "trivy-operator", refs, parse_time(report.get("updateTimestamp")), vulns)


def _scan(
    source: str, fmt: str, refs: Iterable[ScanRef | None], at: dt.datetime | None, vulns: list[Vulnerability]
) -> ImageScan:
    names = _unique(refs)
    if not names:
        raise ScanError(f"{source}: the {fmt} report names no image reference kubefort can read")
    return ImageScan(source, fmt, names, at, tuple(vulns))


def _is_report(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("kind") == "VulnerabilityReport"
        and _str(obj.get("apiVersion")).startswith(OPERATOR_GROUP)
    )


def _report_name(obj: dict[str, Any]) -> str:
    meta = _dict(obj.get("metadata"))
    ns = _str(meta.get("namespace"))
    return f"VulnerabilityReport/{ns + '/' if ns else ''}{_str(meta.get('name'))}"


def read_document(doc: object, source: str) -> list[ImageScan]:
    """The image scans in one decoded JSON document, whatever its format."""
    if not isinstance(doc, dict):
        raise ScanError(f"{source}: a scan report is a JSON object, this is a JSON {type(doc).__name__}")
    try:
        if "SchemaVersion" in doc and "ArtifactName" in doc:
            return _trivy(doc, source)
        if "matches" in doc and "descriptor" in doc:
            return _grype(doc, source)
        if doc.get("bomFormat") == "CycloneDX":
            return _cyclonedx(doc, source)
        if _is_report(doc):
            return [read_vulnerability_report(doc, f"{source} ({_report_name(doc)})")]
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            items = [i for i in doc["items"] if _is_report(i)]
            if items or not doc["items"]:
                return [read_vulnerability_report(i, f"{source} ({_report_name(i)})") for i in items]
    except (TypeError, ValueError, AttributeError, KeyError) as exc:  # a field of the wrong type deep inside
        raise ScanError(f"{source}: malformed scan report ({type(exc).__name__}: {exc})") from None
    raise ScanError(
        f"{source}: not a scan report kubefort reads (Trivy JSON, Grype JSON, CycloneDX 1.4-1.6 JSON, "
        "or trivy-operator VulnerabilityReports)"
    )


def read_scan_file(path: str | os.PathLike[str], max_bytes: int = MAX_SCAN_BYTES) -> list[ImageScan]:
    """The image scans of one file (several for a List of VulnerabilityReports). Raises ScanError."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ScanError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ScanError(f"{name}: larger than {max_bytes:,} bytes: refused (not a scan report kubefort reads)")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ScanError(f"{name}: not JSON ({exc})") from None
    return read_document(doc, name)


def scan_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """The files PATHs name: a file itself, a directory's `*.json` files (recursively, sorted).
    Raises ScanError for a path that does not exist."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(f for f in path.rglob("*.json") if f.is_file())
        elif path.is_file():
            yield path
        else:
            raise ScanError(f"scan file {path} does not exist")
