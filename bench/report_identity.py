"""Prove that a change left every report byte-identical: scan a corpus with kubefort as it was at a
git revision and as it is in this working tree, and compare the reports.

    .venv/bin/python bench/report_identity.py --base 11dc7b3                 # ../shared/corpus/bench
    .venv/bin/python bench/report_identity.py --base HEAD --corpus DIR --checks KF-POD,KF-RBAC
    .venv/bin/python bench/report_identity.py --base main~3 --include-passed --keep /tmp/reports

The base revision's `src/` is extracted with `git archive` into a temporary directory; both trees
run with the same Python (this one), the same working directory, a fresh empty XDG_CACHE_HOME
(so each uses the vulnerability data shipped in its own tree, never a `kubefort db update` copy)
and the same arguments:

    python -m kubefort scan CORPUS --no-config --fail-on never -q [--checks ...] \\
        -o json=F -o sarif=F -o junit=F -o table=F -o prometheus=F
    python -m kubefort scan CORPUS --no-config --fail-on never -q [--checks ...] --include-passed -o json=F

(the second scan only with --include-passed), with PYTHONPATH=<base>/src for the base and
PYTHONPATH=<this repo>/src for the current tree. The only fields normalised before the byte
comparison are the volatile ones the reporters write (src/kubefort/reporters/*):

    json        summary.duration_s
    junit       the <testsuites> element's time attribute (the per-suite ones are always "0")
    table       the "in 1.23s" of the "N checks x M objects from K inputs" line
    prometheus  kubefort_scan_duration_seconds, kubefort_scan_timestamp_seconds
    sarif       (none)

The exit codes of the two scans are compared too. For each report the script prints "identical"
or where the first difference is, with a few lines of each side. Exit status: 0 all identical (or
the default corpus is absent: skipped with a message), 1 some report differs, 2 a scan could not
be run (crash, bad revision, missing --corpus).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("json", "sarif", "junit", "table", "prometheus")
SCAN_OK = (0, 3)  # with --fail-on never: 0, or 3 when some target could not be evaluated
CONTEXT = 3  # lines of context shown around the first difference


def default_corpus() -> Path:
    shared = Path(os.environ.get("KUBEFORT_SHARED", ROOT.parent / "shared"))
    return shared / "corpus" / "bench"


# ---------------------------------------------------------------- normalising volatile fields

_JSON_DURATION = re.compile(rb'^(\s*"duration_s": )[-+0-9.eE]+(,?)$', re.MULTILINE)
_JUNIT_TIME = re.compile(rb'(<testsuites\b[^>]*?\btime=")[^"]*(")')
_TABLE_TIME = re.compile(rb"( from [0-9,]+ inputs? in )[0-9.]+s\b")
_PROM_TIME = re.compile(rb"^(kubefort_scan_(?:duration|timestamp)_seconds(?:\{[^}\n]*\})?) \S+$", re.MULTILINE)


def _norm_json(b: bytes) -> bytes:
    return _JSON_DURATION.sub(rb'\1"<volatile>"\2', b, count=1)


def _norm_junit(b: bytes) -> bytes:
    return _JUNIT_TIME.sub(rb"\1<volatile>\2", b, count=1)


def _norm_table(b: bytes) -> bytes:
    return _TABLE_TIME.sub(rb"\1<volatile>s", b, count=1)


def _norm_prometheus(b: bytes) -> bytes:
    return _PROM_TIME.sub(rb"\1 <volatile>", b)


NORMALISE: dict[str, Callable[[bytes], bytes]] = {
    "json": _norm_json,
    "json-include-passed": _norm_json,
    "sarif": lambda b: b,
    "junit": _norm_junit,
    "table": _norm_table,
    "prometheus": _norm_prometheus,
}


# ---------------------------------------------------------------- running the two trees


def extract_base(rev: str, dest: Path) -> str:
    """`git archive REV src` unpacked into dest; returns the full commit id."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"report_identity: error: {rev!r} is not a revision of {ROOT}: {e.stderr.strip()}") from e
    tar_path = dest / "src.tar"
    with tar_path.open("wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"], stdout=f, check=True)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    tar_path.unlink()
    if not (dest / "src" / "kubefort" / "__main__.py").is_file():
        raise SystemExit(f"report_identity: error: {rev} has no src/kubefort/__main__.py")
    return commit


