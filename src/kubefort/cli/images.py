"""`kubefort images`: the image inventory of manifests, a live cluster or a snapshot, with the
digests pods run and, given scanner output (`--scans`), vulnerability counts per image.

Argument parsing and output only: `kubefort.images` builds the inventory and reads the scans.
Exit codes: 0 done; 2 usage or file error; 3 some input, object or scan file could not be read
(the inventory is printed, built without it), or no object was found.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

import click

from kubefort.cli.params import FileError, InputFile, OutputDir, os_reason

EXIT_OK, EXIT_INCOMPLETE = 0, 3
FORMATS = ("table", "json", "csv")
SEVERITY_COLUMNS = ("critical", "high", "medium", "low", "unknown")


def _parse_output(text: str) -> tuple[str, str | None]:
    fmt, _, dest = text.partition("=")
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise click.BadParameter(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})", param_hint="-o")
    return fmt, dest or None


@click.command("images", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1)
@click.option("--cluster", "use_cluster", is_flag=True, help="Read a live cluster (kubeconfig or in-cluster).")
@click.option("--kubeconfig", type=InputFile("kubeconfig"), help="With --cluster: kubeconfig file.")
@click.option("--context", "kube_context", help="With --cluster: kubeconfig context.")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="With --cluster: only this namespace (repeatable).",
)
@click.option(
    "--scans",
    multiple=True,
    metavar="FILE",
    help="Scanner output to map onto the images: Trivy JSON, Grype JSON, CycloneDX JSON, or trivy-operator "
    "VulnerabilityReports; a directory gives its *.json files (repeatable).",
)
@click.option(
    "--scan-with",
    type=click.Choice(["trivy", "grype"]),
    help="Run this installed scanner on each unique image (the digest that runs when known) and map its "
    "reports as --scans does (docs/images.md). Optional: kubefort never scans images itself.",
)
@click.option(
    "--scanner-arg",
    "scanner_args",
    multiple=True,
    metavar="ARG",
    help="With --scan-with: an argument passed to the scanner unchanged, e.g. --scanner-arg=--skip-db-update "
    "--scanner-arg=--offline-scan (repeatable).",
)
@click.option(
    "--scan-dir",
    type=OutputDir("scan reports directory"),
    metavar="DIR",
    help="With --scan-with: keep the scanner's JSON reports in this directory (default: a temporary one).",
)
@click.option(
    "--scan-jobs", type=click.IntRange(1, 32), default=2, show_default=True, help="With --scan-with: images at a time."
)
@click.option(
    "--cluster-reports/--no-cluster-reports",
    default=True,
    show_default=True,
    help="Use the VulnerabilityReport objects (trivy-operator) found in the input.",
)
@click.option(
    "-o",
    "--output",
    "output",
    default="table",
    metavar="FORMAT[=FILE]",
    help="table (default), json or csv; FORMAT=FILE writes to a file.",
)
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files and directories matching GLOB (repeatable).")
@click.option("--no-render", is_flag=True, help="Treat Helm chart and Kustomize directories as plain files.")
@click.option(
    "--config",
    "config_path",
    type=InputFile("config"),
    metavar="FILE",
    help="Config file whose image_verification verifies signatures (default: nearest .kubefort.yaml above the first PATH).",
)
@click.option("--no-config", is_flag=True, help="Ignore .kubefort.yaml files (no signature verification).")
@click.option("--offline", is_flag=True, help="Contact no image registry: signatures are not verified.")
def images_cmd(
    paths: tuple[str, ...],
    use_cluster: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    namespaces: tuple[str, ...],
    scans: tuple[str, ...],
    scan_with: str | None,
    scanner_args: tuple[str, ...],
    scan_dir: str | None,
    scan_jobs: int,
    cluster_reports: bool,
    output: str,
    exclude: tuple[str, ...],
    no_render: bool,
    config_path: str | None,
    no_config: bool,
    offline: bool,
) -> None:
    """Every container image of every workload, normalised as the runtime pulls it.

    Reads manifests (files, directories, charts, kustomizations), a live cluster (--cluster) or a
    cluster snapshot, as `kubefort scan` does. For each image: the workloads and namespaces using
    it, whether it is pinned by digest, and for pods that ran, the digests they run (a tag that
    runs several digests is listed as a finding). With --scans (or VulnerabilityReports in the
    input), the newest matching scan's vulnerability counts by severity. With a signature policy
    (`image_verification:` in .kubefort.yaml), each image's cosign signature verdict, read from
    its registry (never with --offline).

    \b
    kubefort images k8s/
    kubefort images --cluster -o json
    kubefort images snapshot.json.gz --scans scans/ -o csv=images.csv
    kubefort images k8s/ --scan-with trivy --scanner-arg=--skip-db-update --scan-dir scans/
    """
    fmt, dest = _parse_output(output)
    if use_cluster and paths:
        raise click.UsageError("--cluster reads a live cluster: give no PATH with it")
    if not use_cluster and not paths:
        raise click.UsageError("give PATHs (manifests or a snapshot), or --cluster")
    if not use_cluster and (kubeconfig or kube_context or namespaces):
        raise click.UsageError("--kubeconfig, --context and -n need --cluster")
    if not scan_with and (scanner_args or scan_dir):
        raise click.UsageError("--scanner-arg and --scan-dir need --scan-with")
    if scan_with:
        from kubefort.images.scanner import ScannerError, find_scanner

        try:
            find_scanner(scan_with)  # before reading anything
        except ScannerError as exc:
            raise click.UsageError(str(exc)) from None
    resources, problems, live = _read(
        paths, use_cluster, kubeconfig, kube_context, list(namespaces), exclude, no_render
    )

    from kubefort.images.inventory import build_inventory
    from kubefort.images.scandata import ScanIndex, load_files, reports_of

    inv = build_inventory(resources)
    problems += inv.problems
    if scan_with:
        found_dir, scan_problems = _run_scanner(inv, scan_with, scanner_args, scan_dir, scan_jobs)
        problems += scan_problems
        scans = (*scans, found_dir)
    index: ScanIndex | None = None
    if scans or cluster_reports:
        found, errors = load_files(scans) if scans else ([], [])
        if cluster_reports:
            reports, report_errors = reports_of(resources)
            found += reports
            errors += report_errors
        problems += errors
        if scans or found:
            index = ScanIndex(found, errors)
    if not resources:
        problems.append("no Kubernetes object was found in the input")
    signatures = _signatures(inv, config_path, no_config, offline, paths, live, resources)
    if signatures is not None:
        problems += [
            f"{k[0]}:{k[1]}: signature not verified: {r.message}" for k, r in signatures.items() if r.status == "error"
        ]
    doc = inventory_document(inv, index, signatures)
    text = render(doc, fmt)
    if dest is None:
        click.echo(text, nl=False)
    else:
        from kubefort.fileio import write_atomically

        try:
            write_atomically(dest, text)
        except OSError as exc:
            raise FileError(f"cannot write {dest}: {os_reason(exc)}") from None
    for p in problems:
        click.echo(f"kubefort: not read: {p}", err=True)
    sys.exit(EXIT_INCOMPLETE if problems else EXIT_OK)


def _scanner_images(inv: Any) -> list[str]:
    """What the scanner is given per inventory entry: the pinned digest, else each digest its pods
    run, else the tag (the same choice as signature verification)."""
    return [
        f"{r}@{ref}" if ref.startswith("sha256:") else f"{r}:{ref}"
        for e in inv.sorted_images()
        for r, ref in _signature_keys(e)
    ]


def _run_scanner(inv: Any, tool: str, args: tuple[str, ...], scan_dir: str | None, jobs: int) -> tuple[str, list[str]]:
    """Scan every unique image (kubefort.images.scanner); the reports' directory and the problems."""
    import tempfile
    from pathlib import Path

    from kubefort.images.scanner import scan_images

    out = Path(scan_dir) if scan_dir else Path(tempfile.mkdtemp(prefix="kubefort-scans-"))
    if not scan_dir:
        import atexit
        import shutil

        atexit.register(shutil.rmtree, out, True)
    try:
        done = scan_images(tool, _scanner_images(inv), out, args=args, jobs=jobs)
    except OSError as exc:
        raise FileError(f"cannot write scanner reports to {out}: {os_reason(exc)}") from None
    return str(out), [d.problem for d in done if d.problem]


