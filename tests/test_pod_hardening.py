"""Unit tests for the helpers behind KF-POD-007..022 and KF-WL-001..003: host path normalisation
and classification, capability names, the removed-API table, and Argo workflow-level defaults."""

from __future__ import annotations

import re

import pytest

from conftest import scan_text
from kubefort.checks.pod_security import (
    DANGEROUS_CAPABILITIES,
    SAFE_SYSCTLS,
    normalize_capability,
    normalize_host_path,
    sensitive_host_path,
)
from kubefort.checks.workload import REMOVED_APIS


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("/etc/", "/etc"),
        ("//etc//kubernetes/", "/etc/kubernetes"),
        ("/var/lib/../..//etc", "/etc"),
        ("/../../etc", "/etc"),
        ("/./var/./lib/kubelet/.", "/var/lib/kubelet"),
        ("/var/run/docker.sock", "/run/docker.sock"),
        ("/var/run", "/run"),
        ("/var/running", "/var/running"),
        ("  /srv/data  ", "/srv/data"),
        ("relative/path", None),
        ("", None),
        ("C:\\Windows\\System32\\", "c:/windows/system32"),
        ("c:/var/lib/kubelet", "c:/var/lib/kubelet"),
        ("\\\\.\\pipe\\docker_engine", "//./pipe/docker_engine"),
    ],
)
def test_normalize_host_path(raw, norm):
    assert normalize_host_path(raw) == norm


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/", "entire root filesystem"),
        ("/var/run/docker.sock", "runtime socket"),
        ("/run/containerd/containerd.sock", "runtime socket"),
        ("/var/snap/microk8s/common/run/containerd.sock", "runtime socket"),
        ("/run/crio/crio.sock", "runtime socket"),
        ("/var/run/dockershim.sock", "runtime socket"),
        ("/etc", "node configuration"),
        ("/etc/kubernetes/pki", "node configuration"),
        ("/etc/ssl/private", "node configuration"),
        ("/proc", "process"),
        ("/sys/fs/cgroup", "kernel"),
        ("/dev/kvm", "devices"),
        ("/boot", "boot"),
        ("/root/.bashrc", "root's home"),
        ("/home/ubuntu", "home directories"),
        ("/var/lib/kubelet/pods", "every pod's volumes"),
        ("/var/lib/kubelet", "kubelet state"),
        ("/var/lib/kubelet/pki", "kubelet state"),
        ("/var/lib/kubelet/plugins", "every CSI driver"),
        ("/var/lib/kubelet/plugins_registry/", "registration"),
        ("/var/lib/kubelet/device-plugins", "device plugin"),
        ("/var/lib/docker/containers", "runtime state"),
        ("/var/lib/containerd", "runtime state"),
        ("/var/lib/etcd", "etcd"),
        ("/var/lib/cloud/instance", "cloud-init"),
        ("/var", "contains /var/lib/kubelet"),
        ("/var/lib", "contains /var/lib/kubelet"),
        ("/etc/shadow", "node configuration"),
        ("/run", "runtime sockets"),
        ("/var/run/", "runtime sockets"),
        ("/opt/tools/.aws/credentials", "AWS credentials"),
        ("/srv/ci/.config/gcloud", "Google Cloud credentials"),
        ("/data/.kube/config", "kubeconfig"),
        ("/var/lib/../..//etc/", "node configuration"),
        ("\\\\.\\pipe\\docker_engine", "named pipe"),
        ("\\\\.\\pipe\\containerd-containerd", "named pipe"),
        ("C:\\", "entire C: drive"),
        ("C:\\Windows", "Windows system directory"),
        ("C:\\var\\lib\\kubelet\\pods", "kubelet state"),
    ],
)
def test_sensitive_host_paths(path, why):
    got = sensitive_host_path(path)
    assert got is not None and why in got, (path, got)


