"""Node trees built in temp dirs (kubeadm default, hardened, badly configured, JSON kubelet config,
k3s, RKE2) and what the node loader discovers in them.

The builders are imported by the other tests/test_node_*.py modules. Modes are set with chmod;
owners only when the tests run as root (otherwise the files belong to the current user, and the
ownership expectations are left out).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from kubefort.loaders.node import cert_info, load_node, parse_env_file, pem_certs

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


# ---------------------------------------------------------------------------------------------
# certificates, built by hand (DER), so no crypto library is needed
# ---------------------------------------------------------------------------------------------
def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def _time(t: dt.datetime) -> bytes:
    if t.year < 2050:
        return _der(0x17, t.strftime("%y%m%d%H%M%SZ").encode())
    return _der(0x18, t.strftime("%Y%m%d%H%M%SZ").encode())


def cert_der(cn: str, not_after: dt.datetime, not_before: dt.datetime | None = None) -> bytes:
    nb = not_before or (not_after - dt.timedelta(days=365))
    alg = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d040302")))
    name = _der(0x30, _der(0x31, _der(0x30, _der(0x06, b"\x55\x04\x03") + _der(0x0C, cn.encode()))))
    spki = _der(
        0x30,
        _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d0201")) + _der(0x06, bytes.fromhex("2a8648ce3d030107")))
        + _der(0x03, b"\x00\x04" + bytes(64)),
    )
    tbs = _der(
        0x30,
        _der(0xA0, _der(0x02, b"\x02"))
        + _der(0x02, b"\x01")
        + alg
        + name
        + _der(0x30, _time(nb) + _time(not_after))
        + name
        + spki,
    )
    return _der(0x30, tbs + alg + _der(0x03, b"\x00\x30\x00"))


def cert_pem(cn: str, days: int = 365) -> bytes:
    import base64

    der = cert_der(cn, NOW + dt.timedelta(days=days))
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n").encode()


def kubeconfig(user: str, days: int = 365) -> str:
    import base64

    data = base64.b64encode(cert_pem(user, days)).decode()
    ca = base64.b64encode(cert_pem("kubernetes", 3650)).decode()
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster:\n    server: https://10.0.0.10:6443\n"
        f"    certificate-authority-data: {ca}\ncontexts:\n- name: ctx\n  context: {{cluster: kubernetes, user: {user}}}\n"
        f"current-context: ctx\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {data}\n    client-key-data: a2V5\n"
    )


# ---------------------------------------------------------------------------------------------
# the tree builder
# ---------------------------------------------------------------------------------------------
class Tree:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def write(self, p: str, content: str | bytes, mode: int = 0o600, owner: tuple[int, int] = (0, 0)) -> Path:
        f = self.path(p)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content.encode() if isinstance(content, str) else content)
        os.chmod(f, mode)
        if IS_ROOT:
            os.chown(f, *owner)
        return f

    def mkdir(self, p: str, mode: int = 0o755, owner: tuple[int, int] = (0, 0)) -> Path:
        d = self.path(p)
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, mode)
        if IS_ROOT:
            os.chown(d, *owner)
        return d

    def symlink(self, p: str, target: str) -> None:
        f = self.path(p)
        f.parent.mkdir(parents=True, exist_ok=True)
        f.symlink_to(target)


def static_pod(component: str, flags: list[str], image: str, env: dict[str, str] | None = None) -> str:
    lines = [
        "apiVersion: v1",
        "kind: Pod",
        "metadata:",
        f"  name: {component}",
        "  namespace: kube-system",
        "  labels:",
        f"    component: {component}",
        "    tier: control-plane",
        "spec:",
        "  hostNetwork: true",
        "  priorityClassName: system-node-critical",
        "  containers:",
        "  - name: " + component,
        f"    image: {image}",
        "    command:",
        f"    - {component}",
    ]
    lines += [f"    - {f}" for f in flags]
    if env:
        lines.append("    env:")
        for k, v in env.items():
            lines += [f"    - name: {k}", f"      value: {json.dumps(v)}"]
    return "\n".join(lines) + "\n"


PKI = "/etc/kubernetes/pki"
APISERVER_KUBEADM = [
    "--advertise-address=10.0.0.10",
    "--allow-privileged=true",
    "--authorization-mode=Node,RBAC",
    f"--client-ca-file={PKI}/ca.crt",
    "--enable-admission-plugins=NodeRestriction",
    "--enable-bootstrap-token-auth=true",
    f"--etcd-cafile={PKI}/etcd/ca.crt",
    f"--etcd-certfile={PKI}/apiserver-etcd-client.crt",
    f"--etcd-keyfile={PKI}/apiserver-etcd-client.key",
    "--etcd-servers=https://127.0.0.1:2379",
    f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt",
    f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
    "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    f"--proxy-client-cert-file={PKI}/front-proxy-client.crt",
    f"--proxy-client-key-file={PKI}/front-proxy-client.key",
    "--requestheader-allowed-names=front-proxy-client",
    f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-username-headers=X-Remote-User",
    "--secure-port=6443",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    f"--service-account-key-file={PKI}/sa.pub",
    f"--service-account-signing-key-file={PKI}/sa.key",
    "--service-cluster-ip-range=10.96.0.0/12",
    f"--tls-cert-file={PKI}/apiserver.crt",
    f"--tls-private-key-file={PKI}/apiserver.key",
]
STRONG_CIPHERS = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
APISERVER_HARDENED = [f for f in APISERVER_KUBEADM if not f.startswith("--enable-admission-plugins")] + [
    "--anonymous-auth=false",
    f"--kubelet-certificate-authority={PKI}/ca.crt",
    "--enable-admission-plugins=NodeRestriction,DenyServiceExternalIPs,EventRateLimit,AlwaysPullImages",
    "--admission-control-config-file=/etc/kubernetes/admission.yaml",
    "--profiling=false",
    "--audit-log-path=/var/log/kubernetes/audit/audit.log",
    "--audit-log-maxage=30",
    "--audit-log-maxbackup=10",
    "--audit-log-maxsize=100",
    "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
    "--encryption-provider-config=/etc/kubernetes/enc/encryption.yaml",
    f"--tls-cipher-suites={STRONG_CIPHERS}",
    "--service-account-extend-token-expiration=false",
]
APISERVER_BAD = [
    "--advertise-address=10.0.0.10",
    "--anonymous-auth=true",
    "--authorization-mode=AlwaysAllow",
    "--token-auth-file=/etc/kubernetes/tokens.csv",
    "--enable-admission-plugins=AlwaysAdmit",
    "--disable-admission-plugins=ServiceAccount,NamespaceLifecycle",
    "--profiling=true",
    "--service-account-lookup=false",
    "--etcd-servers=http://127.0.0.1:2379",
    "--tls-min-version=VersionTLS10",
    "--encryption-provider-config=/etc/kubernetes/enc/encryption.yaml",
    "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
    "--audit-log-path=/var/log/audit.log",
    "--audit-log-maxage=7",
    "--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA",
]
KCM_KUBEADM = [
    "--allocate-node-cidrs=true",
    "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--bind-address=127.0.0.1",
    f"--client-ca-file={PKI}/ca.crt",
    "--cluster-cidr=10.244.0.0/16",
    "--cluster-name=kubernetes",
    f"--cluster-signing-cert-file={PKI}/ca.crt",
    f"--cluster-signing-key-file={PKI}/ca.key",
    "--controllers=*,bootstrapsigner,tokencleaner",
    "--kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--leader-elect=true",
    f"--requestheader-client-ca-file={PKI}/front-proxy-ca.crt",
    f"--root-ca-file={PKI}/ca.crt",
    f"--service-account-private-key-file={PKI}/sa.key",
    "--service-cluster-ip-range=10.96.0.0/12",
    "--use-service-account-credentials=true",
]
KCM_BAD = [
    "--kubeconfig=/etc/kubernetes/controller-manager.conf",
    "--bind-address=0.0.0.0",
    "--use-service-account-credentials=false",
    "--feature-gates=RotateKubeletServerCertificate=false",
]
SCHED_KUBEADM = [
    "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
    "--authorization-kubeconfig=/etc/kubernetes/scheduler.conf",
    "--bind-address=127.0.0.1",
    "--kubeconfig=/etc/kubernetes/scheduler.conf",
    "--leader-elect=true",
]
SCHED_BAD = ["--kubeconfig=/etc/kubernetes/scheduler.conf"]
ETCD_KUBEADM = [
    "--advertise-client-urls=https://10.0.0.10:2379",
    f"--cert-file={PKI}/etcd/server.crt",
    "--client-cert-auth=true",
    "--data-dir=/var/lib/etcd",
    "--experimental-initial-corrupt-check=true",
    "--initial-advertise-peer-urls=https://10.0.0.10:2380",
    "--initial-cluster=cp1=https://10.0.0.10:2380",
    f"--key-file={PKI}/etcd/server.key",
    "--listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379",
    "--listen-metrics-urls=http://127.0.0.1:2381",
    "--listen-peer-urls=https://10.0.0.10:2380",
    "--name=cp1",
    f"--peer-cert-file={PKI}/etcd/peer.crt",
    "--peer-client-cert-auth=true",
    f"--peer-key-file={PKI}/etcd/peer.key",
    f"--peer-trusted-ca-file={PKI}/etcd/ca.crt",
    "--snapshot-count=10000",
    f"--trusted-ca-file={PKI}/etcd/ca.crt",
]
ETCD_BAD = [
    "--data-dir=/var/lib/etcd",
    "--listen-client-urls=http://0.0.0.0:2379",
    "--auto-tls=true",
    "--peer-auto-tls=true",
    "--client-cert-auth=false",
]

KUBELET_CONFIG_KUBEADM = """apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
  webhook:
    cacheAuthorizedTTL: 0s
    cacheUnauthorizedTTL: 0s
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
cpuManagerReconcilePeriod: 0s
evictionPressureTransitionPeriod: 0s
fileCheckFrequency: 0s
healthzBindAddress: 127.0.0.1
healthzPort: 10248
httpCheckFrequency: 0s
imageMinimumGCAge: 0s
kind: KubeletConfiguration
memorySwap: {}
nodeStatusReportFrequency: 0s
nodeStatusUpdateFrequency: 0s
resolvConf: /run/systemd/resolve/resolv.conf
rotateCertificates: true
runtimeRequestTimeout: 0s
shutdownGracePeriod: 0s
shutdownGracePeriodCriticalPods: 0s
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
syncFrequency: 0s
volumeStatsAggPeriod: 0s
"""
KUBELET_CONFIG_HARDENED = (
    KUBELET_CONFIG_KUBEADM
    + """tlsCipherSuites:
- TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
podPidsLimit: 4096
seccompDefault: true
serverTLSBootstrap: true
protectKernelDefaults: true
readOnlyPort: 0
featureGates:
  RotateKubeletServerCertificate: true
"""
)
DROPIN_KUBEADM = """# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
UNIT_PACKAGE = """[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""
UNIT_BAD = """[Service]
ExecStart=/usr/bin/kubelet \\
  --kubeconfig=/etc/kubernetes/kubelet.conf \\
  --hostname-override=node-x \\
  --make-iptables-util-chains=false \\
  --streaming-connection-idle-timeout=0 \\
  --rotate-certificates=false
"""
ENCRYPTION_KMS = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - kms:
      apiVersion: v2
      name: vault
      endpoint: unix:///var/run/kms/kms.sock
  - identity: {}
"""
ENCRYPTION_IDENTITY_FIRST = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources:
  - secrets
  providers:
  - identity: {}
  - aescbc:
      keys:
      - name: key1
        secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==
"""
AUDIT_RECOMMENDED = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources:
  - group: ""
    resources: [secrets, configmaps, serviceaccounts/token]
  - group: authentication.k8s.io
    resources: [tokenreviews]
- level: RequestResponse
  resources:
  - group: ""
    resources: [pods/exec, pods/attach, pods/portforward, pods/proxy, services/proxy]
  - group: rbac.authorization.k8s.io
- level: Request
  verbs: [create, update, patch, delete]
- level: Metadata
"""
AUDIT_EVERYTHING = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n"
PKI_FILES = (
    "ca",
    "apiserver",
    "apiserver-kubelet-client",
    "apiserver-etcd-client",
    "front-proxy-ca",
    "front-proxy-client",
    "etcd/ca",
    "etcd/server",
    "etcd/peer",
    "etcd/healthcheck-client",
)


