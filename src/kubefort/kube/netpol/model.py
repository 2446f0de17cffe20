"""The model: what the policies, namespaces and workloads of a scan say."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubefort.kube.netpol.cidr import cidr_range
from kubefort.kube.netpol.ports import ALL_PORTS, NO_PORTS, PortSet, port_set, ports_union
from kubefort.kube.pods import type_name
from kubefort.kube.selectors import Selector
from kubefort.model import NotEvaluated, Path_, Resource, ResourceId, format_path

NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_NAMESPACE = "default"
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


@dataclass(frozen=True, slots=True)
class External:
    """An endpoint outside the cluster: a named address range."""

    name: str
    cidr: str

    @property
    def range(self) -> tuple[int, int]:
        return cidr_range(self.cidr)


DEFAULT_EXTERNALS = (External("internet", "0.0.0.0/0"), External("cloud-metadata", "169.254.169.254/32"))


class PolicyError(NotEvaluated):
    """An object the API server would reject (or that kubefort cannot read)."""


# field checks shared by the policy parsers: a refusal names the field's path
def need(cond: bool, msg: str, path: Path_) -> None:
    if not cond:
        raise PolicyError(f"{format_path(path)} {msg}", path)


def checked_list(v: Any, path: Path_, hi: int | None = None) -> list[Any]:
    """A list field (None: absent, empty), with at most `hi` items."""
    if v is None:
        return []
    need(isinstance(v, list), f"is {type_name(v)}, expected a list", path)
    need(hi is None or len(v) <= hi, f"has {len(v)} items; at most {hi} allowed", path)
    return list(v)


def checked_map(v: Any, path: Path_) -> dict[str, Any]:
    """A mapping field (None: absent, empty)."""
    if v is None:
        return {}
    need(isinstance(v, dict), f"is {type_name(v)}, expected a mapping", path)
    return dict(v)


@dataclass(frozen=True, slots=True)
class Peer:
    pod: Selector | None = None  # podSelector (None: not given)
    ns: Selector | None = None  # namespaceSelector (None: not given)
    cidr: str | None = None
    block: tuple[tuple[int, int], ...] = ()  # ipBlock cidr minus except, as address ranges
    path: Path_ = ()


@dataclass(frozen=True, slots=True)
class PortRule:
    protocol: str = "TCP"
    port: int | str | None = None  # None: every port of the protocol
    end_port: int | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    direction: str  # "ingress" | "egress"
    index: int
    peers: tuple[Peer, ...] | None  # None: `from`/`to` absent or empty (every peer)
    ports: tuple[PortRule, ...] | None  # None: `ports` absent or empty (every port)
    path: Path_ = ()

    def static_ports(self) -> PortSet:
        """The ports given by number (or by protocol alone); named ports resolve per destination."""
        if self.ports is None:
            return ALL_PORTS
        out = NO_PORTS
        for p in self.ports:
            if p.port is None:
                out = ports_union(out, port_set(p.protocol))
            elif isinstance(p.port, int):
                out = ports_union(out, port_set(p.protocol, p.port, p.end_port or p.port))
        return out

    def named_ports(self) -> tuple[tuple[str, str], ...]:
        return tuple((p.port, p.protocol) for p in self.ports or () if isinstance(p.port, str))


@dataclass(slots=True)
class Policy:
    namespace: str
    name: str
    selector: Selector
    types: frozenset[str]
    ingress: tuple[Rule, ...]
    egress: tuple[Rule, ...]
    resource: Resource | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def affects(self, direction: str) -> bool:
        return ("Ingress" if direction == "ingress" else "Egress") in self.types


@dataclass(slots=True)
class Workload:
    namespace: str
    kind: str
    name: str
    labels: dict[str, str]
    ports: tuple[tuple[str, str, int], ...] = ()  # named container ports: (name, protocol, number)
    resource: Resource | None = None
    # spec.hostNetwork: the pods are the node's network identity (docs/netpol.md): no pod policy
    # selects them, no pod selector matches them, and their named ports are host ports (`ports` empty)
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    def resolve(self, name: str, proto: str) -> tuple[int, ...]:
        """Numbers of this pod's container ports called `name` with protocol `proto`."""
        return tuple(n for pn, pp, n in self.ports if pn == name and pp == proto)


@dataclass(slots=True)
class Problem:
    resource: ResourceId | None
    message: str
    path: Path_ = ()
    obj: Resource | None = field(default=None, compare=False, repr=False)  # the object itself (ids repeat across files)

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"
