"""KF-WL: legacy components: Helm v2 Tiller (007, 008), a Kubernetes Dashboard that lets visitors in
without logging in (009)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from kubefort.checks.hygiene import string_labels
from kubefort.checks.images import ImageRef, parse_image
from kubefort.kube.flags.syntax import go_bool, parse_args
from kubefort.kube.pods import ContainerView, Fields, PodView, memoised, need
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Path_, Resource, Severity, Violation
from kubefort.registry import Mappings, check

# -- Helm v2 Tiller ------------------------------------------------------------------------------
# What `helm init` (Helm v2) installs: cmd/helm/installer/install.go of helm/helm v2 (Deployment and
# Service `tiller-deploy`, labels app=helm and name=tiller, container `tiller`, gRPC port 44134,
# probe port 44135, env TILLER_NAMESPACE; TILLER_TLS_VERIFY=1 with --tiller-tls-verify).
TILLER_PORT = 44134
TILLER_LABELS = {"app": "helm", "name": "tiller"}


def _image(c: ContainerView) -> ImageRef | None:
    """The container's image as `parse_image` reads it (None when unset), once per container."""
    return memoised(c.memo, "legacy.image", _read_image, c)


def _read_image(c: ContainerView) -> ImageRef | None:
    image = c.str("image")
    return parse_image(image.strip()) if image else None


def _image_repo(c: ContainerView) -> str:
    """The container's repository path, lower case, without registry, tag or digest ("" when unset)."""
    ref = _image(c)
    return ref.repository.lower() if ref is not None else ""


def _env_value(c: ContainerView, name: str) -> tuple[bool, str | None]:
    """(is the variable defined, its literal value) in the container's env (the last definition wins)."""
    env = c.plain_env()
    if env is None:
        return env_value_checked(c, name)
    found, value = False, None
    for item in env:
        if item.get("name") == name:
            found, value = True, item.get("value")
    return found, value


def env_value_checked(c: ContainerView, name: str) -> tuple[bool, str | None]:
    """`_env_value` entry by entry: NotEvaluated for the first entry that is not a mapping, or
    whose name (or, for the variable asked for, value) is not a string."""
    found, value = False, None
    for var in c.env_items():
        if var.str("name") == name:
            found, value = True, var.str("value")
    return found, value


def _argv(c: ContainerView) -> list[str]:
    """command[1:] + args: what the entrypoint binary parses (args alone when command is unset)."""
    command = c.str_list("command")
    return command[1:] + c.str_list("args")


def _is_tiller(pod: PodView, c: ContainerView) -> str | None:
    """How the container shows it is Tiller (None: it is not)."""
    repo = _image_repo(c)
    if repo.rpartition("/")[2] == "tiller":  # the last path component (posixpath.basename)
        return f"image {c.str('image')}"
    if _env_value(c, "TILLER_NAMESPACE")[0]:
        return "env TILLER_NAMESPACE"
    labels = string_labels(pod.meta)
    if c.name == "tiller" and all(labels.get(k) == v for k, v in TILLER_LABELS.items()):
        return "labels app=helm, name=tiller"
    return None


def _tiller_listen(c: ContainerView) -> str | None:
    """The address of Tiller's --listen flag (None: the default, every interface)."""
    listen = None
    for flag in parse_args(_argv(c), "tiller").flags:
        if flag.name == "listen":
            listen = flag.value
    return listen


