"""`kubefort db`: show and update the dated CVE and release data of `kubefort.vulndb`.

`db update` is the only kubefort command that uses the network: it downloads the official
Kubernetes CVE feed (or reads a downloaded copy with --from-file, for air-gapped use), runs the
extractor and writes the user copy atomically. Registered in `cli.py` with `cli.add_command(db)`.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from kubefort import __version__, vulndb
from kubefort.fileio import write_atomically
from kubefort.vulndb import feed

FEED_URL = "https://kubernetes.io/docs/reference/issues-security/official-cve-feed/index.json"
TIMEOUT_S = 30
MAX_BYTES = 50 * 1024 * 1024

EXIT_CODES_HELP = """\b
Exit codes:
  0  done
  2  the feed could not be fetched, read or parsed (nothing was written)
"""


class FeedError(click.ClickException):
    exit_code = 2


@click.group(name="db", epilog=EXIT_CODES_HELP)
def db() -> None:
    """Show or update the Kubernetes release and CVE data (used by the KF-CLU checks)."""


@db.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(as_json: bool) -> None:
    """Data date, counts, source and where the data was loaded from."""
    vulndb.clear_cache()
    data = vulndb.load()
    recs = data.records
    summary = {
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
        "user_copy": str(vulndb.cache_dir() / "cves.json"),
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    c: dict[str, Any] = summary["cves"]  # type: ignore[assignment]  # built just above
    r: dict[str, Any] = summary["releases"]  # type: ignore[assignment]
    click.echo(
        f"CVE data:      {c['records']} records, generated {c['generated']}"
        + ("" if c["complete"] else " (partial copy: run `kubefort db update` for the full feed)")
    )
    click.echo(f"  loaded from  {c['loaded_from']}")
    click.echo(f"  source       {c['source']}")
    click.echo("  components   " + ", ".join(f"{k} {v}" for k, v in c["by_component"].items()))
    click.echo(f"  no ranges    {c['without_ranges']} (reported as 'cannot tell')   curated: {c['curated']}")
    click.echo(
        f"Release data:  Kubernetes {r['kubernetes_minors']}, runtimes {', '.join(r['runtimes'])}, generated {r['generated']}"
    )
    click.echo(f"User copy:     {summary['user_copy']}")


@db.command(name="update", epilog=EXIT_CODES_HELP)
@click.option("--url", default=FEED_URL, show_default=True, help="Where to download the feed from.")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read a downloaded feed file instead of downloading (air-gapped use).",
)
def update(url: str, from_file: Path | None) -> None:
    """Download the official Kubernetes CVE feed, extract version ranges, write the user copy."""
    try:
        raw = from_file.read_bytes() if from_file else _fetch(url)
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("the feed is not a JSON object")
        records = feed.extract(doc)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        where = str(from_file) if from_file else url
        raise FeedError(f"could not read the CVE feed from {where}: {exc}") from None
    generated = _feed_date(doc)
    data = {
        "generated": generated,
        "source": str(from_file) if from_file else url,
        "method": f"kubefort {__version__} db update: kubefort.vulndb.feed.extract over the feed items",
        "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "complete": True,
        "records": records,
    }
    target = vulndb.cache_dir() / "cves.json"
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
    unparsed = sum(1 for r in records if not r["ranges"])
    click.echo(
        f"wrote {len(records)} CVE records (data of {generated}) to {target}; "
        f"{unparsed} without version ranges will be reported as 'cannot tell'"
    )
    shipped = vulndb.load()
    if shipped.cves_path != str(target):
        click.echo(
            f"note: the data shipped with kubefort ({shipped.cves_generated}) is newer than this feed; it stays in use"
        )


def _fetch(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"unsupported URL {url!r} (use --from-file for local files)")
    headers = {"User-Agent": f"kubefort/{__version__}", "Accept": "application/json"}
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, checked above
    with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:  # noqa: S310 - http(s) only, checked above
        body = resp.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise ValueError(f"the feed is larger than {MAX_BYTES} bytes")
    return bytes(body)


def _feed_date(doc: dict[str, Any]) -> str:
    """The feed's own update date, else the newest item date, else today."""
    updated = str((doc.get("_kubernetes_io") or {}).get("updated_at") or "")[:10]
    if updated:
        return updated
    dates = [str(i.get("date_published") or "")[:10] for i in doc.get("items", []) if isinstance(i, dict)]
    return max([d for d in dates if d] or [dt.datetime.now(dt.UTC).date().isoformat()])


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def _minors(data: vulndb.VulnDB) -> list[int]:
    return [int(r["minor"].split(".")[1]) for r in data.releases["kubernetes"]]