def kubeadm_tree(root: Path, variant: str = "default") -> Tree:
    """A kubeadm control-plane node: `default` as kubeadm leaves it, `hardened`, or `bad`."""
    t = Tree(root)
    bad, hard = variant == "bad", variant == "hardened"
    user = (1000, 1000)
    t.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n"
        + ("etcd:x:998:998:etcd user:/var/lib/etcd:/usr/sbin/nologin\n" if hard else ""),
        0o644,
    )
    t.write("/etc/group", "root:x:0:\nubuntu:x:1000:\n" + ("etcd:x:998:\n" if hard else ""), 0o644)
    t.write("/etc/hostname", f"cp-{variant}\n", 0o644)
    img = "registry.k8s.io/{}:v1.31.1"
    t.write(
        "/etc/kubernetes/manifests/kube-apiserver.yaml",
        static_pod(
            "kube-apiserver",
            APISERVER_BAD if bad else APISERVER_HARDENED if hard else APISERVER_KUBEADM,
            img.format("kube-apiserver"),
        ),
        0o644 if bad else 0o600,
        user if bad else (0, 0),
    )
    t.write(
        "/etc/kubernetes/manifests/kube-controller-manager.yaml",
        static_pod(
            "kube-controller-manager",
            KCM_BAD
            if bad
            else KCM_KUBEADM + (["--profiling=false", "--terminated-pod-gc-threshold=10"] if hard else []),
            img.format("kube-controller-manager"),
        ),
        0o644 if bad else 0o600,
    )
    t.write(
        "/etc/kubernetes/manifests/kube-scheduler.yaml",
        static_pod(
            "kube-scheduler",
            SCHED_BAD if bad else SCHED_KUBEADM + (["--profiling=false"] if hard else []),
            img.format("kube-scheduler"),
        ),
        0o644 if bad else 0o600,
    )
    t.write(
        "/etc/kubernetes/manifests/etcd.yaml",
        static_pod("etcd", ETCD_BAD if bad else ETCD_KUBEADM, "registry.k8s.io/etcd:3.5.15-0"),
        0o644 if bad else 0o600,
    )
    for name in ("admin", "super-admin", "controller-manager", "scheduler", "kubelet"):
        mode = 0o644 if bad and name != "super-admin" else (0o640 if bad else 0o600)
        t.write(
            f"/etc/kubernetes/{name}.conf",
            kubeconfig(f"system:{name}"),
            mode,
            user if bad and name == "admin" else (0, 0),
        )
    t.mkdir(PKI, 0o755)
    t.mkdir(f"{PKI}/etcd", 0o755)
    for name in PKI_FILES:
        days = -3 if bad and name == "apiserver" else 365
        t.write(
            f"{PKI}/{name}.crt",
            cert_pem(name, days),
            0o666 if bad and name == "apiserver" else 0o644,
            user if bad and name == "apiserver" else (0, 0),
        )
        t.write(
            f"{PKI}/{name}.key",
            b"-----BEGIN EC PRIVATE KEY-----\nMHc=\n-----END EC PRIVATE KEY-----\n",
            0o644 if bad and name == "ca" else 0o600,
        )
    t.write(f"{PKI}/sa.key", b"key", 0o600)
    t.write(f"{PKI}/sa.pub", b"pub", 0o600)
    t.mkdir("/var/lib/etcd", 0o755 if bad else 0o700, (998, 998) if hard else (0, 0))
    t.mkdir("/var/lib/etcd/member", 0o700)
    t.write(
        "/etc/cni/net.d/10-flannel.conflist",
        '{"name": "cbr0", "cniVersion": "0.3.1", "plugins": [{"type": "flannel"}]}\n',
        0o600 if hard else (0o666 if bad else 0o644),
    )
    if bad:
        t.write("/etc/systemd/system/kubelet.service", UNIT_BAD, 0o666, user)
    else:
        unit_mode = 0o600 if hard else 0o644
        t.write("/usr/lib/systemd/system/kubelet.service", UNIT_PACKAGE, unit_mode)
        t.write("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf", DROPIN_KUBEADM, unit_mode)
        t.write(
            "/var/lib/kubelet/kubeadm-flags.env",
            'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.10"\n',
            0o644,
        )
        t.write("/etc/default/kubelet", "KUBELET_EXTRA_ARGS=\n", 0o644)
        t.write(
            "/var/lib/kubelet/config.yaml",
            KUBELET_CONFIG_HARDENED if hard else KUBELET_CONFIG_KUBEADM,
            0o600 if hard else 0o644,
        )
    if hard or bad:
        t.write("/etc/kubernetes/enc/encryption.yaml", ENCRYPTION_IDENTITY_FIRST if bad else ENCRYPTION_KMS, 0o600)
        t.write("/etc/kubernetes/audit-policy.yaml", AUDIT_EVERYTHING if bad else AUDIT_RECOMMENDED, 0o600)
    return t


