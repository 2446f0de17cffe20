"""What the component loaders share while one node is discovered, and how they read a component's flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.flags import parse_args
from kubefort.loaders.node.emit import ComponentEmitter
from kubefort.loaders.node.files import NodeFiles
from kubefort.loaders.node.fs import NodeFS
from kubefort.loaders.node.layouts import Distribution
from kubefort.loaders.node.proc import ProcessTable
from kubefort.loaders.node.result import NodeLoad


@dataclass(slots=True)
class NodeScan:
    """The node's files and processes, its k3s/RKE2 layout (None for kubeadm or plain nodes), and what
    has been found so far: components (name -> NodeComponent object), files, pending emissions."""

    fs: NodeFS
    procs: ProcessTable
    distro: Distribution | None
    out: NodeLoad
    files: NodeFiles
    emitter: ComponentEmitter = field(default_factory=ComponentEmitter)
    components: dict[str, dict[str, Any]] = field(default_factory=dict)

    def warn(self, message: str) -> None:
        self.out.warnings.append(message)


def flag_values(argv: list[str], comp: str) -> dict[str, str]:
    """{flag name: value} of a component's argv (the binary first); a flag without a value maps to ""."""
    return {f.name: (f.value or "") for f in parse_args(argv, comp, 1).flags}
