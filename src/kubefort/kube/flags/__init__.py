"""Command lines of the Kubernetes components, read the way the components read them.

Two sources carry a component's command line:

* a Pod (a static-pod manifest in `kubefort scan` input): the container's `command` + `args`;
* a `NodeComponent` (synthetic, built by `kubefort node` from a static-pod manifest, `/proc`,
  systemd units or a distribution's config): its `argv`, plus the content of the files the
  flags name (kubelet `--config`, etcd `--config-file`, ...).

`component_view(res, name)` gives a `ComponentView` for either, or raises `NotApplicable` when the
object does not run that component. Its accessors apply the components' own parsing rules:

* Kubernetes components use spf13/pflag: `--flag=value` and `--flag value`; a boolean flag takes
  no separate value (`--anonymous-auth false` sets it to true and leaves a stray argument, the
  component then refuses to start); `_` in names is read as `-` (component-base's
  WordSepNormalizeFunc); a scalar flag given twice keeps its last value; list flags
  (`--enable-admission-plugins`, `--authorization-mode`, `--tls-cipher-suites`) split on commas
  and a repeated occurrence appends; `--feature-gates` merges key=value pairs, last wins.
* etcd uses Go's `flag` package: `-flag` and `--flag` are the same, parsing stops at the first
  argument that is not a flag, every flag can also come from an `ETCD_<NAME>` environment
  variable (a flag on the command line wins) and `--config-file` replaces both.
* Booleans follow Go's strconv.ParseBool (`1 t T true TRUE True`, `0 f F false FALSE False`).

When a flag is absent the caller applies the component's compiled-in default, unless the view
says its flags are only partly visible (a component embedded in k3s): then absent flags raise
`NotEvaluated` with the reason.

| module     | what it holds                                                                      |
|------------|------------------------------------------------------------------------------------|
| tables.py  | NODE_API, COMPONENTS, CONTROL_PLANE, HYPERKUBE; BOOL_FLAGS per component, ETCD_CONFIG_KEYS |
| syntax.py  | Go flag / pflag syntax: parse_args (Flag, ParsedArgs), split_list, env_name, go_bool, go_duration |
| view.py    | ComponentView: typed flag accessors, files the flags name, the component's version |
| lookup.py  | argv lookup: binary_component, find_in_argv, pod_views; component_view, is_node_object |
| kubelet.py | the kubelet's effective settings: KubeletSetting, Setting, KubeletView, kubelet_view |
| etcd.py    | etcd's --config-file over flags over ETCD_* variables: etcd_bool, etcd_str          |
"""

from kubefort.kube.flags.etcd import etcd_bool, etcd_str
from kubefort.kube.flags.kubelet import KubeletSetting, KubeletView, Setting, kubelet_view
from kubefort.kube.flags.lookup import binary_component, component_view, find_in_argv, is_node_object, pod_views
from kubefort.kube.flags.syntax import Flag, ParsedArgs, env_name, go_bool, go_duration, parse_args, split_list
from kubefort.kube.flags.tables import BOOL_FLAGS, COMPONENTS, CONTROL_PLANE, ETCD_CONFIG_KEYS, NODE_API
from kubefort.kube.flags.view import ComponentView

__all__ = [
    "BOOL_FLAGS",
    "COMPONENTS",
    "CONTROL_PLANE",
    "ETCD_CONFIG_KEYS",
    "NODE_API",
    "ComponentView",
    "Flag",
    "KubeletSetting",
    "KubeletView",
    "ParsedArgs",
    "Setting",
    "binary_component",
    "component_view",
    "env_name",
    "etcd_bool",
    "etcd_str",
    "find_in_argv",
    "go_bool",
    "go_duration",
    "is_node_object",
    "kubelet_view",
    "parse_args",
    "pod_views",
    "split_list",
]
