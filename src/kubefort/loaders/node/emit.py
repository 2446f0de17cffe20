"""NodeComponent objects: emitting them as inputs, and finding where each setting came from.

A component's violations point at `argv[i]`, `config...` or `env...` of its NodeComponent object;
the relocator registered here turns such a path back into the file and line that set it (the
manifest line, the unit or drop-in line, the kubeadm-flags.env line, the config file line).
Components are emitted last, after every loader has added the files they reference.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from kubefort.kube.flags import NODE_API
from kubefort.loaders.manifests import LoadedInput
from kubefort.loaders.node.documents import has
from kubefort.loaders.node.result import NodeLoad, Relocator
from kubefort.loaders.node.systemd import Arg
from kubefort.locate import Locator
from kubefort.model import InputRecord, Location, Path_, Resource, ResourceId, Source


class Layer(NamedTuple):
    """One configuration file of a component (the kubelet's --config, then its --config-dir drop-ins)."""

    file: str
    data: bytes
    doc: dict[str, Any]


class ComponentEmitter:
    """The NodeComponent objects found, in order, with their relocators."""

    def __init__(self) -> None:
        self.pending: list[tuple[dict[str, Any], str, Relocator]] = []
        self.layers: dict[str, list[Layer]] = {}  # component -> its config files, lowest precedence first

    def emit(self, obj: dict[str, Any], source: str, relocate: Relocator) -> None:
        self.pending.append((obj, source, relocate))  # emitted at the end: referenced files are added later

    def emit_with_args(self, obj: dict[str, Any], source: str, args: list[Arg], layers: list[Layer]) -> None:
        """A component whose arguments each know their file and line (the kubelet)."""
        self.layers[obj["component"]] = layers

        def relocate(path: Path_) -> Location | None:
            if len(path) > 1 and path[0] == "argv" and isinstance(path[1], int) and path[1] < len(args):
                a = args[path[1]]
                return Location(a.file, a.line) if a.file else None
            if path and path[0] == "config":
                return self.config_location(obj, path)
            if args and args[0].file:  # an absent flag: the line that starts the kubelet (ExecStart=)
                return Location(args[0].file, args[0].line)
            return Location(source)

        self.emit(obj, source, relocate)

    def config_location(self, obj: dict[str, Any], path: Path_) -> Location | None:
        """Where `config...` of a component is set: the last config layer that has the key, else the first one."""
        layers = self.layers.get(obj["component"], [])
        inner = tuple(path[1:])
        for layer in reversed(layers):
            if has(layer.doc, inner):
                pos = Locator(layer.data).find(0, inner)
                return Location(layer.file, pos[0], pos[1]) if pos else Location(layer.file)
        if layers:
            first = layers[0]
            pos = Locator(first.data).find(0, inner)
            return Location(first.file, pos[0], pos[1]) if pos else Location(first.file)
        cfg = obj.get("configFile")
        return Location(cfg) if isinstance(cfg, str) else None

    def flush(self, out: NodeLoad) -> None:
        """Add every pending component to `out` as an input with its relocator."""
        for obj, found_in, relocate in self.pending:
            source = found_in
            if found_in.startswith("/proc/"):
                # pids change with every restart: name the binary, so that fingerprints (baselines) stay stable
                argv = obj.get("argv") or [obj["component"]]
                source = argv[0] if argv[0].startswith("/") else f"{obj['component']} (process)"
            clean = {k: v for k, v in obj.items() if not k.startswith("_")}
            res = Resource(
                ResourceId(NODE_API, "NodeComponent", None, obj["component"]), clean, Source(source, 0, None)
            )
            out.inputs.append(LoadedInput(InputRecord(source, "node", 1, 1), [res]))
            out.relocators[(res.id, source)] = relocate