@pytest.mark.parametrize(
    "path",
    [
        "/etcd-data",  # a prefix of the string, not of the path
        "/etc/localtime",
        "/etc/timezone",
        "/etc/machine-id",
        "/etc/ssl/certs",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs",
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/passwd",
        "/var/lib/kubelet/plugins/csi-hostpath",
        "/var/lib/kubelet/plugins/csi.tigera.io/",
        "/var/log",
        "/var/log/pods",
        "/var/lib/mysql",
        "/var/lib/kubelet-backup",
        "/run/xtables.lock",
        "/var/run/netns",
        "/srv/data",
        "/mnt/disks/ssd0",
        "/tmp",
        "/home-data",
        "relative/etc",
        "D:\\data",
        "docker.sock.d/readme",
    ],
)
def test_ordinary_host_paths(path):
    assert sensitive_host_path(path) is None


def test_capability_names_are_normalised_as_runtimes_do():
    assert normalize_capability("cap_sys_admin") == "SYS_ADMIN"
    assert normalize_capability("CAP_NET_RAW") == "NET_RAW"
    assert normalize_capability(" net_admin ") == "NET_ADMIN"
    assert normalize_capability("all") == "ALL"
    assert all(re.fullmatch(r"[A-Z_]+", c) and not c.startswith("CAP_") for c in DANGEROUS_CAPABILITIES)
    assert "NET_BIND_SERVICE" not in DANGEROUS_CAPABILITIES and "CHOWN" not in DANGEROUS_CAPABILITIES


def test_safe_sysctls_are_the_pss_latest_set():
    assert len(SAFE_SYSCTLS) == 14
    assert {
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_notsent_lowat",
        "kernel.shm_rmid_forced",
    } <= SAFE_SYSCTLS


def test_removed_api_table_is_well_formed():
    for (api_version, kind), (removed, use) in REMOVED_APIS.items():
        assert "/" in api_version and re.search(r"/v\d+(alpha|beta)\d+$", api_version), api_version
        assert kind[:1].isupper()
        assert re.fullmatch(r"v1\.\d+", removed)
        assert use and use != api_version
    # current versions are never in the table
    assert not any(v.endswith(("/v1", "/v2")) for v, _ in REMOVED_APIS)


def _outcomes(tmp_path, text, check):
    return [o for o in scan_text(tmp_path, text, checks=(check,)) if o.check_id == check]


WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: wf}
spec:
  entrypoint: main
  serviceAccountName: runner
  automountServiceAccountToken: false
  securityContext:
    runAsUser: 0
    seccompProfile: {type: RuntimeDefault}
  volumes:
  - name: sock
    hostPath: {path: /var/run/docker.sock}
  templates:
  - name: main
    container:
      image: busybox:1.36
      volumeMounts: [{name: sock, mountPath: /var/run/docker.sock}]
"""


@pytest.mark.parametrize(
    ("check", "status"),
    [
        ("KF-WL-001", "passed"),  # workflow-level automountServiceAccountToken: false
        ("KF-WL-002", "passed"),  # workflow-level serviceAccountName
        ("KF-POD-012", "passed"),  # workflow-level seccomp profile
        ("KF-POD-008", "failed"),  # workflow-level runAsUser: 0
        ("KF-POD-014", "failed"),  # workflow-level hostPath volume
        ("KF-POD-015", "failed"),  # ... mounted writable by the template's container
    ],
)
def test_argo_workflow_level_defaults_apply_to_templates(tmp_path, check, status):
    got = _outcomes(tmp_path, WORKFLOW, check)
    assert [o.status.value for o in got] == [status], [(o.status.value, o.message) for o in got]


def test_every_container_kind_is_visited(tmp_path):
    text = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers: [{name: i, image: busybox:1.36}]
  containers: [{name: c, image: busybox:1.36}]
  ephemeralContainers: [{name: e, image: busybox:1.36}]
"""
    got = {o.container: o.status.value for o in _outcomes(tmp_path, text, "KF-POD-007")}
    assert got == {"i": "failed", "c": "failed", "e": "failed"}
