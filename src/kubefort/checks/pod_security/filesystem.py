"""File systems: KF-POD-007 a writable root file system, KF-POD-014/015 sensitive and writable hostPath volumes."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from kubefort.checks.pod_security.common import NSA_HOST, NSA_POD
from kubefort.kube.pods import ContainerView, PodView, memoised, memoised_iter, need, optional
from kubefort.model import CheckContext, Path_, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-POD-007",
    name="writable-root-filesystem",
    title="Container root filesystem is writable",
    verified="Container root filesystem is read-only",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=NSA_POD,
        mitre=("T1105", "T1036"),
        owasp=("K01",),
        trivy=("KSV-0014",),
        checkov=("CKV_K8S_22",),
        kubescape=("C-0017",),
        kube_linter=("no-read-only-root-fs",),
        polaris=("notReadOnlyRootFilesystem",),
    ),
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the application must write (for example /tmp).",
)
def writable_root_filesystem(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers, init containers and ephemeral containers whose
    `securityContext.readOnlyRootFilesystem` is not `true`. Unset counts as writable, because
    that is the runtime's default. Pods with `spec.os.name: windows` are exempt: the field
    cannot be set on Windows containers.

    ## Why is this bad?
    With a writable root filesystem, an attacker who gets code execution can download tools,
    replace the application's binaries or libraries, and plant files that survive until the
    container restarts (MITRE ATT&CK T1105, Ingress Tool Transfer; T1036, Masquerading). A
    read-only root also makes drift visible: anything that needs to write must be declared as a
    volume.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      securityContext:
        readOnlyRootFilesystem: true
      volumeMounts:
      - name: tmp
        mountPath: /tmp
    volumes:
    - name: tmp
      emptyDir: {}
    ```

    ## References
    - https://kubernetes.io/docs/tasks/configure-pod-container/security-context/
    - NSA-CISA Kubernetes Hardening Guide, "Immutable container file systems"
    """
    if pod.is_windows():
        return
    v = c.bool("securityContext", "readOnlyRootFilesystem")
    if v is not True:
        state = "false" if v is False else "unset (defaults to writable)"
        yield Violation(
            f"{c.label()}: securityContext.readOnlyRootFilesystem is {state}",
            c.at("securityContext", "readOnlyRootFilesystem"),
        )


# ---------------------------------------------------------------- host paths (KF-POD-014, 015)

# Directories whose whole tree is sensitive (Linux paths after normalisation, /var/run read as /run).
SENSITIVE_HOST_TREES: dict[str, str] = {
    "/etc": "node configuration and credentials",
    "/proc": "host process and kernel interfaces",
    "/sys": "kernel and device interfaces",
    "/dev": "host devices",
    "/boot": "kernel and boot loader",
    "/root": "root's home directory",
    "/home": "home directories on the node",
    "/var/lib/kubelet/pods": "every pod's volumes, including Secrets and service account tokens",
    "/var/lib/kubelet/plugins_registry": "kubelet plugin registration sockets",
    "/var/lib/kubelet/device-plugins": "kubelet device plugin sockets",
    "/var/lib/kubelet/plugins": "the sockets of every CSI driver on the node",
    "/var/lib/kubelet": "kubelet state and credentials, including every pod's Secrets and service account tokens",
    "/var/lib/docker": "container runtime state",
    "/var/lib/containerd": "container runtime state",
    "/var/lib/containers": "container runtime state",
    "/var/lib/etcd": "etcd data, holding every Secret of the cluster",
    "/var/lib/cloud": "cloud-init data (instance user data and credentials)",
    "/run/containerd": "container runtime socket directory",
    "/run/crio": "container runtime socket directory",
    "/run/docker": "container runtime state",
    "/run/podman": "container runtime socket directory",
}
# Files under a sensitive tree that are public by nature (time zone, CA bundles, OS identity, name
# resolution, account names); writing to them is KF-POD-015's concern.
HARMLESS_HOST_PATHS: tuple[str, ...] = (
    "/etc/localtime",
    "/etc/timezone",
    "/etc/machine-id",
    "/etc/os-release",
    "/etc/lsb-release",
    "/etc/hostname",
    "/etc/ssl/certs",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust/extracted",
    "/etc/ca-certificates",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/passwd",
    "/etc/group",
)
# A CSI driver exposes its socket in its own directory below this one (the standard CSI node layout).
CSI_PLUGIN_DIRS = "/var/lib/kubelet/plugins"
RUNTIME_SOCKETS = frozenset(
    {"docker.sock", "containerd.sock", "crio.sock", "dockershim.sock", "cri-dockerd.sock", "podman.sock"}
)
# Path components that name per-user credential stores wherever they are (~/.aws style).
CREDENTIAL_DIRS: dict[tuple[str, ...], str] = {
    (".aws",): "AWS credentials",
    (".azure",): "Azure credentials",
    (".config", "gcloud"): "Google Cloud credentials",
    (".kube",): "kubeconfig credentials",
    (".docker",): "registry credentials",
    (".ssh",): "SSH keys",
}
WINDOWS_SENSITIVE: dict[str, str] = {
    "//./pipe/docker_engine": "container runtime named pipe",
    "//./pipe/containerd-containerd": "container runtime named pipe",
}
WINDOWS_SENSITIVE_TREES: dict[str, str] = {
    "windows": "the Windows system directory",
    "var/lib/kubelet": "kubelet state, including every pod's secrets and service account tokens",
    "programdata/docker": "container runtime state",
}
_DRIVE = re.compile(r"^([a-z]):(/|$)")


