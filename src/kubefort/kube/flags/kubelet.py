"""The kubelet: flags over its config file, with the right defaults (KubeletView, kubelet_view)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubefort.kube.flags.lookup import component_view, is_node_object
from kubefort.kube.flags.syntax import go_bool, go_duration, split_list
from kubefort.kube.flags.view import ComponentView
from kubefort.model import NotApplicable, NotEvaluated, Path_, Resource, format_path


@dataclass(frozen=True, slots=True)
class KubeletSetting:
    flag: str | None
    config: tuple[str, ...]
    type: str  # "bool" | "str" | "int" | "duration" | "list"
    default_config: Any  # KubeletConfiguration v1beta1 default (a --config file is used)
    default_flags: Any  # the command-line default (no --config): applyLegacyDefaults keeps some insecure
    zero_default: bool = False  # the config loader replaces a zero value ("" / 0s) with the default


@dataclass(slots=True)
class Setting:
    value: Any
    path: Path_
    origin: str  # "flag" | "config" | "default"
    spelled: str  # "--read-only-port=10255" / "readOnlyPort: 10255" / "default"


_TYPES = {"bool": (bool,), "str": (str,), "int": (int,), "duration": (str,), "list": (list,)}


class KubeletView:
    """The kubelet's effective settings: explicit flags, else its config file(s), else its defaults.

    Defaults differ by how the kubelet starts: with `--config` the KubeletConfiguration v1beta1
    defaults apply (anonymous auth off, Webhook authorization, read-only port 0); without it the
    legacy command-line defaults do (anonymous auth on, AlwaysAllow, read-only port 10255).
    """

    def __init__(
        self,
        flags: ComponentView | None,
        config: dict[str, Any] | None,
        config_base: Path_,
        config_error: str | None,
        uses_config: bool,
        label: str,
    ) -> None:
        self.flags = flags
        self.config = config
        self.config_base = config_base
        self.config_error = config_error
        self.uses_config = uses_config
        self.label = label

    def kw(self) -> dict[str, Any]:
        return self.flags.violation_kw() if self.flags is not None else {}

    def _flag(self, s: KubeletSetting) -> Setting | None:
        if self.flags is None or s.flag is None:
            return None
        f = self.flags.last(s.flag)
        if f is None:
            return None
        p = self.flags.at(f)
        raw = f.value
        if s.type == "bool":
            b = True if raw is None else go_bool(raw)
            if b is None:
                raise NotEvaluated(f"{f.spelled!r} is not a boolean the kubelet accepts; it would refuse to start", p)
            return Setting(b, p, "flag", f.spelled)
        if s.type == "int":
            try:
                return Setting(int(raw or ""), p, "flag", f.spelled)
            except ValueError:
                raise NotEvaluated(f"{f.spelled!r} is not an integer; the kubelet would refuse to start", p) from None
        if s.type == "list":
            return Setting([x for g in self.flags.all(s.flag) for x in split_list(g.value or "")], p, "flag", f.spelled)
        return Setting(raw or "", p, "flag", f.spelled)

    def _config(self, s: KubeletSetting) -> Setting | None:
        if self.config is None:
            return None
        cur: Any = self.config
        for i, k in enumerate(s.config):
            if cur is None:  # a null section is an absent one (the Go zero value)
                return None
            if not isinstance(cur, dict):
                p = self.config_base + s.config[:i]
                raise NotEvaluated(f"{format_path(p)} is not a mapping; the kubelet refuses the file", p)
            if k not in cur:
                return None
            cur = cur[k]
        p = self.config_base + s.config
        if cur is None:
            return None
        want = _TYPES[s.type]
        if (
            not isinstance(cur, want)
            or (s.type == "int" and isinstance(cur, bool))
            or (isinstance(cur, list) and not all(isinstance(x, str) for x in cur))
        ):
            raise NotEvaluated(
                f"{'.'.join(s.config)} is {cur!r}, not the type the kubelet expects; it refuses the file", p
            )
        spelled = f"{'.'.join(s.config)}: {str(cur).lower() if isinstance(cur, bool) else cur}"
        if s.zero_default and (cur == "" or (s.type == "duration" and go_duration(str(cur)) == 0)):
            return Setting(
                s.default_config, p, "default", f"{spelled} (a zero value, which the kubelet replaces with its default)"
            )
        if s.type == "duration" and go_duration(str(cur)) is None:
            raise NotEvaluated(f"{spelled} is not a Go duration; the kubelet refuses the file", p)
        return Setting(cur, p, "config", spelled)

    def get(self, s: KubeletSetting) -> Setting:
        got = self._flag(s)
        if got is not None:
            return got
        if self.uses_config and self.config is None:
            missing = self.config_base if self.flags is None else (self.flags.missing)
            raise NotEvaluated(
                f"{'.'.join(s.config)} is set by no flag, and the kubelet's config file cannot be read: {self.config_error}",
                missing,
            )
        got = self._config(s)
        if got is not None:
            return got
        if self.flags is not None and self.flags.absent_reason and not self.uses_config:
            self.flags.absent(s.flag or ".".join(s.config))
        default = s.default_config if self.uses_config else s.default_flags
        where = (
            self.config_base
            if self.uses_config
            else (self.flags.missing if self.flags is not None else self.config_base)
        )
        return Setting(default, where, "default", "the default")

    def feature_gate(self, name: str) -> Setting | None:
        """A feature gate's explicit value: --feature-gates over config featureGates (per key, flags win)."""
        if self.flags is not None:
            g = self.flags.gates()
            if name in g:
                return Setting(g[name][0], g[name][1], "flag", f"--feature-gates {name}={str(g[name][0]).lower()}")
        gates = self.config.get("featureGates") if self.config is not None else None
        if gates is not None and not isinstance(gates, dict):
            p = self.config_base + ("featureGates",)
            raise NotEvaluated("featureGates is not a mapping; the kubelet refuses the file", p)
        if gates is not None:
            v = gates.get(name)
            p = self.config_base + ("featureGates", name)
            if v is None:
                return None
            if not isinstance(v, bool):
                raise NotEvaluated(f"featureGates.{name} is {v!r}, not a boolean; the kubelet refuses the file", p)
            return Setting(v, p, "config", f"featureGates.{name}: {str(v).lower()}")
        return None


def kubelet_view(res: Resource) -> KubeletView:
    """The kubelet of a NodeComponent, or a KubeletConfiguration document (scan input); else NotApplicable."""
    if res.id.kind == "KubeletConfiguration" and res.id.api_version.startswith("kubelet.config.k8s.io/"):
        return KubeletView(None, res.obj, (), None, True, f"KubeletConfiguration {res.id.name}")
    if is_node_object(res, "NodeComponent") and res.obj.get("component") == "kubelet":
        flags = component_view(res, "kubelet")
        cfg = res.obj.get("config")
        err = res.obj.get("configError") if isinstance(res.obj.get("configError"), str) else None
        uses = bool(
            flags.last("config") or flags.last("config-dir") or res.obj.get("configFile") or cfg is not None or err
        )
        if cfg is not None and not isinstance(cfg, dict):
            raise NotEvaluated("config is not a mapping; the kubelet refuses the file", ("config",))
        return KubeletView(
            flags, cfg, ("config",), err or ("not part of the input" if uses and cfg is None else None), uses, "kubelet"
        )
    raise NotApplicable()
