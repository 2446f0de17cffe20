"""Dated data about Kubernetes versions: release and end-of-life dates, known CVEs, runtime support.

Shipped with kubefort in `vulndb/data/` (`releases.json`, `cves.json`); `kubefort db update`
writes a newer `cves.json` to `${XDG_CACHE_HOME:-~/.cache}/kubefort/vulndb/`, which `load()`
prefers while it is at least as new as the shipped one. Nothing here touches the network.

Every answer depends on the data's date (`generated`): a CVE published later, or a minor
released later, is unknown to it, and checks say so rather than pass.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

AFFECTED = "affected"
CANNOT_TELL = "cannot-tell"

# at most 9 digits a part: a longer number is no release (and int() refuses very long ones)
_VERSION = re.compile(r"^\s*v?(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?(?:[-+~_].*)?\s*$", re.IGNORECASE)


@dataclass(frozen=True, order=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int = 0

    @property
    def minor_str(self) -> str:
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def parse_version(text: object) -> Version | None:
    """ "v1.28.3-eks-4f4795d", "v1.27.8-gke.1067004", "v1.29.2+k3s1", "1.30.1+rke2r1" -> Version.

    Vendor and pre-release suffixes are dropped: "v1.31.0-rc.1" counts as 1.31.0.
    """
    if not isinstance(text, str):
        return None
    m = _VERSION.match(text)
    if not m:
        return None
    return Version(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


class MinorEol(TypedDict):
    """End of life of a Kubernetes minor (`version_eol`), or of a cri-o minor, which follows it."""

    minor: str
    released: str | None
    eol: str | None
    past_eol: bool
    days_left: int | None


class RuntimeEol(TypedDict):
    """End of life of a container runtime minor (`runtime_eol`, containerd)."""

    minor: str
    eol: str
    tentative: bool
    past_eol: bool | None  # None: a tentative date that has passed (it may have been extended)
    days_left: int


@dataclass(frozen=True, slots=True)
class VulnDB:
    releases: dict[str, Any]  # releases.json
    cves: dict[str, Any]  # cves.json
    cves_path: str  # where cves.json was read from
    releases_path: str

    @property
    def cves_generated(self) -> str:
        return str(self.cves.get("generated", "unknown"))

    @property
    def releases_generated(self) -> str:
        return str(self.releases.get("generated", "unknown"))

    @property
    def records(self) -> list[dict[str, Any]]:
        return list(self.cves.get("records", []))

    def newest_minor(self) -> Version:
        return max(_minor(r["minor"]) for r in self.releases["kubernetes"])

    def cve_minors_known(self) -> Version:
        """The newest Kubernetes minor the CVE data can speak for (released before it was generated)."""
        gen = _date(self.cves_generated) or dt.date.min
        known = [
            _minor(r["minor"])
            for r in self.releases["kubernetes"]
            if r.get("released") and _data_date(r["released"]) <= gen
        ]
        return max(known) if known else self.newest_minor()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kubefort" / "vulndb"


def _shipped(name: str) -> tuple[dict[str, Any], str]:
    ref = resources.files("kubefort.vulndb") / "data" / name
    return json.loads(ref.read_text(encoding="utf-8")), f"shipped ({name})"


@lru_cache(maxsize=4)
def _load(cache: str) -> VulnDB:
    releases, rpath = _shipped("releases.json")
    cves, cpath = _shipped("cves.json")
    user = Path(cache) / "cves.json"
    if user.is_file():
        try:
            data = json.loads(user.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None  # a damaged user copy is ignored; `kubefort db info` names the file in use
        if (
            isinstance(data, dict)
            and isinstance(data.get("records"), list)
            and str(data.get("generated", "")) >= cves.get("generated", "")
        ):
            cves, cpath = data, str(user)
    return VulnDB(releases=releases, cves=cves, cves_path=cpath, releases_path=rpath)


def load() -> VulnDB:
    """The data: shipped, with the user's `db update` copy of the CVEs when it is at least as new."""
    return _load(str(cache_dir()))


