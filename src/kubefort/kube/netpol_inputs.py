"""What `kubefort netpol` analyses: the `Cluster` model of manifest paths and the external peers.

`load_cluster` reads PATHs as `kubefort scan` reads them and builds the model, returning every
problem met as a message (the command prints them and exits 3; nothing is dropped silently).
External peers are `internet` and `cloud-metadata` plus the ones given as `NAME=CIDR`; a given
name replaces a default one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubefort.kube.netpol import DEFAULT_EXTERNALS, Cluster, External
from kubefort.loaders.manifests import LoadOptions, load_resources


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


def load_cluster(
    paths: Sequence[str],
    exclude: Sequence[str],
    options: LoadOptions,
    *,
    render_dirs: bool,
    external_specs: Iterable[str] = (),
    drop_policies: bool = False,
) -> tuple[Cluster, list[str]]:
    """The cluster model of PATHs and every problem met, as messages.

    Raises the loader's UsageError for a path that does not exist and ExternalError for a bad
    external peer. `drop_policies` leaves out the NetworkPolicies of the input.
    """
    resources, problems, _ = load_resources(paths, exclude, options, render_dirs=render_dirs)
    if drop_policies:
        resources = [r for r in resources if r.id.kind != "NetworkPolicy"]
    cluster = Cluster.from_resources(resources, externals(external_specs))
    msgs = [f"{p.file}" + (f":{p.line}" if p.line else "") + f": {p.message}" for p in problems]
    msgs += [str(p) for p in cluster.problems]
    return cluster, msgs
