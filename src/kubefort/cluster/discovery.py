"""API discovery: every listable resource type the server serves, CRDs and aggregated APIs included.

Aggregated discovery (`apidiscovery.k8s.io/v2`, GA in 1.30) answers in two requests; older
servers get the classic walk (/api, /apis, then one request per group version, in parallel).
Each resource is listed once, at its group's preferred version.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from kubefort.cluster.client import Cluster, ClusterError

AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


@dataclass(frozen=True, slots=True)
class ResourceType:
    group: str  # "" for the core group
    version: str
    resource: str  # plural, e.g. "deployments"
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """`deployments.apps`, `pods`: the name users give to --skip-resources."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def path(self, namespace: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{base}/namespaces/{namespace}/{self.resource}" if namespace else f"{base}/{self.resource}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verbs"] = list(self.verbs)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResourceType:
        return cls(
            d["group"], d["version"], d["resource"], d["kind"], bool(d["namespaced"]), tuple(d.get("verbs") or ())
        )


@dataclass(slots=True)
class Discovery:
    types: list[ResourceType]
    method: str  # "aggregated" | "legacy"
    problems: list[str] = field(
        default_factory=list
    )  # groups that could not be discovered (stale aggregated APIs, 503 ...)

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "types": [t.as_dict() for t in self.types], "problems": self.problems}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Discovery:
        return cls(
            [ResourceType.from_dict(t) for t in d.get("types", [])], d.get("method", "?"), list(d.get("problems", []))
        )


def discover(cluster: Cluster) -> Discovery:
    core = cluster.get("/api", accept=AGGREGATED)
    if core.status in (401, 403):
        raise ClusterError(f"discovery refused ({core.status}): {core.message()}")
    if core.status != 200:
        raise ClusterError(f"GET /api answered {core.status}: {core.message()}")
    body = _json_object(core.json(), "/api")
    if body.get("kind") == "APIGroupDiscoveryList":
        apis = cluster.get("/apis", accept=AGGREGATED)
        if apis.status != 200:
            raise ClusterError(f"GET /apis answered {apis.status}: {apis.message()}")
        d = Discovery([], "aggregated")
        for doc in (body, _json_object(apis.json(), "/apis")):
            _aggregated(doc, d)
        return _dedupe(d)
    return _legacy(cluster, body)


def _json_object(body: object, path: str) -> dict[str, Any]:
    """A discovery answer, which is a JSON object (its contents are read leniently, with .get)."""
    if not isinstance(body, dict):
        raise ClusterError(f"GET {path} answered {type(body).__name__}, not a JSON object")
    return body


def _aggregated(doc: dict[str, Any], d: Discovery) -> None:
    for group in doc.get("items") or []:
        gname = (group.get("metadata") or {}).get("name", "")
        seen: set[str] = set()
        for ver in group.get("versions") or []:  # preferred version first
            if ver.get("freshness") == "Stale":
                d.problems.append(
                    f"{gname or 'core'}/{ver.get('version')}: discovery data is stale (aggregated API unavailable?)"
                )
                continue
            for r in ver.get("resources") or []:
                name = r.get("resource", "")
                if name in seen or "list" not in (r.get("verbs") or []):
                    continue
                seen.add(name)
                rk = r.get("responseKind") or {}
                d.types.append(
                    ResourceType(
                        gname,
                        ver.get("version", ""),
                        name,
                        rk.get("kind", ""),
                        r.get("scope") == "Namespaced",
                        tuple(r.get("verbs") or ()),
                    )
                )


def _legacy(cluster: Cluster, core: dict[str, Any]) -> Discovery:
    gvs: list[tuple[str, str, int]] = [("", v, 0) for v in (core.get("versions") or [])]
    apis = cluster.get("/apis")
    if apis.status != 200:
        raise ClusterError(f"GET /apis answered {apis.status}: {apis.message()}")
    for _rank_g, g in enumerate(_json_object(apis.json(), "/apis").get("groups") or []):
        pref = (g.get("preferredVersion") or {}).get("version")
        versions = [v.get("version") for v in g.get("versions") or []]
        ordered = ([pref] if pref else []) + [v for v in versions if v != pref]
        gvs += [(g.get("name", ""), v, i) for i, v in enumerate(ordered)]
    d = Discovery([], "legacy")

    def fetch(gv: tuple[str, str, int]) -> tuple[tuple[str, str, int], dict[str, Any] | str]:
        g, v, _ = gv
        path = f"/apis/{g}/{v}" if g else f"/api/{v}"
        r = cluster.get(path)
        return gv, (_json_object(r.json(), path) if r.status == 200 else f"{g or 'core'}/{v}: {r.status} {r.message()}")

    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(fetch, gvs))
    seen: set[tuple[str, str]] = set()
    for (g, v, _), body in results:  # in preferred-first order per group
        if isinstance(body, str):
            d.problems.append(body)
            continue
        for r in body.get("resources") or []:
            name = r.get("name", "")
            if "/" in name or (g, name) in seen or "list" not in (r.get("verbs") or []):
                continue
            seen.add((g, name))
            d.types.append(
                ResourceType(g, v, name, r.get("kind", ""), bool(r.get("namespaced")), tuple(r.get("verbs") or ()))
            )
    return d


def _dedupe(d: Discovery) -> Discovery:
    seen: set[tuple[str, str]] = set()
    out: list[ResourceType] = []
    for t in d.types:
        if (t.group, t.resource) not in seen:
            seen.add((t.group, t.resource))
            out.append(t)
    d.types = out
    return d