def scan(
    label: str, src: Path, corpus: Path, out: Path, extra: list[str], include_passed: bool, cwd: Path
) -> dict[str, int]:
    """Run the scan(s) of one tree in cwd; reports go to out/<format>. Returns the exit codes."""
    out.mkdir(parents=True)
    cache = cwd.parent / f"cache-{label}"  # empty: each tree uses the vulnerability data it ships
    env = dict(os.environ, PYTHONPATH=str(src), XDG_CACHE_HOME=str(cache))
    env.pop("PYTHONSTARTUP", None)
    base_cmd = [
        sys.executable,
        "-m",
        "kubefort",
        "scan",
        str(corpus),
        "--no-config",
        "--fail-on",
        "never",
        "-q",
        *extra,
    ]
    runs = [("main", [f for fmt in FORMATS for f in ("-o", f"{fmt}={out / fmt}")])]
    if include_passed:
        runs.append(("include-passed", ["--include-passed", "-o", f"json={out / 'json-include-passed'}"]))
    info: dict[str, int] = {}
    for name, args in runs:
        t0 = time.perf_counter()
        p = subprocess.run([*base_cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
        dt = time.perf_counter() - t0
        print(f"  {label:<7} scan ({name}): exit {p.returncode} in {dt:.1f} s", flush=True)
        if p.returncode not in SCAN_OK:
            sys.stderr.write(p.stderr[-4000:])
            raise SystemExit(f"report_identity: error: the {label} scan ({name}) exited {p.returncode}")
        info[f"exit:{name}"] = p.returncode
    return info


# ---------------------------------------------------------------- comparing


def first_difference(a: bytes, b: bytes) -> str:
    la, lb = a.splitlines(), b.splitlines()
    i = next((k for k, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y), min(len(la), len(lb)))
    lo = max(0, i - CONTEXT)

    def show(lines: list[bytes], tag: str) -> str:
        rows = [
            f"    {tag} {n + 1:>7}: {ln.decode(errors='replace')[:200]}"
            for n, ln in enumerate(lines[lo : i + CONTEXT + 1], lo)
        ]
        return "\n".join(rows) if rows else f"    {tag}          (end of file)"

    return (
        f"  first difference at line {i + 1} (base {len(a):,} bytes / {len(la):,} lines, "
        f"current {len(b):,} bytes / {len(lb):,} lines)\n{show(la, 'base   ')}\n{show(lb, 'current')}"
    )


def compare(base_out: Path, cur_out: Path, names: list[str]) -> bool:
    same = True
    for name in names:
        a, b = (NORMALISE[name]((d / name).read_bytes()) for d in (base_out, cur_out))
        if a == b:
            print(f"{name:<20} identical ({len(a):,} bytes)")
        else:
            same = False
            print(f"{name:<20} DIFFERS")
            print(first_difference(a, b))
    return same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", required=True, help="git revision to compare the working tree with (e.g. HEAD, 11dc7b3)")
    ap.add_argument(
        "--corpus", type=Path, help="directory to scan (default: $KUBEFORT_SHARED or ../shared, /corpus/bench)"
    )
    ap.add_argument(
        "--checks", action="append", default=[], metavar="IDS", help="passed to `kubefort scan --checks` (repeatable)"
    )
    ap.add_argument("--include-passed", action="store_true", help="also compare a JSON report with --include-passed")
    ap.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the reports in DIR/base and DIR/current (DIR must not exist)"
    )
    args = ap.parse_args(argv)

    corpus = args.corpus or default_corpus()
    if not corpus.is_dir():
        if args.corpus is None:
            print(f"report_identity: skipped: the default corpus {corpus} is absent (give one with --corpus DIR)")
            return 0
        print(f"report_identity: error: --corpus {corpus} is not a directory", file=sys.stderr)
        return 2
    corpus = corpus.resolve()
    extra = [a for ids in args.checks for a in ("--checks", ids)]

    tmp = Path(tempfile.mkdtemp(prefix="kubefort-identity-"))
    try:
        work = args.keep.resolve() if args.keep else tmp / "reports"
        if args.keep:
            work.mkdir(parents=True, exist_ok=False)
        base_tree = tmp / "base"
        base_tree.mkdir()
        t0 = time.perf_counter()
        commit = extract_base(args.base, base_tree)
        print(f"base    {args.base} = {commit[:12]} (extracted to {base_tree})")
        print(f"current {ROOT / 'src'} (working tree, uncommitted changes included)")
        print(f"corpus  {corpus}" + (f", checks {', '.join(args.checks)}" if args.checks else ""), flush=True)
        cwd = tmp / "cwd"  # the same working directory for both: report paths are relative to it
        cwd.mkdir()
        base_info = scan("base", base_tree / "src", corpus, work / "base", extra, args.include_passed, cwd)
        cur_info = scan("current", ROOT / "src", corpus, work / "current", extra, args.include_passed, cwd)

        names = list(FORMATS) + (["json-include-passed"] if args.include_passed else [])
        same = compare(work / "base", work / "current", names)
        for key in base_info:
            if base_info[key] != cur_info[key]:
                same = False
                print(f"{key:<20} DIFFERS: base {base_info[key]}, current {cur_info[key]}")
        print(f"{'all reports identical' if same else 'REPORTS DIFFER'} ({time.perf_counter() - t0:.1f} s)")
        return 0 if same else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
