"""etcd: --config-file, else flags, else ETCD_* environment variables."""

from __future__ import annotations

from typing import Any

from kubefort.kube.flags.tables import ETCD_CONFIG_KEYS
from kubefort.kube.flags.view import ComponentView
from kubefort.model import NotEvaluated, Path_


def _etcd_config(view: ComponentView, flag: str) -> tuple[bool, Any, Path_]:
    """(uses a config file, value, path): with --config-file etcd ignores flags and environment."""
    cf = view.last("config-file")
    cf_env = view.env.get("ETCD_CONFIG_FILE")
    if cf is None and (cf_env is None or not cf_env[0]):
        return False, None, view.missing
    where = cf.value if cf is not None else cf_env[0] if cf_env else None
    node = view.node
    if node is None or not isinstance(node.get("config"), dict):
        reason = (
            node.get("configError")
            if node is not None and isinstance(node.get("configError"), str)
            else "its content is not part of the input"
        )
        raise NotEvaluated(
            f"etcd reads its settings from --config-file {where} (flags and environment are ignored) and {reason}",
            view.at(cf) if cf is not None else view.missing,
        )
    keys = ETCD_CONFIG_KEYS.get(flag, (flag,))
    cur: Any = node["config"]
    for i, k in enumerate(keys):
        if cur is not None and not isinstance(cur, dict):  # null is an absent section; others etcd refuses
            path = ("config",) + keys[:i]
            raise NotEvaluated(f"{'.'.join(keys[:i])} is {cur!r:.40}, not a mapping; etcd refuses the file", path)
        cur = cur.get(k) if cur is not None else None
    return True, cur, ("config",) + keys


def etcd_bool(view: ComponentView, flag: str, default: bool = False) -> tuple[bool, Path_]:
    used, value, path = _etcd_config(view, flag)
    if used:
        if value is None:
            return default, path
        if not isinstance(value, bool):
            raise NotEvaluated(
                f"{'.'.join(map(str, path[1:]))} is {value!r}, not a boolean; etcd refuses the file", path
            )
        return value, path
    return view.boolean(flag, default)


def etcd_str(view: ComponentView, flag: str) -> tuple[str | None, Path_]:
    used, value, path = _etcd_config(view, flag)
    if used:
        if value is not None and not isinstance(value, str):
            raise NotEvaluated(
                f"{'.'.join(map(str, path[1:]))} is {value!r}, not a string; etcd refuses the file", path
            )
        return value, path
    return view.string(flag)