def _read(
    paths: tuple[str, ...],
    use_cluster: bool,
    kubeconfig: str | None,
    context: str | None,
    namespaces: list[str],
    exclude: tuple[str, ...],
    no_render: bool,
) -> tuple[list[Any], list[str], Any]:
    """The objects of the input, the problems met (as messages), and the live cluster (None: files)."""
    from kubefort.images.sources import source_resources

    if use_cluster:
        from kubefort.cluster.client import Cluster, ClusterError
        from kubefort.cluster.source import LiveSource

        try:
            source = LiveSource(Cluster(kubeconfig, context), namespaces=namespaces or None, probe=False)
            return (*source_resources(source), source.cluster)
        except ClusterError as exc:
            raise FileError(str(exc)) from None
    snapshot = _snapshot(paths)
    if snapshot is not None:
        from kubefort.cluster.source import SnapshotError, SnapshotSource

        try:
            return (*source_resources(SnapshotSource(snapshot)), None)
        except (SnapshotError, OSError) as exc:
            why = os_reason(exc) if isinstance(exc, OSError) else str(exc).removeprefix(f"{snapshot}: ")
            raise FileError(f"cannot read snapshot {snapshot}: {why}") from None
    from kubefort.loaders.manifests import UsageError, load_resources

    try:
        resources, load_problems, _records = load_resources(paths, exclude, render_dirs=not no_render)
    except UsageError as exc:
        raise FileError(str(exc)) from None
    return resources, [f"{p.file}" + (f":{p.line}" if p.line else "") + f": {p.message}" for p in load_problems], None


