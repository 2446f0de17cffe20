"""What `kubefort netpol` analyses: the `Cluster` model of manifest paths and the external peers.

`load_clusters` reads PATHs as `kubefort scan` reads them and builds one model per analysis unit
(each PATH, Helm chart, kustomization: docs/architecture.md), returning every problem met as a
message (the command prints them and exits 3; nothing is dropped silently).
External peers are `internet` and `cloud-metadata` plus the ones given as `NAME=CIDR`; a given
name replaces a default one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubefort.kube.netpol import DEFAULT_EXTERNALS, Cluster, External
from kubefort.kube.netpol.kinds import describe, unmodelled
from kubefort.loaders.manifests import LoadOptions, load_resources
from kubefort.model import Resource
from kubefort.verdict import nothing_found


class ExternalError(ValueError):
    """A `NAME=CIDR` external peer that does not parse."""


def parse_external(spec: str) -> External:
    """`NAME=CIDR` -> External. Raises ExternalError."""
    name, _, cidr = spec.partition("=")
    ext = External(name.strip(), cidr.strip())
    try:
        _ = ext.range  # parses the CIDR: a bad one raises here
    except ValueError:
        raise ExternalError(f"{spec!r} is not NAME=CIDR") from None
    return ext


def externals(specs: Iterable[str]) -> list[External]:
    """The default external peers plus the given `NAME=CIDR` ones (a later name replaces an earlier one)."""
    out = list(DEFAULT_EXTERNALS)
    for s in specs:
        ext = parse_external(s)
        out = [e for e in out if e.name != ext.name] + [ext]
    return out


def load_clusters(
    paths: Sequence[str],
    exclude: Sequence[str],
    options: LoadOptions,
    *,
    render_dirs: bool,
    external_specs: Iterable[str] = (),
    drop_policies: bool = False,
) -> tuple[list[tuple[str | None, Cluster]], list[str]]:
    """The cluster model of each analysis unit of PATHs (in the order units were met; one, with
    unit None, when nothing was read) and every problem met, as messages.

    Raises the loader's UsageError for a path that does not exist and ExternalError for a bad
    external peer. `drop_policies` leaves out the NetworkPolicies of the input.
    """
    resources, problems, records = load_resources(paths, exclude, options, render_dirs=render_dirs)
    nothing = nothing_found(paths, records, len(resources), excluded=bool(exclude))
    if drop_policies:
        resources = [r for r in resources if r.id.kind != "NetworkPolicy"]
    peers = externals(external_specs)
    by_unit: dict[str | None, list[Resource]] = {}
    for r in resources:
        by_unit.setdefault(r.source.unit, []).append(r)
    clusters = [(unit, Cluster.from_resources(res, peers)) for unit, res in by_unit.items()] or [
        (None, Cluster.from_resources([], peers))
    ]
    msgs = [f"{p.file}" + (f":{p.line}" if p.line else "") + f": {p.message}" for p in problems]
    if nothing is not None:  # an answer about no objects is no answer: say so (exit 3)
        msgs.append(nothing)
    several = len(clusters) > 1
    for unit, cluster in clusters:
        msgs += [f"{unit_name(unit)}: {p}" if several else str(p) for p in cluster.problems]
        for r in cluster.unmodelled:  # never ignored silently: the answer may be wrong without it
            where = "every namespace" if unmodelled(r.id) else f"namespace {r.id.namespace or 'default'}"
            text = f"{describe(r.id)} is a policy kind kubefort does not model yet: the answers for {where} ignore it"
            msgs.append(f"{unit_name(unit)}: {text}" if several else text)
    return clusters, msgs


def unit_name(unit: str | None) -> str:
    return "stdin" if unit == "-" else (unit or "input")
