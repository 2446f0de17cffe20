"""The components kubefort knows, and the per-component flag tables: which flags are booleans
(a boolean takes no separate value), where etcd's flags sit in its --config-file.
"""

from __future__ import annotations

NODE_API = "node.kubefort.io/v1alpha1"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet", "kube-proxy")
CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
# hyperkube sub-commands, old and new spellings
HYPERKUBE = {
    "apiserver": "kube-apiserver",
    "controller-manager": "kube-controller-manager",
    "scheduler": "kube-scheduler",
    "proxy": "kube-proxy",
    "kubelet": "kubelet",
}

_COMMON_BOOL = {
    "alsologtostderr",
    "logtostderr",
    "one-output",
    "skip-headers",
    "skip-log-headers",
    "add-dir-header",
    "help",
    "version",
    "profiling",
    "contention-profiling",
    "enable-contention-profiling",
}
BOOL_FLAGS: dict[str, frozenset[str]] = {
    "kube-apiserver": frozenset(
        _COMMON_BOOL
        | {
            "anonymous-auth",
            "allow-privileged",
            "enable-bootstrap-token-auth",
            "service-account-lookup",
            "service-account-extend-token-expiration",
            "kubelet-https",
            "audit-log-compress",
            "audit-log-truncate-enabled",
            "audit-webhook-truncate-enabled",
            "audit-log-batch-throttle-enable",
            "audit-webhook-batch-throttle-enable",
            "enable-aggregator-routing",
            "enable-garbage-collector",
            "enable-logs-handler",
            "enable-priority-and-fairness",
            "watch-cache",
            "enable-swagger-ui",
            "insecure-skip-tls-verify",
            "permit-port-sharing",
            "permit-address-sharing",
        }
    ),
    "kube-controller-manager": frozenset(
        _COMMON_BOOL
        | {
            "use-service-account-credentials",
            "allocate-node-cidrs",
            "configure-cloud-routes",
            "enable-garbage-collector",
            "enable-hostpath-provisioner",
            "enable-dynamic-provisioning",
            "leader-elect",
            "enable-taint-manager",
            "permit-port-sharing",
            "permit-address-sharing",
            "disable-attach-detach-reconcile-sync",
        }
    ),
    "kube-scheduler": frozenset(_COMMON_BOOL | {"leader-elect", "permit-port-sharing", "permit-address-sharing"}),
    "kubelet": frozenset(
        _COMMON_BOOL
        | {
            "anonymous-auth",
            "authentication-token-webhook",
            "rotate-certificates",
            "rotate-server-certificates",
            "make-iptables-util-chains",
            "seccomp-default",
            "protect-kernel-defaults",
            "fail-swap-on",
            "cgroups-per-qos",
            "enable-server",
            "enable-debugging-handlers",
            "register-node",
            "register-schedulable",
            "serialize-image-pulls",
            "kernel-memcg-notification",
            "enable-controller-attach-detach",
            "exit-on-lock-contention",
            "keep-terminated-pod-volumes",
            "fail-cgroupv1",
            "enable-load-reader",
            "localstorage-capacity-isolation",
        }
    ),
    "kube-proxy": frozenset(
        _COMMON_BOOL
        | {"masquerade-all", "cleanup", "cleanup-ipvs", "bind-address-hard-fail", "ipvs-strict-arp", "init-only"}
    ),
    "etcd": frozenset(
        {
            "client-cert-auth",
            "peer-client-cert-auth",
            "auto-tls",
            "peer-auto-tls",
            "strict-reconfig-check",
            "enable-v2",
            "enable-pprof",
            "debug",
            "force-new-cluster",
            "experimental-initial-corrupt-check",
            "enable-grpc-gateway",
            "socket-reuse-port",
            "socket-reuse-address",
            "experimental-enable-distributed-tracing",
            "version",
            "help",
            "experimental-peer-skip-client-san-verification",
            "peer-skip-client-san-verification",
            "pre-vote",
            "experimental-compact-hash-check-enabled",
            "experimental-enable-lease-checkpoint",
            "experimental-memory-mlock",
            "unsafe-no-fsync",
            "enable-log-rotation",
            "experimental-stop-grpc-service-on-defrag",
        }
    ),
}
# etcd flags that live inside client-transport-security / peer-transport-security in --config-file
ETCD_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "cert-file": ("client-transport-security", "cert-file"),
    "key-file": ("client-transport-security", "key-file"),
    "client-cert-auth": ("client-transport-security", "client-cert-auth"),
    "trusted-ca-file": ("client-transport-security", "trusted-ca-file"),
    "auto-tls": ("client-transport-security", "auto-tls"),
    "peer-cert-file": ("peer-transport-security", "cert-file"),
    "peer-key-file": ("peer-transport-security", "key-file"),
    "peer-client-cert-auth": ("peer-transport-security", "client-cert-auth"),
    "peer-trusted-ca-file": ("peer-transport-security", "trusted-ca-file"),
    "peer-auto-tls": ("peer-transport-security", "auto-tls"),
}