def json_config_tree(root: Path) -> Tree:
    """A kubelet started by its own unit with a JSON config at a custom path and an override in an env file."""
    t = Tree(root)
    t.write(
        "/etc/systemd/system/kubelet.service",
        "[Unit]\nDescription=kubelet\n\n[Service]\nEnvironmentFile=/etc/kubelet/kubelet.env\n"
        "ExecStart=/usr/local/bin/kubelet --config=/etc/kubelet/kubelet-config.json --kubeconfig=/etc/kubelet/kubeconfig $KUBELET_ARGS\n",
        0o600,
    )
    t.write("/etc/kubelet/kubelet.env", '# site overrides\nKUBELET_ARGS="--anonymous-auth=true --v=2"\n', 0o600)
    config = {
        "kind": "KubeletConfiguration",
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": "ca.pem"},
        },
        "authorization": {"mode": "Webhook"},
        "readOnlyPort": 10255,
        "seccompDefault": True,
        "podPidsLimit": 2048,
    }
    t.write("/etc/kubelet/kubelet-config.json", json.dumps(config, indent=2) + "\n", 0o600)
    t.write("/etc/kubelet/ca.pem", cert_pem("node-ca", 700), 0o644)
    t.write("/etc/kubelet/kubeconfig", kubeconfig("system:node:worker-1", 10), 0o600)
    return t


K3S_CONFIG = """write-kubeconfig-mode: "0644"
kube-apiserver-arg:
  - "anonymous-auth=false"
  - "profiling=false"
kubelet-arg:
  - "streaming-connection-idle-timeout=5m"
"""
K3S_KUBELET_DEFAULTS = """apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: /var/lib/rancher/k3s/agent/client-ca.crt
authorization:
  mode: Webhook
readOnlyPort: 0
tlsCertFile: /var/lib/rancher/k3s/agent/serving-kubelet.crt
tlsPrivateKeyFile: /var/lib/rancher/k3s/agent/serving-kubelet.key
"""


def k3s_tree(root: Path) -> Tree:
    t = Tree(root)
    t.write("/etc/rancher/k3s/config.yaml", K3S_CONFIG, 0o600)
    t.write("/proc/101/cmdline", b"/usr/local/bin/k3s server\0", 0o444)
    d = "/var/lib/rancher/k3s"
    t.write(f"{d}/server/cred/admin.kubeconfig", kubeconfig("system:admin"), 0o600)
    t.write(f"{d}/server/cred/scheduler.kubeconfig", kubeconfig("system:kube-scheduler"), 0o644)
    t.write(f"{d}/server/cred/controller.kubeconfig", kubeconfig("system:kube-controller-manager"), 0o600)
    t.write(f"{d}/server/tls/server-ca.crt", cert_pem("k3s-server-ca", 3650), 0o644)
    t.write(f"{d}/server/tls/server-ca.key", b"key", 0o600)
    t.write(f"{d}/agent/kubelet.kubeconfig", kubeconfig("system:node:k3s"), 0o600)
    t.write(f"{d}/agent/client-ca.crt", cert_pem("k3s-client-ca", 3650), 0o644)
    t.write(f"{d}/agent/etc/kubelet.conf.d/00-k3s-defaults.conf", K3S_KUBELET_DEFAULTS, 0o600)
    t.write("/etc/systemd/system/k3s.service", "[Service]\nExecStart=/usr/local/bin/k3s server\n", 0o644)
    return t