def normalize_host_path(path: str) -> str | None:
    """A hostPath as the node resolves it, for comparison: absolute, no `.`/`..`, no doubled or trailing
    slashes, `/var/run` read as `/run` (a symlink on every current distribution). Windows paths are lower
    case with forward slashes. None for relative paths (the API server rejects them)."""
    p = path.strip()
    if re.match(r"^[A-Za-z]:([\\/]|$)", p) or (p.startswith(("\\\\", "//")) and "\\" in p):
        w = p.replace("\\", "/").lower()
        if w.startswith("//"):  # device or UNC path (\\.\pipe\docker_engine): keep its "." host part
            return "//" + re.sub("/+", "/", w[2:]).rstrip("/")
        return posixpath.normpath("/" + w).lstrip("/")
    if not p.startswith("/"):
        return None
    p = posixpath.normpath("/" + p.lstrip("/"))  # normpath keeps a leading "//"; strip it first
    if p == "/var/run" or p.startswith("/var/run/"):
        p = "/run" + p[len("/var/run") :]
    return p


def _under(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def sensitive_host_path(path: str) -> str | None:
    """Why a hostPath is sensitive, or None. Matching is by whole path components, never by string prefix."""
    p = normalize_host_path(path)
    if p is None:
        return None
    m = _DRIVE.match(p)
    if m or p.startswith("//"):
        if p in WINDOWS_SENSITIVE:
            return WINDOWS_SENSITIVE[p]
        if m:
            rest = p[2:].strip("/")
            if not rest:
                return f"the node's entire {m.group(1).upper()}: drive"
            for tree, why in WINDOWS_SENSITIVE_TREES.items():
                if _under(rest, tree):
                    return why
                if _under(tree, rest):
                    return f"contains {m.group(1).upper()}:\\{tree.replace('/', chr(92))} ({why})"
        return None
    if p == "/":
        return "the node's entire root filesystem"
    parts = tuple(x for x in p.split("/") if x)
    if parts[-1] in RUNTIME_SOCKETS:
        return "container runtime socket: full control of every container on the node"
    for seq, why in CREDENTIAL_DIRS.items():
        n = len(seq)
        if any(parts[i : i + n] == seq for i in range(len(parts) - n + 1)):
            return why
    if any(_under(p, h) for h in HARMLESS_HOST_PATHS):
        return None
    if p.startswith(CSI_PLUGIN_DIRS + "/"):
        return None  # one driver's own socket directory, not the node's
    for tree, why in SENSITIVE_HOST_TREES.items():
        if _under(p, tree):
            return why
    if p == "/run":
        return "the node's runtime sockets and state (docker.sock, containerd, CRI-O)"
    for tree, why in SENSITIVE_HOST_TREES.items():
        if _under(tree, p):  # an ancestor: mounting /var exposes /var/lib/kubelet
            return f"contains {tree} ({why})"
    return None


def pod_volumes(pod: PodView) -> Iterator[tuple[int, dict[str, Any], Path_]]:
    """(index, volume, path) for every volume of the pod, in every scope; wrong types raise."""
    return memoised_iter(pod.memo, "pod_volumes", _pod_volumes, pod)


def _pod_volumes(pod: PodView) -> Iterator[tuple[int, dict[str, Any], Path_]]:
    for view in pod.scopes():
        for i, vol in enumerate(view.list("volumes")):
            vpath = view.at("volumes") + (i,)
            yield i, need(vol, dict, "a volume mapping", vpath), vpath


def _host_path_volumes(pod: PodView) -> Iterator[tuple[int, str, Any, Path_]]:
    """(index, volume name, hostPath.path, path of hostPath.path) for every hostPath volume; wrong types raise."""
    return memoised_iter(pod.memo, "host_path_volumes", _walk_host_path_volumes, pod)


def _walk_host_path_volumes(pod: PodView) -> Iterator[tuple[int, str, Any, Path_]]:
    for i, vol, vpath in pod_volumes(pod):
        hp = vol.get("hostPath")
        if hp is None:
            continue
        need(hp, dict, "a mapping", vpath + ("hostPath",))
        name = optional(vol.get("name"), str, "a string", vpath + ("name",)) or f"#{i}"
        hpath = need(hp.get("path"), str, "a string", vpath + ("hostPath", "path"))
        yield i, name, hpath, vpath + ("hostPath", "path")


@check(
    id="KF-POD-014",
    name="sensitive-host-path",
    title="Pod mounts a sensitive host path",
    verified="Pod mounts no sensitive host path",
    severity=Severity.HIGH,
    target="pod",
    mappings=Mappings(
        cis=("5.2.11",),
        nsa=NSA_HOST,
        pss=("baseline/hostPathVolumes",),
        mitre=("T1611", "T1552.001"),
        owasp=("K01",),
        trivy=("KSV-0121", "KSV-0006"),
        checkov=("CKV_K8S_27",),
        kubescape=("C-0074", "C-0020", "C-0048"),
        kube_linter=("sensitive-host-mounts", "docker-sock"),
        polaris=("hostPathSet",),
    ),
    remediation="Replace the hostPath volume with an emptyDir, ConfigMap, Secret, projected or CSI volume; if host access is unavoidable, mount the narrowest file read-only in a dedicated, reviewed DaemonSet.",
)
def sensitive_host_path_volume(pod: PodView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags hostPath volumes that expose sensitive parts of the node. The message names each
    volume, its path and why it matters. Sensitive are:

    - container runtime sockets anywhere (`docker.sock`, `containerd.sock`, `crio.sock`,
      `dockershim.sock`, `cri-dockerd.sock`, `podman.sock`) and the Windows runtime named pipes;
    - `/`, and these directories with everything below them: `/etc`, `/proc`, `/sys`, `/dev`,
      `/boot`, `/root`, `/home`, `/var/lib/kubelet` (except a CSI driver's own socket directory
      `/var/lib/kubelet/plugins/<driver>`, the standard CSI layout), `/var/lib/docker`, `/var/lib/containerd`,
      `/var/lib/containers`, `/var/lib/etcd`, `/var/lib/cloud`, `/run/containerd`, `/run/crio`,
      `/run/docker`, `/run/podman` (`/var/run` is read as `/run`);
    - any ancestor of those (`/var`, `/var/lib`, `/run`): mounting it exposes them too;
    - per-user credential stores wherever they are: `.aws`, `.azure`, `.config/gcloud`,
      `.kube`, `.docker`, `.ssh`;
    - on Windows nodes, a drive root, `\\Windows`, `\\var\\lib\\kubelet`, `\\ProgramData\\docker`.

    Paths are normalised before matching (`//`, `.`, `..` and trailing slashes removed) and
    compared by whole path components, so `/etcd-data` is not `/etc` and `/var/lib/../..//etc/`
    is. Public files under `/etc` are not flagged: `/etc/localtime`, `/etc/timezone`,
    `/etc/machine-id`, `/etc/os-release`, `/etc/lsb-release`, `/etc/hostname`, `/etc/resolv.conf`,
    `/etc/hosts`, `/etc/passwd`, `/etc/group` and the CA bundles `/etc/ssl/certs`,
    `/etc/pki/tls/certs`, `/etc/pki/ca-trust/extracted`, `/etc/ca-certificates`.
    Whether the mount is read-only is KF-POD-015's concern; reading these paths is already
    dangerous. For an Argo Workflows template, the workflow's `spec.volumes` (added to every
    pod of the workflow) are checked too.

    ## Why is this bad?
    The runtime socket is root on the node: whoever reaches it starts a privileged container.
    `/var/lib/kubelet` holds the secrets and service account tokens of every pod on the node,
    `/etc` the kubelet's credentials and the node's configuration, `/proc` and `/sys` the
    kernel's control interfaces, `/var/lib/etcd` every Secret of the cluster, and credential
    directories the node's cloud identity (MITRE ATT&CK T1611, Escape to Host; T1552.001,
    Credentials In Files).

    ## Example
    ```yaml
    spec:
      containers:
      - name: agent
        image: registry.example.com/agent:2.0
        volumeMounts:
        - {name: docker, mountPath: /var/run/docker.sock}
      volumes:
      - name: docker
        hostPath:
          path: /var/run/docker.sock
    ```

    ## How to fix
    Use an API instead of the node: the Kubernetes API for pod metadata, a CSI driver for
    storage, a build service (Kaniko, BuildKit rootless) instead of the Docker socket.
    ```yaml
    spec:
      volumes:
      - name: scratch
        emptyDir: {}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
    - https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline
    - CIS Kubernetes Benchmark 5.2.11
    """
    for _i, name, hpath, path in _host_path_volumes(pod):
        why = sensitive_host_path(hpath)
        if why:
            yield Violation(f"volume {name!r} mounts host path {hpath!r}: {why}", path)


def _host_paths_by_name(pod: PodView) -> dict[str, Any]:
    return {name: hpath for _i, name, hpath, _p in _host_path_volumes(pod)}


@check(
    id="KF-POD-015",
    name="writable-host-path",
    title="Container mounts a hostPath volume writable",
    verified="Container mounts hostPath volumes read-only, if any",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        cis=("5.2.11",),
        nsa=NSA_HOST,
        pss=("baseline/hostPathVolumes",),
        mitre=("T1611",),
        owasp=("K01",),
        kubescape=("C-0045",),
        kube_linter=("writable-host-mount",),
    ),
    remediation="Set readOnly: true on every volumeMount of a hostPath volume, or replace the hostPath with a volume type that does not touch the node.",
)
def writable_host_path(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers that mount a hostPath volume of the pod without `readOnly: true` on the
    `volumeMounts` entry (unset means writable). Every container kind is checked, and every
    mount of the same volume is reported.

    ## Why is this bad?
    A writable host directory lets the container change the node: drop a binary where the node
    or another pod executes it, replace configuration, write through symlinks it plants (a
    writable `/var/log` mount, for example, lets the container make the kubelet read any host
    file). It is also a persistence channel that outlives the pod (MITRE ATT&CK T1611, Escape to
    Host).

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      volumeMounts:
      - name: data
        mountPath: /data
    volumes:
    - name: data
      hostPath:
        path: /srv/data
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
      volumeMounts:
      - name: data
        mountPath: /data
        readOnly: true
    ```
    Better, replace the hostPath with a PersistentVolumeClaim.

    ## References
    - https://kubernetes.io/docs/concepts/storage/volumes/#hostpath
    - https://kubernetes.io/docs/concepts/storage/volumes/#read-only-mounts

    ## Known limitations
    `readOnly: true` is not recursive on kernels or runtimes without `recursiveReadOnly`
    support: mounts below the hostPath (for example under `/var/lib/kubelet/pods`) can stay
    writable unless `recursiveReadOnly: Enabled` is also set.
    """
    # the pod's hostPath volumes by name: the same for every container of the pod
    host: dict[str, Any] = memoised(pod.memo, "host_path_by_name", _host_paths_by_name, pod)
    if not host:
        return
    for j, m in enumerate(c.list("volumeMounts")):
        mpath = c.at("volumeMounts") + (j,)
        need(m, dict, "a volumeMount mapping", mpath)
        name = optional(m.get("name"), str, "a string", mpath + ("name",))
        if name not in host:
            continue
        read_only = optional(m.get("readOnly"), bool, "a boolean", mpath + ("readOnly",))
        if read_only is not True:
            where = optional(m.get("mountPath"), str, "a string", mpath + ("mountPath",)) or "?"
            state = "readOnly: false" if read_only is False else "without readOnly: true"
            yield Violation(
                f"{c.label()} mounts hostPath volume {name!r} ({host[name]}) at {where} {state}", mpath + ("readOnly",)
            )