@check(
    id="KF-WL-007",
    name="helm-tiller-deployed",
    title="Helm v2 Tiller is deployed",
    verified="Container does not run Helm v2 Tiller",
    severity=Severity.CRITICAL,
    target="container",
    mappings=Mappings(
        mitre=("T1610", "T1078"),
        owasp=("K10", "K03"),
        trivy=("KSV-0102",),
        checkov=("CKV_K8S_34", "CKV_K8S_45"),
    ),
    remediation="Migrate the releases to Helm 3 (helm-2to3), then delete the Tiller Deployment, Service and ServiceAccount with its ClusterRoleBinding.",
)
def helm_tiller_deployed(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers that run Tiller, the in-cluster server of Helm v2: an image whose
    repository is `.../tiller` (`gcr.io/kubernetes-helm/tiller`, `ghcr.io/helm/tiller`, or a
    mirror of them), a `TILLER_NAMESPACE` environment variable, or a container named `tiller`
    in a pod labelled `app: helm` and `name: tiller` (what `helm init` creates). The message
    says whether Tiller listens on every interface (no `--listen` address on the loopback
    interface) and whether it verifies client certificates (`TILLER_TLS_VERIFY=1`). Every
    container of every workload is evaluated; the Service in front of Tiller is KF-WL-008.

    ## Why is this bad?
    Helm v2 reached its end of life in November 2020 and gets no security fixes. Tiller
    installs whatever chart it is sent with its own ServiceAccount, which `helm init` setups
    usually bind to `cluster-admin`, and its gRPC port 44134 accepts requests from any pod
    that reaches it unless mutual TLS is configured: any compromised pod becomes cluster-admin
    (MITRE ATT&CK T1610, Deploy Container).

    ## Example
    ```yaml
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: tiller-deploy
      namespace: kube-system
    spec:
      template:
        metadata:
          labels: {app: helm, name: tiller}
        spec:
          serviceAccountName: tiller
          containers:
          - name: tiller
            image: gcr.io/kubernetes-helm/tiller:v2.17.0
            ports:
            - {containerPort: 44134, name: tiller}
    ```

    ## How to fix
    Migrate every release with the `helm-2to3` plugin, use Helm 3 (which has no server
    side), then remove Tiller:
    ```sh
    helm 2to3 cleanup --tiller-cleanup
    kubectl -n kube-system delete deployment/tiller-deploy service/tiller-deploy serviceaccount/tiller
    ```

    ## References
    - https://helm.sh/blog/helm-v2-deprecation-timeline/
    - https://v2.helm.sh/docs/securing_installation/
    - https://helm.sh/docs/topics/v2_v3_migration/
    """
    how = _is_tiller(pod, c)
    if how is None:
        return
    listen = _tiller_listen(c)
    host = listen.rpartition(":")[0].strip("[]") if listen else ""
    local = host in ("localhost", "127.0.0.1", "::1")
    _, verify = _env_value(c, "TILLER_TLS_VERIFY")
    exposure = "listens on the loopback interface only" if local else f"accepts gRPC from any pod on port {TILLER_PORT}"
    tls = "verifies client certificates" if verify == "1" else "without client certificate verification"
    yield Violation(
        f"{c.label()} runs Helm v2 Tiller ({how}): unsupported since November 2020; it {exposure}, {tls}",
        c.at("image"),
    )


def _service_port_numbers(res: Resource) -> Iterator[tuple[int, Path_]]:
    spec = Fields(Fields(res.obj, ()).mapping("spec"), ("spec",))
    for i, port in enumerate(spec.list("ports")):
        port = need(port, dict, "a service port mapping", spec.at("ports", i))
        view = Fields(port, spec.at("ports", i))
        number = view.int("port")
        if number is not None:
            yield number, view.at("port")
        target = view.get("targetPort")
        if target is None or isinstance(target, str):
            continue
        yield need(target, int, "an integer or a port name", view.at("targetPort")), view.at("targetPort")


@check(
    id="KF-WL-008",
    name="helm-tiller-service",
    title="Service exposes Helm v2 Tiller",
    verified="Service does not expose Helm v2 Tiller",
    severity=Severity.HIGH,
    target="object",
    kinds=("Service",),
    mappings=Mappings(
        mitre=("T1610",),
        owasp=("K10",),
        trivy=("KSV-0102",),
        checkov=("CKV_K8S_44",),
    ),
    remediation="Delete the Tiller Service (and Tiller itself: migrate to Helm 3); Helm 2 clients can reach a Tiller without a Service through a port-forward.",
)
def helm_tiller_service(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags v1 Services that expose Tiller: named `tiller-deploy` (what `helm init` creates),
    selecting pods by `app: helm` and `name: tiller`, or serving or targeting Tiller's gRPC
    port 44134.

    ## Why is this bad?
    The Service gives every pod of the cluster a stable name for Tiller's unauthenticated gRPC
    API (`tiller-deploy.kube-system:44134`): a compromised pod installs a chart with Tiller's
    rights, usually `cluster-admin`. The Helm 2 client does not need it, it reaches Tiller
    through a port-forward.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Service
    metadata:
      name: tiller-deploy
      namespace: kube-system
    spec:
      selector: {app: helm, name: tiller}
      ports:
      - {name: tiller, port: 44134, targetPort: tiller}
    ```

    ## How to fix
    ```sh
    kubectl -n kube-system delete service/tiller-deploy
    ```
    then migrate to Helm 3 and remove Tiller (KF-WL-007).

    ## Not applicable when
    - the object is not a core v1 Service: a custom resource whose kind is also `Service`
      (Knative's, for example).

    ## References
    - https://v2.helm.sh/docs/securing_installation/
    - https://helm.sh/docs/topics/v2_v3_migration/
    """
    if res.id.api_version != "v1":
        raise NotApplicable("not a core v1 Service")
    if res.id.name == "tiller-deploy":
        yield Violation("Service tiller-deploy is the Service Helm v2 creates for Tiller", ("metadata", "name"))
        return
    spec = Fields(Fields(res.obj, ()).mapping("spec"), ("spec",))
    selector = spec.mapping("selector")
    if selector and all(selector.get(k) == v for k, v in TILLER_LABELS.items()):
        yield Violation("Service selects Tiller's pods (app: helm, name: tiller)", spec.at("selector"))
        return
    for number, path in _service_port_numbers(res):
        if number == TILLER_PORT:
            yield Violation(f"Service exposes Tiller's gRPC port {TILLER_PORT}", path)
            return


# -- Kubernetes Dashboard --------------------------------------------------------------------------
# The Dashboard's own flags and login logic: kubernetes/dashboard src/app/backend/dashboard.go
# (flags) and src/app/backend/client/manager.go (isLoginEnabled: a login is only required on a
# TLS connection or with --enable-insecure-login; without one, every request uses the Dashboard's
# ServiceAccount), v1.8 to v2.7. --enable-skip-login exists from v1.10.1: v1.7.0 to v1.10.0 always
# offered Skip (CVE-2018-18264), and versions before v1.7.0 had no login at all.
_DASHBOARD_REPO = re.compile(
    r"(?:^|/)(?:kubernetes-dashboard(?:-(?:amd64|arm64|arm|ppc64le|s390x))?|kubernetesui/dashboard)$"
)
_V1_TAG = re.compile(r"^v?1\.(\d{1,9})\.(\d{1,9})")
_DASHBOARD_BOOLS = (
    "enable-skip-login",
    "enable-insecure-login",
    "disable-settings-authorizer",
    "auto-generate-certificates",
)
NOT_A_DASHBOARD = "the container does not run the Kubernetes Dashboard (v1 or v2)"


def _dashboard_flags(c: ContainerView) -> tuple[dict[str, bool], dict[str, str]]:
    """(boolean flags, other flags) as the Dashboard's pflag parsing reads them; the last wins."""
    bools: dict[str, bool] = {}
    values: dict[str, str] = {}
    for flag in parse_args(_argv(c), "kubernetes-dashboard").flags:
        if flag.name in _DASHBOARD_BOOLS:
            # pflag booleans never take the next argument as their value: only `--flag` or `--flag=v`
            spelled_value = flag.value if flag.value_index == flag.index else None
            parsed = True if spelled_value is None else go_bool(spelled_value)
            if parsed is None:
                raise NotEvaluated(
                    f"{c.label()}: {flag.spelled} is not a boolean; the Dashboard refuses to start", c.at("args")
                )
            bools[flag.name] = parsed
        elif flag.value is not None:
            values[flag.name] = flag.value
    return bools, values


def _legacy_dashboard(tag: str | None) -> str | None:
    m = _V1_TAG.match(tag or "")
    if m is None:
        return None
    minor, patch = int(m.group(1)), int(m.group(2))
    if minor < 7:
        return f"Dashboard {tag} predates the login page (v1.7.0): every visitor acts as its ServiceAccount"
    if (minor, patch) < (10, 1):
        return f"Dashboard {tag} always offers Skip on its login page (CVE-2018-18264, fixed in v1.10.1)"
    return None


def _non_loopback(address: str) -> bool:
    try:
        return not ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return True  # a host name: the Dashboard binds what it resolves to, not only the loopback


@check(
    id="KF-WL-009",
    name="dashboard-without-authentication",
    title="Kubernetes Dashboard lets visitors in without logging in",
    verified="Dashboard asks every visitor to log in",
    severity=Severity.HIGH,
    target="container",
    mappings=Mappings(
        mitre=("T1133", "T1078"),
        owasp=("K06", "K10"),
        checkov=("CKV_K8S_33",),
        kubescape=("C-0014",),
    ),
    remediation="Remove --enable-skip-login, --enable-insecure-login and --disable-settings-authorizer, serve HTTPS (--auto-generate-certificates or --tls-cert-file/--tls-key-file), keep --insecure-bind-address on 127.0.0.1, and upgrade to a current Dashboard.",
)
def dashboard_without_authentication(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags Kubernetes Dashboard containers (images `kubernetesui/dashboard`, v2, and
    `kubernetes-dashboard[-ARCH]`, v1, from any registry) configured so that visitors use the
    Dashboard without their own credentials, reading `command` and `args` as the Dashboard's
    flag parser does (the last occurrence wins):

    - `--enable-skip-login`: the login page offers *Skip*, and skipped sessions act as the
      Dashboard's ServiceAccount;
    - no HTTPS (neither `--auto-generate-certificates` nor both `--tls-cert-file` and
      `--tls-key-file`), no `--enable-insecure-login`, and `--insecure-bind-address` on an
      address other than the loopback: the Dashboard then asks for no login at all on its
      plain-HTTP port, and every request acts as its ServiceAccount;
    - `--enable-insecure-login`: tokens are typed into a login page served over plain HTTP;
    - `--disable-settings-authorizer`: anyone may change the global settings;
    - a v1 image older than v1.10.1: versions before v1.7.0 have no login, later ones always
      offer *Skip* (CVE-2018-18264).


    ## Why is this bad?
    The Dashboard's ServiceAccount can read and change whatever it was granted, often
    `cluster-admin` in tutorials. Anyone who reaches the Dashboard (an Ingress, a
    LoadBalancer, any pod of the cluster) then controls the cluster without a credential:
    the Tesla cluster compromise of 2018 started from such a Dashboard (MITRE ATT&CK T1133,
    External Remote Services).

    ## Example
    ```yaml
    containers:
    - name: kubernetes-dashboard
      image: kubernetesui/dashboard:v2.7.0
      args:
      - --enable-skip-login
      - --enable-insecure-login
      - --insecure-bind-address=0.0.0.0
    ```

    ## How to fix
    ```yaml
    containers:
    - name: kubernetes-dashboard
      image: kubernetesui/dashboard:v2.7.0
      args:
      - --auto-generate-certificates
      - --namespace=kubernetes-dashboard
    ```
    and log in with a token of a ServiceAccount that holds only what its users need.

    ## Not applicable when
    - the container does not run the Kubernetes Dashboard (v1 or v2): other images, and the
      split images of Dashboard v7 (`dashboard-api`, `dashboard-web`, `dashboard-auth`), which
      have none of these options.

    ## References
    - https://github.com/kubernetes/dashboard/blob/master/docs/common/arguments.md
    - https://github.com/kubernetes/dashboard/blob/master/docs/user/access-control/README.md
    - https://nvd.nist.gov/vuln/detail/CVE-2018-18264
    """
    ref = _image(c)
    if ref is None or not _DASHBOARD_REPO.search(ref.repository.lower()):
        raise NotApplicable(NOT_A_DASHBOARD)
    bools, values = _dashboard_flags(c)
    found: list[str] = []
    legacy = _legacy_dashboard(ref.tag)
    if legacy:
        found.append(legacy)
    if bools.get("enable-skip-login"):
        found.append("--enable-skip-login lets visitors skip the login and act as the Dashboard's ServiceAccount")
    https = bools.get("auto-generate-certificates", False) or (
        bool(values.get("tls-cert-file")) and bool(values.get("tls-key-file"))
    )
    address = values.get("insecure-bind-address", "127.0.0.1")
    if not https and not bools.get("enable-insecure-login") and _non_loopback(address):
        found.append(
            f"it serves plain HTTP on {address} without any login: every request acts as the Dashboard's ServiceAccount"
        )
    if bools.get("enable-insecure-login"):
        found.append("--enable-insecure-login shows the login page over plain HTTP")
    if bools.get("disable-settings-authorizer"):
        found.append("--disable-settings-authorizer lets anyone change its settings")
    if found:
        where = c.at("args") if c.get("args") is not None else c.at("image")
        yield Violation(f"{c.label()} (Kubernetes Dashboard): " + "; ".join(found), where)