def rke2_tree(root: Path) -> Tree:
    t = Tree(root)
    d = "/var/lib/rancher/rke2"
    t.write("/etc/rancher/rke2/config.yaml", "profile: cis\n", 0o600)
    t.write(
        f"{d}/agent/pod-manifests/kube-apiserver.yaml",
        static_pod("kube-apiserver", APISERVER_HARDENED, "rancher/hardened-kubernetes:v1.31.1-rke2r1"),
        0o600,
    )
    t.write(
        f"{d}/agent/pod-manifests/etcd.yaml",
        static_pod("etcd", ETCD_KUBEADM, "rancher/hardened-etcd:v3.5.13-k3s1"),
        0o600,
    )
    argv = [
        "kubelet",
        "--volume-plugin-dir=/var/lib/kubelet/volumeplugins",
        "--file-check-frequency=5s",
        "--sync-frequency=30s",
        "--address=0.0.0.0",
        "--anonymous-auth=false",
        "--authentication-token-webhook=true",
        "--authorization-mode=Webhook",
        f"--client-ca-file={d}/agent/client-ca.crt",
        "--kubeconfig=/var/lib/rancher/rke2/agent/kubelet.kubeconfig",
        "--read-only-port=0",
        "--protect-kernel-defaults=true",
        f"--tls-cert-file={d}/agent/serving-kubelet.crt",
        f"--tls-private-key-file={d}/agent/serving-kubelet.key",
        "--pod-manifest-path=/var/lib/rancher/rke2/agent/pod-manifests",
    ]
    t.write("/proc/4242/cmdline", ("\0".join(argv) + "\0").encode(), 0o444)
    t.write(f"{d}/agent/kubelet.kubeconfig", kubeconfig("system:node:rke2"), 0o600)
    t.write(f"{d}/agent/client-ca.crt", cert_pem("rke2-client-ca", 3650), 0o644)
    t.write(f"{d}/server/cred/admin.kubeconfig", kubeconfig("system:admin"), 0o600)
    return t


# ---------------------------------------------------------------------------------------------
# loader tests
# ---------------------------------------------------------------------------------------------
def _objects(loaded):
    return {(r.id.kind, r.id.name): r for r in loaded.resources()}


def test_kubeadm_default_discovery(tmp_path):
    kubeadm_tree(tmp_path)
    loaded = load_node(str(tmp_path))
    assert not loaded.warnings
    objs = _objects(loaded)
    comps = loaded.info["components"]
    assert set(comps) == {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kubelet"}
    assert comps["kube-apiserver"] == {
        "origin": "static-pod",
        "source": "/etc/kubernetes/manifests/kube-apiserver.yaml",
    }
    assert comps["kubelet"]["origin"] == "systemd"
    kubelet = objs[("NodeComponent", "kubelet")].obj
    # ExecStart from the drop-in, $VARs split, EnvironmentFile= read, empty KUBELET_EXTRA_ARGS dropped
    assert kubelet["argv"] == [
        "/usr/bin/kubelet",
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml",
        "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock",
        "--pod-infra-container-image=registry.k8s.io/pause:3.10",
    ]
    assert kubelet["config"]["authentication"]["x509"]["clientCAFile"] == "/etc/kubernetes/pki/ca.crt"
    files = {name: r.obj for (kind, name), r in objs.items() if kind == "NodeFile"}
    assert files["/etc/kubernetes/manifests/kube-apiserver.yaml"]["roles"] == ["kube-apiserver-manifest"]
    assert files["/etc/kubernetes/manifests/kube-apiserver.yaml"]["mode"] == "0600"
    assert files["/var/lib/kubelet/config.yaml"]["roles"] == ["kubelet-config"]
    assert files["/var/lib/kubelet/config.yaml"]["mode"] == "0644"
    assert set(files["/etc/kubernetes/pki/ca.crt"]["roles"]) == {"pki", "pki-cert", "certificate", "kubelet-client-ca"}
    assert files["/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"]["roles"] == ["kubelet-service"]
    assert files["/var/lib/etcd"]["type"] == "directory" and files["/var/lib/etcd"]["roles"] == ["etcd-data-dir"]
    assert files["/etc/kubernetes/admin.conf"]["user"] == "root"
    certs = files["/etc/kubernetes/admin.conf"]["certificates"]
    assert [c["source"] for c in certs] == [
        "users[system:admin].client-certificate-data",
        "clusters[kubernetes].certificate-authority-data",
    ]
    assert certs[0]["subject"] == "CN=system:admin"
    assert ("NodeFile", "/etc/kubernetes/super-admin.conf") in objs and (
        "NodeFile",
        "/etc/kubernetes/proxy.conf",
    ) not in objs


def test_static_pod_component_locations(tmp_path):
    kubeadm_tree(tmp_path)
    loaded = load_node(str(tmp_path))
    api = _objects(loaded)[("NodeComponent", "kube-apiserver")]
    assert api.obj["argv"][0] == "kube-apiserver" and api.obj["image"] == "registry.k8s.io/kube-apiserver:v1.31.1"
    i = api.obj["argv"].index("--enable-admission-plugins=NodeRestriction")
    text = (tmp_path / "etc/kubernetes/manifests/kube-apiserver.yaml").read_text().splitlines()
    loc = loaded.relocate(api.id, api.source.file, ("argv", i))
    assert loc.file == "/etc/kubernetes/manifests/kube-apiserver.yaml"
    assert text[loc.line - 1].strip() == "- --enable-admission-plugins=NodeRestriction"
    missing = loaded.relocate(api.id, api.source.file, ("argv",))
    assert text[missing.line - 1].strip() == "command:"


def test_kubelet_config_location_and_drop_ins(tmp_path):
    t = kubeadm_tree(tmp_path)
    # a --config-dir drop-in overrides one field; kubeadm-flags.env adds the flag
    t.write(
        "/var/lib/kubelet/kubeadm-flags.env",
        'KUBELET_KUBEADM_ARGS="--config-dir=/etc/kubernetes/kubelet.conf.d"\n',
        0o644,
    )
    t.write(
        "/etc/kubernetes/kubelet.conf.d/20-ports.conf",
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 10255\n",
        0o600,
    )
    t.write("/etc/kubernetes/kubelet.conf.d/ignored.yaml", "readOnlyPort: 1\n", 0o600)
    loaded = load_node(str(tmp_path))
    kubelet = _objects(loaded)[("NodeComponent", "kubelet")]
    assert kubelet.obj["config"]["readOnlyPort"] == 10255
    assert kubelet.obj["config"]["authorization"]["mode"] == "Webhook"  # merged, not replaced
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("config", "readOnlyPort"))
    assert (loc.file, loc.line) == ("/etc/kubernetes/kubelet.conf.d/20-ports.conf", 3)
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("config", "authorization", "mode"))
    assert (loc.file, loc.line) == ("/var/lib/kubelet/config.yaml", 11)
    i = kubelet.obj["argv"].index("--config-dir=/etc/kubernetes/kubelet.conf.d")
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("argv", i))
    assert (loc.file, loc.line) == ("/var/lib/kubelet/kubeadm-flags.env", 1)
    roles = {r.id.name: r.obj["roles"] for r in loaded.resources() if r.id.kind == "NodeFile"}
    assert roles["/etc/kubernetes/kubelet.conf.d/20-ports.conf"] == ["kubelet-config"]
    assert "/etc/kubernetes/kubelet.conf.d/ignored.yaml" not in roles


