"""Reading RBAC objects into the model (defensive: the API server rejects what does not
type-check, so do we), aggregation selectors, and kubefort's built-in data (bootstrap RBAC of
each release, kube/rbac/builtin.py)."""

from __future__ import annotations

from typing import Any

from kubefort.kube.pods import Fields, type_name
from kubefort.kube.rbac import builtin
from kubefort.kube.rbac.model import BOOTSTRAP_FILE, BOOTSTRAP_LABEL, Rule
from kubefort.kube.selectors import Selector, parse_selector
from kubefort.model import NotEvaluated, Path_, Resource, ResourceId, Source, format_path


# ------------------------------------------------------------------------------------------------
# parsing (defensive: the API server rejects what does not type-check, so do we)
# ------------------------------------------------------------------------------------------------
def get_path(obj: Any, path: Path_) -> Any:
    for k in path:
        if obj is None:
            return None
        if not isinstance(obj, dict):
            raise NotEvaluated(f"{format_path(path)}: a parent is {type_name(obj)}, expected a mapping", path)
        obj = obj.get(k)
    return obj


def _strs(v: Any, path: Path_) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise NotEvaluated(f"{format_path(path)} is {type_name(v)}, expected a list of strings", path)
    for i, x in enumerate(v):
        if not isinstance(x, str):
            raise NotEvaluated(f"{format_path(path + (i,))} is {type_name(x)}, expected a string", path + (i,))
    return tuple(v)


def string_field(v: Any, path: Path_, required: bool = True) -> str:
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v):
        raise NotEvaluated(
            f"{format_path(path)} is {type_name(v) if v != '' else 'empty'}, expected a non-empty string", path
        )
    return v


def labels_of(res: Resource) -> dict[str, str]:
    """`metadata.labels` as the API server decodes a map[string]string (`Fields.str_map`): a null
    value is "" (the label is set); NotEvaluated for any other non-string value."""
    return Fields(res.obj, ()).str_map("metadata", "labels")


def parse_rules(res: Resource, origin: str, default: bool = False) -> list[Rule]:
    raw = get_path(res.obj, ("rules",))
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise NotEvaluated(f"rules is {type_name(raw)}, expected a list", ("rules",))
    out = []
    for i, r in enumerate(raw):
        p: Path_ = ("rules", i)
        if not isinstance(r, dict):
            raise NotEvaluated(f"{format_path(p)} is {type_name(r)}, expected a mapping", p)
        out.append(
            Rule(
                _strs(r.get("verbs"), p + ("verbs",)),
                _strs(r.get("apiGroups"), p + ("apiGroups",)),
                _strs(r.get("resources"), p + ("resources",)),
                _strs(r.get("resourceNames"), p + ("resourceNames",)),
                _strs(r.get("nonResourceURLs"), p + ("nonResourceURLs",)),
                origin,
                i,
                default,
            )
        )
    return out


def is_bootstrap(res: Resource) -> bool:
    """Labelled as one of the cluster's default RBAC objects (or kubefort's built-in copy)."""
    meta = res.obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return res.source.file == BOOTSTRAP_FILE or (
        isinstance(labels, dict) and labels.get(BOOTSTRAP_LABEL) == "rbac-defaults"
    )


# ------------------------------------------------------------------------------------------------
# label selectors (aggregation)
# ------------------------------------------------------------------------------------------------
def aggregation_selectors(res: Resource) -> list[Selector] | None:
    """`aggregationRule.clusterRoleSelectors` as the API server decodes and validates them (None:
    no aggregationRule, the role is not aggregated). NotEvaluated for what it rejects: a wrong
    type, an invalid selector (`parse_selector`: null matchLabels values are ""), or an
    aggregationRule without selectors (ValidateClusterRole: "at least one clusterRoleSelector
    required if aggregationRule is non-nil"). A null list item is an empty selector, which
    matches every ClusterRole (metav1.LabelSelectorAsSelector of a zero LabelSelector)."""
    f = Fields(res.obj, ())
    if f.get("aggregationRule") is None:
        return None
    p: Path_ = ("aggregationRule", "clusterRoleSelectors")
    sels = f.list("aggregationRule", "clusterRoleSelectors")
    if not sels:
        raise NotEvaluated(
            f"{format_path(p)} holds no selector: an aggregationRule needs at least one; the API server rejects "
            "the ClusterRole",
            p,
        )
    return [parse_selector(s, p + (i,)) for i, s in enumerate(sels)]


# ------------------------------------------------------------------------------------------------
# built-in data (versioned: kube/rbac/builtin.py)
# ------------------------------------------------------------------------------------------------
def bootstrap_objects(version: str | None = None) -> tuple[dict[str, Any], ...]:
    """The default RBAC objects of a fresh cluster of that release (default: the newest shipped)."""
    return builtin.bootstrap_objects(version or builtin.latest())


def bootstrap_resources(version: str | None = None) -> list[Resource]:
    out = []
    for i, obj in enumerate(bootstrap_objects(version)):
        meta = obj["metadata"]
        rid = ResourceId(obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"])
        out.append(Resource(rid, obj, Source(BOOTSTRAP_FILE, i)))
    return out
