"""`kubefort scan --cluster`, `kubefort scan SNAPSHOT` and `kubefort cluster snapshot`."""

from __future__ import annotations

import sys
from typing import Any

import click

from kubefort.cli.common import split_ids
from kubefort.cli.params import FileError, InputFile, OutputFile, os_reason
from kubefort.wording import plural


def _connect(kubeconfig: str | None, context: str | None) -> Any:
    from kubefort.cluster.client import Cluster, ClusterError

    try:
        return Cluster(kubeconfig, context)
    except ClusterError as exc:  # no usable kubeconfig or in-cluster configuration
        raise FileError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - kubernetes' kubeconfig loader raises YAML, key and type errors on a malformed file
        where = f" from {kubeconfig}" if kubeconfig else ""
        raise FileError(f"cannot load cluster credentials{where}: {exc}") from None


def _live(
    kubeconfig: str | None,
    context: str | None,
    namespaces: list[str] | None,
    skip: list[str],
    page_size: int,
    probe: bool,
) -> Any:
    from kubefort.cluster.client import ClusterError
    from kubefort.cluster.collect import DEFAULT_SKIP
    from kubefort.cluster.source import LiveSource

    cluster = _connect(kubeconfig, context)
    try:
        return LiveSource(
            cluster, namespaces=namespaces, skip=tuple(skip) if skip else DEFAULT_SKIP, page_size=page_size, probe=probe
        )
    except ClusterError as exc:
        raise FileError(str(exc)) from None


class _Status:
    """Progress on a terminal: what is being listed and how many objects so far."""

    def __init__(self, quiet: bool, what: str) -> None:
        self.progress = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.task = self.progress.add_task(what)
            self.what = what
            self.progress.start()

    def __call__(self, objects: int, current: str) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task,
                description=f"{self.what}: {objects:,} objects" + (f" (listing {current})" if current else ""),
            )

    def phase(self, ev: Any) -> None:
        """The engine's phases after the listing (a ProgressEvent): the cross-object checks, one by one."""
        if self.progress is not None and ev.phase == "cross-object":
            self.progress.update(
                self.task,
                description=f"{self.what}: cross-object checks {ev.done}/{ev.total}"
                + (f" ({ev.current})" if ev.current else ""),
            )

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def scan_cluster(
    settings: Any,
    *,
    config: Any,
    baseline: Any,
    jobs: int | None,
    quiet: bool,
    snapshot: str | None,
    kubeconfig: str | None,
    context: str | None,
    namespaces: list[str] | None,
    skip: list[str],
    page_size: int,
    probe: bool,
    fold: bool = True,
) -> Any:
    from kubefort.cluster.client import ClusterError
    from kubefort.cluster.scan import scan_source
    from kubefort.cluster.source import SnapshotError, SnapshotSource

    try:
        source = (
            SnapshotSource(snapshot) if snapshot else _live(kubeconfig, context, namespaces, skip, page_size, probe)
        )
    except (SnapshotError, OSError) as exc:
        raise FileError(_snapshot_error(str(snapshot), exc)) from None
    status = _Status(quiet, f"scanning {'snapshot ' + snapshot if snapshot else 'cluster ' + source.name}")
    try:
        result = scan_source(
            source,
            settings,
            config=config,
            baseline=baseline,
            jobs=jobs,
            progress=status,
            fold=fold,
            phases=status.phase,
        )
    except (ClusterError, SnapshotError, OSError) as exc:
        status.stop()
        raise FileError(_snapshot_error(snapshot, exc) if snapshot else str(exc)) from None
    finally:
        status.stop()
    if snapshot:
        result.extras["cluster"]["snapshot"] = {"file": snapshot, "created": source.created}
    return result


@click.group("cluster")
def cluster_group() -> None:
    """Work with live clusters: take a snapshot to scan later, offline."""


@cluster_group.command("snapshot")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=OutputFile("snapshot"),
    help="Snapshot file to write (.json.gz is compressed).",
)
@click.option(
    "--kubeconfig", type=InputFile("kubeconfig"), help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config)."
)
@click.option("--context", "kube_context", help="Kubeconfig context (default: the current context).")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    metavar="NS",
    help="Only this namespace (repeatable; default: all).",
)
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace (the default without -n).")
@click.option(
    "--skip-resources",
    "skip_resources",
    multiple=True,
    metavar="LIST",
    help="Resource types not to list (default: events).",
)
@click.option(
    "--page-size", type=click.IntRange(1, 10000), default=500, show_default=True, help="Objects per list request."
)
@click.option(
    "--no-anonymous-probe", is_flag=True, help="Do not ask the API server what it answers without credentials."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
def snapshot_cmd(
    output: str,
    kubeconfig: str | None,
    kube_context: str | None,
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    skip_resources: tuple[str, ...],
    page_size: int,
    no_anonymous_probe: bool,
    quiet: bool,
) -> None:
    """Write everything a scan reads from the cluster to a file, then `kubefort scan FILE` offline.

    The snapshot holds the server version, the unauthenticated-access probe, discovery, every
    listed object (Secrets as metadata only: kubefort never reads a secret value; no
    managedFields), and which lists were forbidden. Exit code 3 when some lists were forbidden.
    """
    from kubefort.cluster.client import ClusterError
    from kubefort.cluster.collect import gaps
    from kubefort.cluster.source import SnapshotWriter

    if all_namespaces and namespaces:
        raise click.UsageError("-A and -n exclude each other")
    source = _live(
        kubeconfig, kube_context, list(namespaces) or None, split_ids(skip_resources), page_size, not no_anonymous_probe
    )
    try:
        writer = SnapshotWriter(output, source.header())
    except OSError as exc:  # checked before connecting, but the directory may have gone since
        raise FileError(f"cannot write snapshot {output}: {os_reason(exc)}") from None
    status = _Status(quiet, f"snapshot of {source.name}")
    try:
        for page in source.pages():
            writer.page(page)
            status(writer.objects, page.rtype.key)
        writer.close(source.statuses)
    except ClusterError as exc:
        writer.abort()
        status.stop()
        raise FileError(str(exc)) from None
    except OSError as exc:
        writer.abort()
        status.stop()
        raise FileError(f"cannot write snapshot {output}: {os_reason(exc)}") from None
    except BaseException:
        writer.abort()
        raise
    finally:
        status.stop()
    missing = [g for g in gaps(source.statuses, source.namespaces_known) if not g.requested]
    if not quiet:
        for g in missing:
            click.echo(f"kubefort: not listed: {g.reason}", err=True)
        click.echo(
            f"kubefort: wrote {writer.objects:,} objects of {source.name} to {output}"
            + (f"; {plural(len(missing), 'list')} forbidden or failed" if missing else ""),
            err=True,
        )
    sys.exit(3 if missing else 0)


def _snapshot_error(path: str, exc: Exception) -> str:
    """ "cannot read snapshot PATH: why" (a SnapshotError's message starts with the path itself)."""
    why = os_reason(exc) if isinstance(exc, OSError) else str(exc).removeprefix(f"{path}: ")
    return f"cannot read snapshot {path}: {why}"
