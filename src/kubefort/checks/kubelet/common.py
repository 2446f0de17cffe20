"""Helpers shared by the KF-KUBELET modules: the kubelet settings the checks read, and messages
naming where a value comes from."""

from __future__ import annotations

from typing import Any

from kubefort.kube.flags import KubeletSetting, KubeletView, Setting, kubelet_view
from kubefort.model import Path_, Resource, Violation

KINDS = ("NodeComponent", "KubeletConfiguration")
KUBELET_REF = "https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/"
FLAGS_REF = "https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/"
NSA_NODE = ("NSA-CISA Kubernetes Hardening Guide: worker node protection",)

ANONYMOUS = KubeletSetting("anonymous-auth", ("authentication", "anonymous", "enabled"), "bool", False, True)
AUTHZ_MODE = KubeletSetting(
    "authorization-mode", ("authorization", "mode"), "str", "Webhook", "AlwaysAllow", zero_default=True
)
CLIENT_CA = KubeletSetting("client-ca-file", ("authentication", "x509", "clientCAFile"), "str", "", "")
READ_ONLY_PORT = KubeletSetting("read-only-port", ("readOnlyPort",), "int", 0, 10255)
STREAM_TIMEOUT = KubeletSetting(
    "streaming-connection-idle-timeout",
    ("streamingConnectionIdleTimeout",),
    "duration",
    "4h0m0s",
    "4h0m0s",
    zero_default=True,
)
IPTABLES_CHAINS = KubeletSetting("make-iptables-util-chains", ("makeIPTablesUtilChains",), "bool", True, True)
TLS_CERT = KubeletSetting("tls-cert-file", ("tlsCertFile",), "str", "", "")
TLS_KEY = KubeletSetting("tls-private-key-file", ("tlsPrivateKeyFile",), "str", "", "")
SERVER_BOOTSTRAP = KubeletSetting("rotate-server-certificates", ("serverTLSBootstrap",), "bool", False, False)
ROTATE = KubeletSetting("rotate-certificates", ("rotateCertificates",), "bool", False, False)
CIPHERS = KubeletSetting("tls-cipher-suites", ("tlsCipherSuites",), "list", [], [])
TLS_MIN = KubeletSetting("tls-min-version", ("tlsMinVersion",), "str", "", "")
PIDS = KubeletSetting("pod-max-pids", ("podPidsLimit",), "int", -1, -1)
SECCOMP = KubeletSetting("seccomp-default", ("seccompDefault",), "bool", False, False)
KERNEL_DEFAULTS = KubeletSetting("protect-kernel-defaults", ("protectKernelDefaults",), "bool", False, False)


def kubelet_example(*lines: str) -> str:
    return "\n".join(
        [
            "```yaml",
            "# the file the kubelet's --config names (kubeadm: /var/lib/kubelet/config.yaml)",
            "apiVersion: kubelet.config.k8s.io/v1beta1",
            "kind: KubeletConfiguration",
            *lines,
            "```",
        ]
    )


def _fmt(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def said(kv: KubeletView, s: Setting, what: str) -> str:
    """A message naming where a value comes from: the flag, the config file, or the default."""
    if s.origin == "flag":
        return f"{s.spelled} on the kubelet's command line: {what}"
    if s.origin == "config":
        return f"{s.spelled} in the kubelet config: {what}"
    if s.spelled != "the default":
        return f"{s.spelled}: {what}"
    if kv.uses_config:
        return f"{what}: not set, and the kubelet's default is {_fmt(s.value)}"
    return f"{what}: not set, and without --config the kubelet's command-line default is {_fmt(s.value)}"


def v(res: Resource, s: KubeletSetting) -> tuple[KubeletView, Setting]:
    kv = kubelet_view(res)
    return kv, kv.get(s)


def out(kv: KubeletView, message: str, path: Path_) -> Violation:
    return Violation(message, path, **kv.kw())


_EFFECTIVE = (
    "Reads the effective value: `{flag}` on the command line, else `{key}` in the config file(s), else the "
    "default ({dc} with a config file, {df} without)."
)


def effective_what(s: KubeletSetting, text: str) -> str:
    return (
        text
        + " "
        + _EFFECTIVE.format(
            flag=f"--{s.flag}", key=".".join(s.config), dc=repr(s.default_config), df=repr(s.default_flags)
        )
    )
