"""What `load_node` returns: the loaded inputs, where each NodeComponent setting came from, warnings
and the discovery summary (`info`) that reports show under `extras.node`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubefort.loaders.manifests import LoadedInput
from kubefort.model import Location, Path_, Resource, ResourceId

Relocator = Callable[[Path_], Location | None]


@dataclass(slots=True)
class NodeLoad:
    root: str
    inputs: list[LoadedInput] = field(default_factory=list)
    relocators: dict[tuple[ResourceId, str], Relocator] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def relocate(self, rid: ResourceId | None, file: str | None, path: Path_) -> Location | None:
        """Where a NodeComponent setting came from (file:line), when known."""
        if rid is None or file is None:
            return None
        fn = self.relocators.get((rid, file))
        return fn(path) if fn is not None else None

    def resources(self) -> list[Resource]:
        return [r for li in self.inputs for r in li.resources]
