"""Run an installed vulnerability scanner on each unique image (`kubefort images --scan-with`).

kubefort reads scanner reports; it does not scan images itself. When `trivy` or `grype` is
installed (on PATH, or named by `KUBEFORT_TRIVY` / `KUBEFORT_GRYPE`), `--scan-with` runs it once
per unique image of the inventory, a few at a time, and reads the JSON reports it writes as
`--scans` would:

    trivy image --format json --output FILE --quiet [ARGS] IMAGE
    grype IMAGE --output json --file FILE [ARGS]

IMAGE is the reference with the digest the workloads pin or run when it is known (so the report
is for what runs), else the reference as written. ARGS (`--scanner-arg`, repeatable) are passed
through unchanged: offline database flags such as trivy's `--skip-db-update --offline-scan` or a
mirror (`--db-repository`), grype's `--config`. Registry credentials are the scanner's own
(docker's config.json). A scanner that exits non-zero, times out or writes no report is a
problem naming the image (the inventory is then incomplete, exit 3), never an image reported clean.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCANNERS", "ScannerError", "find_scanner", "scan_images"]

SCANNERS = ("trivy", "grype")
TIMEOUT_S = 900  # one image (a first database download can be slow)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ScannerError(Exception):
    """The scanner cannot be run at all (a usage error: nothing was scanned)."""


@dataclass(frozen=True, slots=True)
class Scanned:
    image: str
    report: Path | None  # None: see `problem`
    problem: str = ""


def find_scanner(tool: str) -> str:
    """The scanner's executable: $KUBEFORT_<TOOL>, else PATH. ScannerError says how to get one."""
    if tool not in SCANNERS:
        raise ScannerError(f"unknown scanner {tool!r}: one of {', '.join(SCANNERS)}")
    env = f"KUBEFORT_{tool.upper()}"
    named = os.environ.get(env)
    found = named if named and os.access(named, os.X_OK) else shutil.which(tool)
    if not found:
        where = f"${env} ({named}) is not an executable" if named else f"not on PATH, and ${env} is not set"
        raise ScannerError(f"{tool}: {where}; install {tool} or point ${env} at it")
    return found


def command(tool: str, exe: str, image: str, out: Path, args: Sequence[str]) -> list[str]:
    """The scanner's command line for one image (module docstring)."""
    if tool == "trivy":
        return [exe, "image", "--format", "json", "--output", str(out), "--quiet", *args, image]
    return [exe, image, "--output", "json", "--file", str(out), *args]


def report_name(image: str) -> str:
    """A file name for an image's report: readable, unique (a hash of the reference)."""
    return f"{_UNSAFE.sub('_', image)[:80]}-{hashlib.sha256(image.encode()).hexdigest()[:12]}.json"


def _scan_one(tool: str, exe: str, image: str, out_dir: Path, args: Sequence[str], timeout: float) -> Scanned:
    out = out_dir / report_name(image)
    try:
        p = subprocess.run(  # the user's scanner, its arguments a list (no shell)
            command(tool, exe, image, out, args),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return Scanned(image, None, f"{tool} on {image}: no report after {timeout:.0f} s")
    except OSError as exc:
        return Scanned(image, None, f"{tool} on {image}: cannot run {exe}: {exc.strerror or exc}")
    if p.returncode != 0:
        last = next((ln.strip() for ln in reversed(p.stderr.splitlines()) if ln.strip()), "no message")
        return Scanned(image, None, f"{tool} on {image}: exit {p.returncode}: {last[:300]}")
    if not out.is_file() or out.stat().st_size == 0:
        return Scanned(image, None, f"{tool} on {image}: exited 0 but wrote no report")
    return Scanned(image, out)


def scan_images(
    tool: str,
    images: Sequence[str],
    out_dir: Path,
    *,
    args: Sequence[str] = (),
    jobs: int = 2,
    timeout: float = TIMEOUT_S,
) -> list[Scanned]:
    """Run the scanner on each image (in the given order of results), `jobs` at a time."""
    from concurrent.futures import ThreadPoolExecutor

    exe = find_scanner(tool)
    out_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        return list(ex.map(lambda i: _scan_one(tool, exe, i, out_dir, args, timeout), images))
