"""`kubefort report diff SCAN_A SCAN_B`: new, fixed and unchanged findings between two stored scans."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from kubefort.cli.common import EXIT_OK, FormatChoice
from kubefort.cli.params import FileError, store_option

EPILOG = """\b
SCAN: a scan id (or its first 6+ characters), `latest` (the newest stored scan),
TARGET@latest, or TARGET@-N (the Nth scan of TARGET before its latest, e.g. @-1).
\b
Exit codes:
  0  the comparison was printed (whatever it shows)
  2  usage error, a store that cannot be opened, or an unknown scan (one line on stderr)
"""


@click.command("diff", epilog=EPILOG)
@click.argument("scan_a", metavar="SCAN_A")
@click.argument("scan_b", metavar="SCAN_B")
@store_option()
@click.option(
    "-o",
    "--output",
    "fmt",
    type=FormatChoice(["table", "json"]),
    default="table",
    show_default=True,
    help="table: the new and fixed findings (and how many are unchanged); json: all three lists.",
)
def diff_cmd(scan_a: str, scan_b: str, store: str | None, fmt: str) -> None:
    """Compare two stored scans: the findings that are new, fixed and unchanged.

    New: in SCAN_B, not in SCAN_A. Fixed: in SCAN_A, not in SCAN_B. Findings are matched by
    fingerprint, so moved lines and reworded messages are not changes.
    """
    import orjson

    from kubefort.history.diff import diff
    from kubefort.history.store import Store, StoreError

    try:
        with Store.open(store) as st:
            result = diff(st, scan_a, scan_b)
    except StoreError as exc:
        raise FileError(str(exc)) from None
    if fmt == "json":
        click.echo(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(table(result))
    sys.exit(EXIT_OK)


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _scan_line(name: str, row: Any) -> str:
    labels = ", ".join(
        f"{k}={v}" for k, v in sorted(row.labels.items()) if k in ("commit", "branch", "context", "node")
    )
    extra = f" ({labels})" if labels else ""
    done = "" if row.complete else ", incomplete"
    return f"{name}: {row.uid[:12]}  {row.target}  {row.kind}, {_when(row.finished_at)}{done}{extra}"


def _where(f: Any) -> str:
    if f.file:
        return f"{f.file}:{f.line}" if f.line else f.file
    r = f.resource
    ns = f"{r['namespace']}/" if r.get("namespace") else ""
    return f"{r.get('kind') or '?'}/{ns}{r.get('name') or '?'}"


def _rows(title: str, findings: list[Any]) -> list[str]:
    lines = [f"{title} ({len(findings)})"]
    lines += [f"  {f.severity:<8} {f.check_id:<13} {_where(f)}  {f.message}" for f in findings]
    return lines


def table(result: Any) -> str:
    """The plain-text comparison."""
    lines = [_scan_line("A", result.a), _scan_line("B", result.b), ""]
    lines += _rows("new", result.new) + [""] + _rows("fixed", result.fixed) + [""]
    lines.append(f"unchanged: {len(result.unchanged)}")
    return "\n".join(lines)
