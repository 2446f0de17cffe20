"""The official Kubernetes CVE feed (a JSON Feed) -> records with components and version ranges.

The feed (https://kubernetes.io/docs/reference/issues-security/official-cve-feed/index.json) is
generated from the GitHub issues labelled `official-cve-feed`: `content_text` is the issue body,
written by hand. It has no structured version data, so this module reads the "Affected Versions"
and "Fixed Versions" sections of that text. What cannot be read is kept and flagged, never
dropped: a record without ranges means "cannot tell", not "not affected".

A record:

    {"id": "CVE-2023-2431", "cves": ["CVE-2023-2431"], "title": ..., "url": ..., "published": "2023-06-15",
     "components": ["kubelet"], "ranges": [{"introduced": "1.27.0", "last_affected": "1.27.1"}, ...],
     "fixed_versions": ["1.27.2", ...], "unfixed": false, "flags": [], "origin": "feed-text"}

A range holds `introduced` (None: since the beginning) and at most one of `fixed` (first version
without the bug) or `last_affected`; with neither it is open (every later version is affected).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Components the advisories name, and how they spell them.
COMPONENTS = (
    "kube-apiserver",
    "kubelet",
    "kube-proxy",
    "kubectl",
    "kube-controller-manager",
    "kube-scheduler",
    "ingress-nginx",
    "kubernetes-csi-proxy",
    "secrets-store-csi-driver",
    "azure-file-csi-driver",
    "kube-state-metrics",
    "cluster-autoscaler",
    "image-builder",
    "etcd",
)
_ALIASES = {
    "kube apiserver": "kube-apiserver",
    "kube-api-server": "kube-apiserver",
    "apiserver": "kube-apiserver",
    "api server": "kube-apiserver",
    "ingress nginx": "ingress-nginx",
    "csi-proxy": "kubernetes-csi-proxy",
}
_COMPONENT_RE = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(c) for c in sorted((*COMPONENTS, *_ALIASES), key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)
_V = r"v?(\d+\.\d+(?:\.\d+)?)"
_SPAN = re.compile(rf"^{_V}\s*(?:-|–|—|to|through)\s*{_V}$", re.IGNORECASE)
_LE = re.compile(rf"^<=\s*{_V}$", re.IGNORECASE)
_LT = re.compile(rf"^<\s*{_V}$", re.IGNORECASE)
_GE = re.compile(rf"^>=\s*{_V}(?:\s*\(.*\))?$", re.IGNORECASE)
_ONE = re.compile(rf"^{_V}$", re.IGNORECASE)
_ALL = re.compile(r"^all (?:versions|releases)\b", re.IGNORECASE)
_ANY_V = re.compile(r"(?<![\w.@])v?(\d+\.\d+\.\d+)(?![\w.])", re.IGNORECASE)
_HEADING = re.compile(
    r"^(?:#+\s*|\*\*)?\s*(affected versions|fixed versions|affected components?|how do i|how to|am i vulnerable|detection|"
    r"mitigation|acknowledg|additional details|anything else|kubernetes version|what happened|upgrad)",
    re.IGNORECASE,
)
_CVE = re.compile(r"CVE-\d{4}-\d{4,}")
_BIG = 10**6  # patch of a two-part bound: "<= v1.19" means every 1.19.x


def extract(feed: Mapping[str, object]) -> list[dict[str, Any]]:
    """Every item of a parsed feed document -> records (in feed order)."""
    items = feed.get("items")
    if not isinstance(items, list):
        raise ValueError("not a Kubernetes CVE feed: no 'items' list")
    return [extract_item(it) for it in items if isinstance(it, dict)]


def extract_item(item: Mapping[str, object]) -> dict[str, Any]:
    text = _normalize(str(item.get("content_text") or ""))
    summary = str(item.get("summary") or "").strip()
    item_id = str(item.get("id") or "").strip()
    flags: list[str] = []
    affected = _section(text, "affected versions")
    fixed_versions = sorted({_norm(v) for v in _ANY_V.findall(_section(text, "fixed versions"))}, key=_key)
    line_components: list[str] = []
    ranges: list[dict[str, Any]] = []
    open_from: list[tuple[str, str | None]] = []
    for line in affected.splitlines():
        line = line.strip(" -*•\t")
        if not line:
            continue
        comps, rest = _split_component(line)
        line_components += comps
        r = _parse_bound(rest)
        if r is None:
            flags.append(f"unparsed affected line: {line[:80]!r}")
            continue
        if r.get("open") and r.get("introduced") is not None:
            open_from.append((r["introduced"], ",".join(comps) or None))
        r.pop("open", None)
        if comps:
            r["components"] = comps
        ranges.append(r)
    if not affected:
        flags.append("no 'Affected Versions' section")
    ranges = _per_minor(ranges)
    ranges = _bound_open_ranges(ranges, fixed_versions, open_from, flags)
    components = _dedupe(line_components) or _components_from_text(text, summary)
    if not components:
        flags.append("no component named")
    unfixed = bool(ranges) and not fixed_versions and all("fixed" not in r and "last_affected" not in r for r in ranges)
    published = str(item.get("date_published") or "")[:10] or None
    return {
        "id": item_id,
        "cves": _dedupe(_CVE.findall(item_id)) or [item_id],
        "title": summary,
        "url": item.get("url"),
        "external_url": item.get("external_url"),
        "published": published,
        "components": components,
        "ranges": ranges,
        "fixed_versions": fixed_versions,
        "unfixed": unfixed,
        "flags": flags,
        "origin": "feed-text",
    }


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\\([-`*_#<>])", r"\1", text)  # markdown escapes ("v1.11.0 \- 1.11.4")
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links -> their text
    return text.replace("`", "")


def _section(text: str, name: str) -> str:
    """The lines after the heading `name` up to the next heading (markdown or plain)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        bare = line.strip().strip("*").strip()
        m = _HEADING.match(line.strip())
        if m and len(bare) < 80:
            if inside:
                break
            if m.group(1).lower().startswith(name):
                inside = True
                # "**Affected Versions**: kubelet <= v1.2" keeps its tail
                tail = re.sub(
                    r"^(?:#+\s*|\*\*)?\s*" + re.escape(m.group(1)) + r"\s*\**\s*:?\s*",
                    "",
                    line.strip(),
                    flags=re.IGNORECASE,
                )
                if tail:
                    out.append(tail)
            continue
        if inside:
            out.append(line)
    return "\n".join(out).strip()