def _snapshot(paths: tuple[str, ...]) -> str | None:
    import os

    files = [p for p in paths if p != "-" and os.path.isfile(p)]
    if not files:
        return None
    from kubefort.cluster.source import is_snapshot

    found = [p for p in files if is_snapshot(p)]
    if found and len(paths) > 1:
        raise click.UsageError(f"{found[0]} is a cluster snapshot: read it on its own")
    return found[0] if found else None


def _signatures(
    inv: Any,
    config_path: str | None,
    no_config: bool,
    offline: bool,
    paths: tuple[str, ...],
    live: Any = None,
    resources: list[Any] | None = None,
) -> dict[tuple[str, str], Any] | None:
    """The signature verdicts of the inventory's images under the config's policy (None: none);
    with a live cluster and `pull_secrets: true`, the pods' pull secrets give credentials."""
    from dataclasses import replace

    from kubefort.cli.common import load_command_config
    from kubefort.images.verification import ImageVerificationOptions, verify_all
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    config = load_command_config(config_path, no_config, reg, paths[0] if paths else None)
    opts = config.options.get("KF-IMG-011") if config is not None else None
    if not isinstance(opts, ImageVerificationOptions) or opts.off:
        return None
    if offline:
        opts = replace(opts, offline=True)
    if live is not None and opts.pull_secrets and not opts.offline:
        from kubefort.images.pullsecrets import pull_secret_refs, read_pull_secrets

        auths, warnings = read_pull_secrets(live, pull_secret_refs(resources or []))
        opts = replace(opts, registry_auths=auths)
        for w in warnings:
            click.echo(f"kubefort: warning: {w}", err=True)
    return verify_all(opts, {k for e in inv.sorted_images() for k in _signature_keys(e)})


def _signature_keys(entry: Any) -> list[tuple[str, str]]:
    """What is verified for an inventory entry: its digest, else the digests its pods run, else its tag."""
    if entry.digest:
        return [(entry.repository, entry.digest)]
    if entry.running:
        return [(entry.repository, dg) for dg in sorted(entry.running)]
    return [(entry.repository, entry.tag or "latest")]