def clear_cache() -> None:
    _load.cache_clear()


def version_eol(minor: str, today: dt.date, db: VulnDB | None = None) -> MinorEol | None:
    """{"minor", "released", "eol", "past_eol", "days_left"} for "1.30" (or "v1.30.2"); None when the data
    does not know that minor (newer than the data). Minors older than the table are past end of life."""
    v = parse_version(minor if minor.count(".") else minor + ".0")
    if v is None:
        raise ValueError(f"not a Kubernetes version: {minor!r}")
    db = db or load()
    table = {_minor(r["minor"]): r for r in db.releases["kubernetes"]}
    key = Version(v.major, v.minor)
    row = table.get(key)
    if row is None:
        if key < min(table):
            return {"minor": key.minor_str, "released": None, "eol": None, "past_eol": True, "days_left": None}
        return None
    eol = _data_date(row["eol"])
    return {
        "minor": key.minor_str,
        "released": row.get("released"),
        "eol": row["eol"],
        "past_eol": today > eol,
        "days_left": (eol - today).days,
    }


def runtime_eol(
    runtime: str, version: Version, today: dt.date, db: VulnDB | None = None
) -> MinorEol | RuntimeEol | None:
    """End of life of a container runtime minor ("containerd", "cri-o"); None when unknown.

    cri-o follows the Kubernetes minors (cri-o 1.N is supported as long as Kubernetes 1.N)."""
    db = db or load()
    if runtime == "cri-o":
        return version_eol(version.minor_str, today, db)
    rows = {_minor(r["minor"]): r for r in db.releases.get("runtimes", {}).get(runtime, [])}
    row = rows.get(Version(version.major, version.minor))
    if row is None or not row.get("eol"):
        return None
    eol = _data_date(row["eol"])
    # a tentative date that has passed may have been extended since: None = cannot tell
    past: bool | None = today > eol if not row.get("tentative") or today <= eol else None
    return {
        "minor": version.minor_str,
        "eol": row["eol"],
        "tentative": bool(row.get("tentative")),
        "past_eol": past,
        "days_left": (eol - today).days,
    }


def cves_for(component: str, version: str | Version, db: VulnDB | None = None) -> list[tuple[dict[str, Any], str]]:
    """Known CVEs of `component` at `version`: (record, "affected" | "cannot-tell").

    "cannot-tell": the record's ranges could not be read (or only partly) and none of the ranges
    that could be read covers the version. Records that do not name the component are skipped.
    """
    v = version if isinstance(version, Version) else parse_version(version)
    if v is None:
        raise ValueError(f"not a version: {version!r}")
    out: list[tuple[dict[str, Any], str]] = []
    for rec in (db or load()).records:
        if component not in rec.get("components", ()):
            continue
        ranges = [r for r in rec.get("ranges", []) if component in r.get("components", [component])]
        if any(_in_range(v, r) for r in ranges):
            out.append((rec, AFFECTED))
        elif not ranges or any(f.startswith("unparsed") for f in rec.get("flags", ())):
            out.append((rec, CANNOT_TELL))
    return out


def _in_range(v: Version, r: dict[str, Any]) -> bool:
    intro = r.get("introduced")
    if intro is not None and v < _full(intro):
        return False
    if r.get("fixed") is not None:
        return v < _full(r["fixed"])
    if r.get("last_affected") is not None:
        return v <= _full(r["last_affected"])
    return True


def _full(text: str) -> Version:
    v = parse_version(text)
    if v is None:
        raise ValueError(f"bad version in data: {text!r}")
    return v


def _minor(text: str) -> Version:
    major, minor = text.split(".")[:2]
    return Version(int(major), int(minor))


def _date(text: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _data_date(text: object) -> dt.date:
    """A date the shipped release data must carry (release and end-of-life dates)."""
    d = _date(text)
    if d is None:
        raise ValueError(f"bad date in data: {text!r}")
    return d
