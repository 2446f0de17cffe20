"""Baseline files: the fingerprints of accepted findings, so CI reports only new ones."""

from __future__ import annotations

import orjson

from kubefort import __version__
from kubefort.fileio import write_atomically
from kubefort.model import ScanResult, Status

FORMAT = "kubefort-baseline/v1"


def read(path: str) -> set[str]:
    """The fingerprints of a baseline file. Raises OSError when it cannot be read, ValueError when
    it is not a baseline."""
    with open(path, "rb") as fh:
        data: object = orjson.loads(fh.read())
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("findings"), list):
        raise ValueError(f"not a {FORMAT} file")
    fps: set[str] = set()
    for f in data["findings"]:
        if not isinstance(f, dict) or not isinstance(f.get("fingerprint"), str):
            raise ValueError("every finding needs a string 'fingerprint'")
        fps.add(f["fingerprint"])
    return fps


def write(path: str, result: ScanResult) -> int:
    """Record current failures (and baseline-suppressed ones, so rewriting keeps them) and return
    how many. The file is replaced atomically: on an error (OSError) the old baseline stays."""
    rows: list[dict[str, str | None]] = []
    for o in result.outcomes:
        if o.status is Status.FAILED or (
            o.status is Status.SUPPRESSED and o.suppression and o.suppression.kind == "baseline"
        ):
            rows.append(
                {
                    "fingerprint": o.fingerprint,
                    "check_id": o.check_id,
                    "resource": str(o.resource) if o.resource else None,
                    "container": o.container,
                    "file": o.source.file if o.source else None,
                }
            )
    rows.sort(key=lambda r: (r["file"] or "", r["check_id"], r["resource"] or "", r["container"] or ""))
    doc = {"format": FORMAT, "tool_version": __version__, "findings": rows}
    write_atomically(path, orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    return len(rows)