def inventory_document(inv: Any, index: Any, signatures: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    """The JSON document (the interface scripts use): `images[]` with `image`, `digest`, `workloads`..."""
    out = []
    for entry in inv.sorted_images():
        d = entry.as_dict()
        if signatures is not None:
            found = [(k, signatures[k]) for k in _signature_keys(entry) if k in signatures]
            d["signatures"] = [
                {"reference": k[1], "status": r.status, "digest": r.digest, "message": r.message} for k, r in found
            ] or None
        if index is not None:
            digests = [entry.digest] if entry.digest else sorted(entry.running)
            scan = index.find(entry.repository, entry.tag, digests)
            d["scan"] = (
                None
                if scan is None
                else {
                    "format": scan.format,
                    "source": scan.source,
                    "scanned_at": scan.scanned_at.isoformat() if scan.scanned_at else None,
                    "suppressed": sum(1 for v in scan.vulnerabilities if v.suppressed),
                }
            )
            d["vulnerabilities"] = scan.counts() if scan is not None else None
            d["fixable"] = (
                sum(1 for v in scan.vulnerabilities if v.fix_available and not v.suppressed)
                if scan is not None
                else None
            )
        out.append(d)
    summary_extra = (
        {}
        if signatures is None
        else {
            "signatures_verified": sum(
                1 for d in out if d.get("signatures") and all(s["status"] == "verified" for s in d["signatures"])
            )
        }
    )
    return {
        "images": out,
        "invalid": [inv.invalid[k].as_dict() for k in sorted(inv.invalid)],
        "summary": {
            "images": len(out),
            "pinned": sum(1 for e in inv.images.values() if e.pinned),
            "running_statuses": inv.statuses_read,
            "with_findings": sum(1 for d in out if d["findings"]),
            "scanned": None if index is None else sum(1 for d in out if d.get("scan")),
            **summary_extra,
        },
    }


def render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        return _csv(doc)
    return _table(doc)


def _csv(doc: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    scanned = doc["summary"]["scanned"] is not None
    w.writerow(
        ["image", "repository", "tag", "digest", "kind", "namespace", "name", "container", "running_digests"]
        + (list(SEVERITY_COLUMNS) if scanned else [])
    )
    for d in doc["images"]:
        counts = d.get("vulnerabilities") or {}
        running = ";".join(r["digest"] for r in d["running"])
        for wl in d["workloads"]:
            w.writerow(
                [
                    d["image"],
                    d["repository"],
                    d["tag"] or "",
                    d["digest"] or "",
                    wl["kind"],
                    wl["namespace"] or "",
                    wl["name"],
                    wl["container"],
                    running,
                ]
                + ([counts.get(s, "") if counts else "" for s in SEVERITY_COLUMNS] if scanned else [])
            )
    return buf.getvalue()


def _table(doc: dict[str, Any]) -> str:
    scanned = doc["summary"]["scanned"] is not None
    signed = "signatures_verified" in doc["summary"]
    header = (
        ["IMAGE", "BY", "WORKLOADS", "NAMESPACES", "RUNNING"]
        + (["C/H/M/L"] if scanned else [])
        + (["SIGNATURE"] if signed else [])
        + ["NOTES"]
    )
    rows = []
    for d in doc["images"]:
        counts = d.get("vulnerabilities")
        vulns = "/".join(str(counts[s]) for s in SEVERITY_COLUMNS[:4]) if counts else "no scan"
        running = ", ".join(r["digest"][:19] for r in d["running"]) or "-"
        sigs = d.get("signatures")
        verdict = ",".join(dict.fromkeys(s["status"] for s in sigs)) if sigs else "-"
        rows.append(
            [d["image"], d["reference"], str(len(d["workloads"])), ",".join(d["namespaces"]) or "-", running]
            + ([vulns] if scanned else [])
            + ([verdict] if signed else [])
            + ["; ".join(d["findings"]) or ""]
        )
    for bad in doc["invalid"]:
        rows.append(
            [bad["image"], "invalid", str(len(bad["workloads"])), "-", "-"]
            + (["-"] if scanned else [])
            + (["-"] if signed else [])
            + [bad["error"]]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in [header, *rows]]
    s = doc["summary"]
    lines.append(
        f"\n{s['images']} images, {s['pinned']} pinned by digest, {s['with_findings']} with findings"
        + (f", {s['scanned']} with a scan result" if scanned else "")
        + (f", {s['signatures_verified']} with verified signatures" if signed else "")
    )
    return "\n".join(line.rstrip() for line in lines) + "\n"
