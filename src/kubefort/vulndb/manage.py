"""Show and update the dated data of `kubefort.vulndb` (what `kubefort db info` and `db update` do).

`fetch` is the only code in kubefort that uses the network: it downloads the official Kubernetes
CVE feed. `read_feed` reads the feed (downloaded, or a copy from a file for air-gapped use) and
runs the extractor; `write_user_copy` writes the result atomically to the user copy that
`vulndb.load()` prefers while it is at least as new as the shipped data.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kubefort import __version__, vulndb
from kubefort.fileio import write_atomically
from kubefort.vulndb import feed

FEED_URL = "https://kubernetes.io/docs/reference/issues-security/official-cve-feed/index.json"
TIMEOUT_S = 30
MAX_BYTES = 50 * 1024 * 1024


def fetch(url: str) -> bytes:
    """The body at `url` (http or https only, at most MAX_BYTES). Raises ValueError or OSError
    (urllib.error.URLError is one)."""
    import urllib.request

    if not url.startswith(("https://", "http://")):
        raise ValueError(f"unsupported URL {url!r} (use --from-file for local files)")
    headers = {"User-Agent": f"kubefort/{__version__}", "Accept": "application/json"}
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, checked above
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - http(s) only, checked above
        body = resp.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError(f"the feed is larger than {MAX_BYTES} bytes")
    return bytes(body)


def read_feed(url: str, from_file: Path | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The feed document (read from `from_file`, else downloaded from `url`) and the CVE records
    extracted from it. Raises OSError or ValueError when it cannot be read or parsed."""
    raw = from_file.read_bytes() if from_file else fetch(url)
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("the feed is not a JSON object")
    return doc, feed.extract(doc)


def feed_date(doc: dict[str, Any]) -> str:
    """The feed's own update date, else the newest item date, else today."""
    updated = str((doc.get("_kubernetes_io") or {}).get("updated_at") or "")[:10]
    if updated:
        return updated
    dates = [str(i.get("date_published") or "")[:10] for i in doc.get("items", []) if isinstance(i, dict)]
    return max([d for d in dates if d] or [dt.datetime.now(dt.UTC).date().isoformat()])


def user_copy() -> Path:
    """Where `db update` writes the CVE data."""
    return vulndb.cache_dir() / "cves.json"


def write_user_copy(records: list[dict[str, Any]], *, generated: str, source: str) -> Path:
    """Write the extracted records as the user copy (atomically, mode 0600) and return its path;
    the next `vulndb.load()` reads the data again."""
    data = {
        "generated": generated,
        "source": source,
        "method": f"kubefort {__version__} db update: kubefort.vulndb.feed.extract over the feed items",
        "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": True,
        "records": records,
    }
    target = user_copy()
    # the cache file stays private to its owner (0600), as it always was
    write_atomically(
        target,
        json.dumps(data, indent=1),
        perms=0o600,
        prefix=".cves-",
        suffix=".json",
        make_parents=True,
        special_directly=False,
    )
    vulndb.clear_cache()
    return target


def summary(data: vulndb.VulnDB) -> dict[str, Any]:
    """What `kubefort db info` shows: dates, counts, sources and where the data was loaded from."""
    recs = data.records
    return {
        "cves": {
            "generated": data.cves_generated,
            "loaded_from": data.cves_path,
            "source": data.cves.get("source"),
            "complete": data.cves.get("complete", True),
            "records": len(recs),
            "by_component": _count(c for r in recs for c in r.get("components", []) or ["(none)"]),
            "without_ranges": sum(1 for r in recs if not r.get("ranges")),
            "curated": sum(1 for r in recs if r.get("origin") == "curated"),
        },
        "releases": {
            "generated": data.releases_generated,
            "loaded_from": data.releases_path,
            "kubernetes_minors": f"1.{min(_minors(data))}-1.{max(_minors(data))}",
            "runtimes": sorted(data.releases.get("runtimes", {})),
        },
        "user_copy": str(user_copy()),
    }


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _minors(data: vulndb.VulnDB) -> list[int]:
    return [int(r["minor"].split(".")[1]) for r in data.releases["kubernetes"]]