def _split_component(line: str) -> tuple[list[str], str]:
    m = re.match(r"^([A-Za-z][\w./ -]*?)\s*:?\s+(?=v?\d|<|>|all\b)", line, re.IGNORECASE)
    if not m or re.fullmatch(r"v\d.*", m.group(1), re.IGNORECASE):
        return [], line
    names = [_canonical(p) for p in re.split(r"[/,]| and ", m.group(1))]
    if not all(names):
        return [], line
    return [n for n in names if n], line[m.end() :].strip()


def _canonical(name: str) -> str | None:
    n = name.strip().lower()
    n = _ALIASES.get(n, n)
    return n if n in COMPONENTS else None


def _parse_bound(text: str) -> dict[str, Any] | None:
    t = re.sub(r"\s+", " ", text.strip().rstrip(".,;")).strip()
    t = re.sub(r"\s*\((?:including|and) [^)]*\)$", "", t)
    if _ALL.match(t):
        return {"introduced": None, "open": True}
    if m := _SPAN.match(t):
        return {"introduced": _norm(m.group(1)), "last_affected": _norm(m.group(2), upper=True)}
    if m := _LE.match(t):
        return {"introduced": None, "last_affected": _norm(m.group(1), upper=True)}
    if m := _LT.match(t):
        return {"introduced": None, "fixed": _norm(m.group(1))}
    if m := _GE.match(t):
        return {"introduced": _norm(m.group(1)), "open": True}
    if m := _ONE.match(t):
        return {"introduced": _norm(m.group(1)), "last_affected": _norm(m.group(1), upper=True)}
    return None


def _per_minor(ranges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several "<= v1.27.4" / "< v1.14.3" lines: each but the lowest covers its own minor only."""
    unbounded = [r for r in ranges if r.get("introduced") is None and ("last_affected" in r or "fixed" in r)]
    if len(unbounded) < 2:
        return ranges
    lowest = min(unbounded, key=lambda r: _key(r.get("last_affected") or r["fixed"]))
    for r in unbounded:
        if r is not lowest:
            major, minor = (r.get("last_affected") or r["fixed"]).split(".")[:2]
            r["introduced"] = f"{major}.{minor}.0"
    return ranges


def _bound_open_ranges(
    ranges: list[dict[str, Any]], fixed: list[str], open_from: list[tuple[str, str | None]], flags: list[str]
) -> list[dict[str, Any]]:
    """ ">= v1.8.0" with a list of fixed versions: each fixed minor is affected below its fix,
    older minors entirely, newer minors (fixed on master before their release) not at all."""
    if not open_from or not fixed:
        return ranges
    out = [r for r in ranges if not (r.get("introduced") is not None and "fixed" not in r and "last_affected" not in r)]
    for start, _comp in open_from:
        lowest_minor = None
        for f in fixed:
            if _key(f) < _key(start):
                continue
            major, minor = f.split(".")[:2]
            out.append(
                {"introduced": f"{major}.{minor}.0" if _key(f"{major}.{minor}.0") > _key(start) else start, "fixed": f}
            )
            lowest_minor = lowest_minor or f"{major}.{minor}.0"
        if lowest_minor and _key(start) < _key(lowest_minor):
            out.append({"introduced": start, "fixed": lowest_minor})
    flags.append("open-ended affected range bounded by the fixed versions")
    return out


def _components_from_text(text: str, summary: str) -> list[str]:
    comp = _section(text, "affected component")
    for source in (
        comp,
        *re.findall(r"(?:bug|issue|vulnerability|cve) (?:only )?affects ([^.\n]+)", text, re.IGNORECASE),
        summary,
    ):
        found = _dedupe([c for c in (_canonical(m) for m in _COMPONENT_RE.findall(source)) if c])
        if found:
            return found
    found = [c for c in (_canonical(m) for m in _COMPONENT_RE.findall(text)) if c]
    return [max(set(found), key=found.count)] if found else []


def _norm(v: str, upper: bool = False) -> str:
    parts = v.lower().lstrip("v").split(".")
    if len(parts) == 2:
        parts.append(str(_BIG) if upper else "0")
    return ".".join(str(int(p)) for p in parts[:3])


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".")[:3])


def _dedupe(xs: list[str]) -> list[str]:
    return list(dict.fromkeys(xs))
