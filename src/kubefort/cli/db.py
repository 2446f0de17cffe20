"""`kubefort db`: show and update the dated CVE and release data of `kubefort.vulndb`.

`db update` is the only kubefort command that uses the network: it downloads the official
Kubernetes CVE feed (or reads a downloaded copy with --from-file, for air-gapped use), runs the
extractor and writes the user copy atomically (`kubefort.vulndb.manage` does all three).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kubefort import vulndb
from kubefort.cli.params import FileError, InputFile, os_reason, write_problem
from kubefort.vulndb import manage

EXIT_CODES_HELP = """\b
Exit codes:
  0  done
  2  the feed could not be fetched, read or parsed, or the user copy cannot
     be written (nothing was written)
"""


class FeedError(FileError):
    """The feed could not be fetched, read or parsed: one line, exit 2."""


@click.group(name="db", epilog=EXIT_CODES_HELP)
def db() -> None:
    """Show or update the Kubernetes release and CVE data (used by the KF-CLU checks)."""


@db.command(name="info")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(as_json: bool) -> None:
    """Data date, counts, source and where the data was loaded from."""
    vulndb.clear_cache()
    summary = manage.summary(vulndb.load())
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    c: dict[str, Any] = summary["cves"]
    r: dict[str, Any] = summary["releases"]
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
@click.option("--url", default=manage.FEED_URL, show_default=True, help="Where to download the feed from.")
@click.option(
    "--from-file",
    "from_file",
    type=InputFile("CVE feed"),
    help="Read a downloaded feed file instead of downloading (air-gapped use).",
)
def update(url: str, from_file: str | None) -> None:
    """Download the official Kubernetes CVE feed, extract version ranges, write the user copy."""
    target = manage.user_copy()
    problem = write_problem(str(target), make_parents=True)
    if problem is not None:  # before downloading anything
        raise FileError(f"cannot write the CVE data to {target}: {problem}")
    try:
        doc, records = manage.read_feed(url, Path(from_file) if from_file else None)
    except (OSError, ValueError) as exc:  # OSError includes urllib's URLError
        where = str(from_file) if from_file else url
        raise FeedError(f"could not read the CVE feed from {where}: {exc}") from None
    generated = manage.feed_date(doc)
    try:
        target = manage.write_user_copy(records, generated=generated, source=from_file or url)
    except OSError as exc:
        raise FileError(f"cannot write the CVE data to {target}: {os_reason(exc)}") from None
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