def test_json_config_custom_path_and_env_override(tmp_path):
    json_config_tree(tmp_path)
    loaded = load_node(str(tmp_path))
    kubelet = _objects(loaded)[("NodeComponent", "kubelet")]
    assert kubelet.obj["argv"][-2:] == ["--anonymous-auth=true", "--v=2"]
    assert (
        kubelet.obj["configFile"] == "/etc/kubelet/kubelet-config.json"
        and kubelet.obj["config"]["readOnlyPort"] == 10255
    )
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("argv", kubelet.obj["argv"].index("--anonymous-auth=true")))
    assert (loc.file, loc.line) == ("/etc/kubelet/kubelet.env", 2)
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("config", "readOnlyPort"))
    lines = (tmp_path / "etc/kubelet/kubelet-config.json").read_text().splitlines()
    assert loc.file == "/etc/kubelet/kubelet-config.json" and lines[loc.line - 1].strip().startswith('"readOnlyPort"')
    files = {r.id.name: r.obj for r in loaded.resources() if r.id.kind == "NodeFile"}
    # a relative clientCAFile is resolved against the config file's directory, as the kubelet does
    assert "kubelet-client-ca" in files["/etc/kubelet/ca.pem"]["roles"]
    assert files["/etc/kubelet/kubelet-config.json"]["roles"] == ["kubelet-config"]
    assert files["/etc/kubelet/kubeconfig"]["roles"] == ["kubelet-kubeconfig"]


