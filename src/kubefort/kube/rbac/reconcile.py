"""What the API server makes of an input object that has the name of one of its default RBAC
objects, and which part of it differs from the defaults.

At every start the API server reconciles each default role and binding of its release
(k8s.io/component-helpers/auth/rbac/reconciliation, called from the RBAC post-start hook without
RemoveExtraPermissions/RemoveExtraSubjects), matching by kind, namespace and name whatever the
labels say:

* labels and annotations: the defaults' are added, the object's own win;
* a role gets every default rule its rules do not cover (`validation.Covers`, rule broken into
  one verb, group, resource and name each) appended; its extra rules stay. Extra rules are not
  computed when both the default and the object are aggregated;
* a default aggregationRule's missing selectors are added; an aggregationRule the default has
  not is removed;
* a binding with a different roleRef is replaced by the default; otherwise the default
  subjects it lacks are appended and its extra subjects stay;
* an object annotated `rbac.authorization.kubernetes.io/autoupdate: "false"` is left as written.

`reconcile_role` / `reconcile_binding` return the object as the cluster ends up with it, and what
of it is the release's default (the rest is judged by the checks).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"


# ------------------------------------------------------------------------------------------------
# rule coverage, exactly validation.Covers
# ------------------------------------------------------------------------------------------------
def _strs(rule: dict[str, Any], key: str) -> list[str]:
    v = rule.get(key)
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def breakdown(rule: dict[str, Any]) -> list[dict[str, list[str]]]:
    """validation.BreakdownRule: one verb, group, resource (and resourceName) per sub-rule;
    non-resource URLs combine with verbs only."""
    out: list[dict[str, list[str]]] = []
    names = _strs(rule, "resourceNames")
    verbs = _strs(rule, "verbs")
    for g in _strs(rule, "apiGroups"):
        for r in _strs(rule, "resources"):
            for v in verbs:
                if names:
                    out += [{"apiGroups": [g], "resources": [r], "verbs": [v], "resourceNames": [n]} for n in names]
                else:
                    out.append({"apiGroups": [g], "resources": [r], "verbs": [v]})
    for u in _strs(rule, "nonResourceURLs"):
        out += [{"nonResourceURLs": [u], "verbs": [v]} for v in verbs]
    return out


def _resources_cover(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or all(r in owner for r in wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or "*/" + path.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: dict[str, Any], sub: dict[str, list[str]]) -> bool:
    """validation.ruleCovers: does the owner rule allow everything the (broken-down) sub-rule does?"""
    ov, og, orr, on = (_strs(owner, k) for k in ("verbs", "apiGroups", "resources", "resourceNames"))
    ou = _strs(owner, "nonResourceURLs")
    sv, sg, sr, sn = (sub.get(k, []) for k in ("verbs", "apiGroups", "resources", "resourceNames"))
    su = sub.get("nonResourceURLs", [])
    return (
        ("*" in ov or all(v in ov for v in sv))
        and ("*" in og or all(g in og for g in sg))
        and _resources_cover(orr, sr)
        and (not on if not sn else (not on or all(n in on for n in sn)))
        and all(any(_url_covers(o, u) for o in ou) for u in su)
    )


def uncovered(owners: Sequence[dict[str, Any]], servants: Sequence[dict[str, Any]]) -> list[dict[str, list[str]]]:
    """validation.Covers' second result: the sub-rules of `servants` no owner rule covers."""
    return [s for rule in servants for s in breakdown(rule) if not any(rule_covers(o, s) for o in owners)]


# ------------------------------------------------------------------------------------------------
# reconciliation
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reconciled:
    """The object as the cluster holds it after reconciliation, and what of it is default:
    `default_rules` indexes into its rules, `default_subjects` are (kind, name, namespace)."""

    obj: dict[str, Any]
    default_rules: frozenset[int] = frozenset()
    default_subjects: frozenset[tuple[str, str, str]] = frozenset()
    protected: bool = False
    replaced: bool = False  # a binding with another roleRef: the default took its place


def protected(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata")
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    return isinstance(ann, dict) and ann.get(AUTOUPDATE) == "false"


def _rules(obj: dict[str, Any]) -> list[dict[str, Any]]:
    v = obj.get("rules")
    return [r for r in v if isinstance(r, dict)] if isinstance(v, list) else []


def _merge_meta(obj: dict[str, Any], default: dict[str, Any]) -> None:
    meta = obj.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        mine = meta.get(key) if isinstance(meta.get(key), dict) else {}
        theirs = default.get("metadata", {}).get(key) or {}
        if theirs:
            meta[key] = {**theirs, **mine}


def reconcile_role(existing: dict[str, Any], default: dict[str, Any]) -> Reconciled:
    """A Role or ClusterRole of a default's name, as computeReconciledRole leaves it (the
    "default" rules: those the default covers, and the ones appended)."""
    mine, theirs = _rules(existing), _rules(default)
    own_default = frozenset(i for i, r in enumerate(mine) if not uncovered(theirs, [r]))
    if protected(existing):
        return Reconciled(existing, own_default, protected=True)
    obj = copy.deepcopy(existing)
    _merge_meta(obj, default)
    missing = uncovered(mine, theirs)
    if missing:
        obj["rules"] = mine + missing
    want, have = default.get("aggregationRule"), existing.get("aggregationRule")
    if want is None and have is not None:
        obj.pop("aggregationRule", None)
    elif isinstance(want, dict):
        sels = list(have.get("clusterRoleSelectors") or []) if isinstance(have, dict) else []
        for s in want.get("clusterRoleSelectors") or []:
            if s not in sels:
                sels.append(s)
        obj["aggregationRule"] = {"clusterRoleSelectors": sels}
    appended = frozenset(range(len(mine), len(mine) + len(missing)))
    return Reconciled(obj, own_default | appended)


def subject_key(s: Any, default_ns: str | None = None) -> tuple[str, str, str]:
    """A subject as the reconciler compares them (kind, name, namespace)."""
    if not isinstance(s, dict):
        return ("", "", "")
    return (str(s.get("kind") or ""), str(s.get("name") or ""), str(s.get("namespace") or default_ns or ""))


def reconcile_binding(existing: dict[str, Any], default: dict[str, Any]) -> Reconciled:
    """A RoleBinding or ClusterRoleBinding of a default's name, as computeReconciledRoleBinding
    leaves it: replaced by the default when its roleRef differs, else with the missing default
    subjects appended."""
    theirs = [s for s in default.get("subjects") or [] if isinstance(s, dict)]
    theirs_keys = frozenset(subject_key(s) for s in theirs)
    if protected(existing):
        return Reconciled(existing, default_subjects=theirs_keys, protected=True)
    if _ref(existing.get("roleRef")) != _ref(default.get("roleRef")):
        return Reconciled(copy.deepcopy(default), default_subjects=theirs_keys, replaced=True)
    obj = copy.deepcopy(existing)
    _merge_meta(obj, default)
    raw = existing.get("subjects")
    mine = list(raw) if isinstance(raw, list) else []
    have = {subject_key(s) for s in mine}
    obj["subjects"] = mine + [s for s in theirs if subject_key(s) not in have]
    return Reconciled(obj, default_subjects=theirs_keys)


def _ref(ref: Any) -> tuple[str, str, str]:
    if not isinstance(ref, dict):
        return ("", "", "")
    return (str(ref.get("apiGroup") or ""), str(ref.get("kind") or ""), str(ref.get("name") or ""))