def test_process_wins_over_unit_and_manifest(tmp_path):
    t = kubeadm_tree(tmp_path)
    argv = [
        "/usr/bin/kubelet",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml",
        "--anonymous-auth=true",
    ]
    t.write("/proc/77/cmdline", ("\0".join(argv) + "\0").encode(), 0o444)
    t.write("/proc/78/cmdline", b"kube-apiserver\0--anonymous-auth=false\0", 0o444)
    t.write("/proc/79/cmdline", b"bash\0-c\0sleep 1\0", 0o444)
    loaded = load_node(str(tmp_path))
    objs = _objects(loaded)
    assert objs[("NodeComponent", "kubelet")].obj["argv"] == argv
    assert objs[("NodeComponent", "kubelet")].obj["origin"] == "process"
    api = objs[("NodeComponent", "kube-apiserver")]
    assert api.obj["origin"] == "process" and api.obj["argv"] == ["kube-apiserver", "--anonymous-auth=false"]
    assert any("differ" in w for w in loaded.warnings) and any("kube-apiserver (pid 78)" in w for w in loaded.warnings)
    # arguments the unit also has keep their unit line; the others point at /proc
    kubelet = objs[("NodeComponent", "kubelet")]
    assert (
        loaded.relocate(kubelet.id, kubelet.source.file, ("argv", 2)).file
        == "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    )
    assert loaded.relocate(kubelet.id, kubelet.source.file, ("argv", 3)).file == "/proc/77/cmdline"


def test_process_matching_manifest_keeps_manifest(tmp_path):
    t = kubeadm_tree(tmp_path)
    t.write("/proc/90/cmdline", ("\0".join(["kube-scheduler"] + SCHED_KUBEADM) + "\0").encode(), 0o444)
    loaded = load_node(str(tmp_path))
    assert loaded.info["components"]["kube-scheduler"]["origin"] == "static-pod"
    assert not loaded.warnings


def test_etcd_process_environment(tmp_path):
    t = Tree(tmp_path)
    t.write("/proc/5/cmdline", b"/usr/local/bin/etcd\0--data-dir=/var/lib/etcd\0", 0o444)
    t.write("/proc/5/environ", b"ETCD_CLIENT_CERT_AUTH=true\0PATH=/bin\0", 0o400)
    t.mkdir("/var/lib/etcd", 0o700)
    loaded = load_node(str(tmp_path))
    etcd = _objects(loaded)[("NodeComponent", "etcd")].obj
    assert etcd["env"] == {"ETCD_CLIENT_CERT_AUTH": "true"} and "envUnreadable" not in etcd
    assert ("NodeFile", "/var/lib/etcd") in _objects(loaded)


def test_symlinks_are_followed_inside_the_root(tmp_path):
    t = kubeadm_tree(tmp_path)
    t.write("/var/lib/kubelet/pki/kubelet-client-2030.pem", cert_pem("system:node:cp", 300), 0o600)
    t.symlink(
        "/var/lib/kubelet/pki/kubelet-client-current.pem", "/var/lib/kubelet/pki/kubelet-client-2030.pem"
    )  # absolute: re-rooted
    t.write(
        "/var/lib/kubelet/config.yaml",
        KUBELET_CONFIG_KUBEADM + "tlsCertFile: /var/lib/kubelet/pki/kubelet-client-current.pem\n",
        0o600,
    )
    loaded = load_node(str(tmp_path))
    f = _objects(loaded)[("NodeFile", "/var/lib/kubelet/pki/kubelet-client-current.pem")].obj
    assert f["resolved"] == "/var/lib/kubelet/pki/kubelet-client-2030.pem" and f["mode"] == "0600"
    assert f["certificates"][0]["subject"] == "CN=system:node:cp"


def test_unreadable_and_broken_files(tmp_path):
    t = kubeadm_tree(tmp_path, "hardened")
    t.write("/etc/kubernetes/audit-policy.yaml", "rules: [\n", 0o600)  # broken YAML
    (tmp_path / "etc/kubernetes/enc/encryption.yaml").unlink()  # named by a flag, missing
    t.write("/var/lib/kubelet/config.yaml", "{not: [valid\n", 0o600)
    loaded = load_node(str(tmp_path))
    problems = [(p.kind, p.file) for li in loaded.inputs for p in li.problems]
    assert ("parse", "/etc/kubernetes/audit-policy.yaml") in problems
    assert ("read", "/etc/kubernetes/enc/encryption.yaml") in problems
    kubelet = _objects(loaded)[("NodeComponent", "kubelet")].obj
    assert "config" not in kubelet and kubelet["configError"].startswith("/var/lib/kubelet/config.yaml: not valid YAML")


def test_k3s_layout(tmp_path):
    k3s_tree(tmp_path)
    loaded = load_node(str(tmp_path))
    assert loaded.info["distribution"] == "k3s"
    objs = _objects(loaded)
    api = objs[("NodeComponent", "kube-apiserver")].obj
    assert api["origin"] == "k3s" and api["argv"] == ["kube-apiserver", "--anonymous-auth=false", "--profiling=false"]
    assert "k3s" in api["flagsIncomplete"]
    assert ("NodeComponent", "etcd") not in objs  # no embedded etcd directory: k3s on SQLite
    kubelet = objs[("NodeComponent", "kubelet")].obj
    assert kubelet["origin"] == "k3s" and "--streaming-connection-idle-timeout=5m" in kubelet["argv"]
    assert kubelet["config"]["readOnlyPort"] == 0
    roles = {r.id.name: r.obj["roles"] for r in loaded.resources() if r.id.kind == "NodeFile"}
    assert roles["/var/lib/rancher/k3s/server/cred/admin.kubeconfig"] == ["admin-kubeconfig"]
    assert roles["/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf"] == ["kubelet-config"]
    assert roles["/etc/systemd/system/k3s.service"] == ["kubelet-service"]
    assert "pki-key" in roles["/var/lib/rancher/k3s/server/tls/server-ca.key"]
    api_res = objs[("NodeComponent", "kube-apiserver")]
    loc = loaded.relocate(api_res.id, api_res.source.file, ("argv", 2))
    assert (loc.file, loc.line) == ("/etc/rancher/k3s/config.yaml", 4)


def test_rke2_layout(tmp_path):
    rke2_tree(tmp_path)
    loaded = load_node(str(tmp_path))
    assert loaded.info["distribution"] == "rke2"
    comps = loaded.info["components"]
    assert comps["kube-apiserver"] == {
        "origin": "static-pod",
        "source": "/var/lib/rancher/rke2/agent/pod-manifests/kube-apiserver.yaml",
    }
    assert comps["kubelet"] == {"origin": "process", "source": "/proc/4242/cmdline"}
    roles = {r.id.name: r.obj["roles"] for r in loaded.resources() if r.id.kind == "NodeFile"}
    assert roles["/var/lib/rancher/rke2/agent/pod-manifests/etcd.yaml"] == ["etcd-manifest"]
    assert roles["/var/lib/rancher/rke2/agent/kubelet.kubeconfig"] == ["kubelet-kubeconfig"]


def test_nothing_on_an_empty_root(tmp_path):
    loaded = load_node(str(tmp_path))
    assert loaded.inputs == [] and loaded.info["components"] == {}
    with pytest.raises(FileNotFoundError):
        load_node(str(tmp_path / "missing"))


# ---------------------------------------------------------------------------------------------
# parsers
# ---------------------------------------------------------------------------------------------
def test_cert_info_utc_and_generalized_times():
    info = cert_info(
        cert_der("etcd-ca", dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC), dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
    )
    assert info == {"notBefore": "2021-01-01T00:00:00Z", "notAfter": "2031-05-06T07:08:09Z", "subject": "CN=etcd-ca"}
    assert cert_info(cert_der("x", dt.datetime(2060, 1, 1, tzinfo=dt.UTC)))["notAfter"] == "2060-01-01T00:00:00Z"
    with pytest.raises(ValueError):
        cert_info(b"\x30\x03\x02\x01")
    bundle = cert_pem("a") + cert_pem("b") + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    got = pem_certs(bundle, "ca.crt")
    assert [c["source"] for c in got] == ["ca.crt", "ca.crt #2", "ca.crt #3"] and "error" in got[2]


def test_cert_info_matches_openssl(tmp_path):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(crt),
            "-days",
            "42",
            "-subj",
            "/O=kubefort/CN=openssl-made",
        ],
        check=True,
        capture_output=True,
    )
    end = subprocess.run(
        ["openssl", "x509", "-in", str(crt), "-noout", "-enddate"], check=True, capture_output=True, text=True
    ).stdout
    want = (
        dt.datetime.strptime(end.strip().split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
        .replace(tzinfo=dt.UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    [got] = pem_certs(crt.read_bytes(), "c.pem")
    assert got["notAfter"] == want and got["subject"] == "CN=openssl-made"


def test_env_file_parsing():
    text = '# comment\n; also a comment\nA="x y"\nB=\'q\'\nexport C=plain\nD="multi \\\nline"\nnot a line\nE=\n'
    env = parse_env_file(text)
    assert env == {"A": ("x y", 3), "B": ("q", 4), "C": ("plain", 5), "D": ("multi  line", 6), "E": ("", 9)}


def test_proc_elsewhere_and_missing_flag_files(tmp_path):
    """--proc points at a process table outside the root (a pod with hostPID); files named by flags but
    missing under the root are reported, not skipped."""
    root, proc = tmp_path / "host", tmp_path / "proc"
    t = Tree(root)
    t.write(
        "/etc/kubernetes/manifests/etcd.yaml",
        static_pod("etcd", ["--data-dir=/var/lib/etcd-gone"], "registry.k8s.io/etcd:3.5.15-0"),
        0o600,
    )
    Tree(proc).write(
        "/31/cmdline", b"/usr/bin/kubelet\0--config=/etc/kubelet.yaml\0--kubeconfig=/etc/kubelet.conf\0", 0o444
    )
    loaded = load_node(str(root), str(proc))
    objs = _objects(loaded)
    assert loaded.info["components"]["kubelet"] == {"origin": "process", "source": "/proc/31/cmdline"}
    for path in ("/var/lib/etcd-gone", "/etc/kubelet.yaml", "/etc/kubelet.conf"):
        assert "does not exist under the root" in objs[("NodeFile", path)].obj["error"]
    assert objs[("NodeComponent", "kubelet")].obj["configError"].startswith("/etc/kubelet.yaml")


def test_systemd_expansion_rules(tmp_path):
    """$VAR splits into words, ${VAR} stays one word, ExecStart= resets, later drop-ins and /etc win,
    EnvironmentFile= overrides Environment=, exec prefixes are dropped."""
    t = Tree(tmp_path)
    t.write("/lib/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet --from-lib-unit\n", 0o644)
    t.write("/lib/systemd/system/kubelet.service.d/10-a.conf", '[Service]\nEnvironment="A=--from-lib-dropin"\n', 0o644)
    t.write(
        "/etc/systemd/system/kubelet.service.d/10-a.conf",  # same name in /etc: replaces the /lib drop-in
        "[Service]\nEnvironment=\"A=--v=2 --node-ip=10.0.0.7\" 'B=--cluster-domain=x y'\nEnvironment=C=from-environment\n"
        "EnvironmentFile=-/etc/kubelet.env\nEnvironmentFile=-/etc/missing.env\n",
        0o644,
    )
    t.write(
        "/etc/systemd/system/kubelet.service.d/20-exec.conf",
        "[Unit]\nExecStart=/not/a/service/key\n[Service]\nExecStart=\n"
        'ExecStart=-/usr/bin/kubelet $A "--opt=${B}" --c=${C} \\\n  --config=/var/lib/kubelet/config.yaml $UNSET\n',
        0o644,
    )
    t.write("/etc/kubelet.env", "C=from-file\n", 0o600)
    loaded = load_node(str(tmp_path))
    kubelet = _objects(loaded)[("NodeComponent", "kubelet")]
    assert kubelet.obj["argv"] == [
        "/usr/bin/kubelet",
        "--v=2",
        "--node-ip=10.0.0.7",
        "--opt=--cluster-domain=x y",
        "--c=from-file",
        "--config=/var/lib/kubelet/config.yaml",
    ]
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("argv", 2))
    assert (loc.file, loc.line) == ("/etc/systemd/system/kubelet.service.d/10-a.conf", 2)
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("argv", 4))
    assert (loc.file, loc.line) == ("/etc/kubelet.env", 1)
    loc = loaded.relocate(kubelet.id, kubelet.source.file, ("argv", 5))
    assert (loc.file, loc.line) == ("/etc/systemd/system/kubelet.service.d/20-exec.conf", 5)
    roles = {r.id.name: r.obj["roles"] for r in loaded.resources() if r.id.kind == "NodeFile"}
    assert "/lib/systemd/system/kubelet.service.d/10-a.conf" not in roles  # shadowed, so not in use
    assert roles["/lib/systemd/system/kubelet.service"] == ["kubelet-service"]
    # the config file is named but missing: the kubelet config controls cannot be judged
    assert kubelet.obj["configError"].startswith("/var/lib/kubelet/config.yaml")
