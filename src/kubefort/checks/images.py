"""KF-IMG: container image references."""

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.kube.pods import ContainerView, PodView, memoised
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check

# `${IMAGE}`, `$(IMAGE)`, `{{ .Values.image }}`, `<your-image>`: not an image reference yet
PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\{\{.*?\}\}|<[^>]+>")


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str | None
    repository: str
    tag: str | None
    digest: str | None


def parse_image(ref: str) -> ImageRef:
    """Split `registry:5000/org/app:1.2@sha256:...` the way the container runtime does."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else None
    return ImageRef(registry, rest if registry else name, tag, digest)


@check(
    id="KF-IMG-001",
    name="mutable-image-tag",
    title="Image tag is mutable (latest or none)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525",),
        owasp=("K02",),
        trivy=("KSV-0013",),
        checkov=("CKV_K8S_14",),
        kube_linter=("latest-tag",),
        polaris=("tagNotSpecified",),
    ),
    remediation="Reference an explicit version tag, or better a digest: image: registry.example.com/app:1.4.2@sha256:<digest>.",
)
def mutable_image_tag(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose image has no tag or the tag `latest`, unless the image is pinned
    by digest (`@sha256:...`), which makes the tag irrelevant. An image that is still a
    template placeholder (`${IMAGE}`, `{{ .Values.image }}`, `<image>`) is not evaluated.

    ## Why is this bad?
    `latest` (and no tag, which means `latest`) points at whatever was pushed last. Two nodes
    can run different code under the same manifest, a rollback does not roll back, and an
    attacker who can push to the repository changes what runs without touching the cluster
    (MITRE ATT&CK T1525, Implant Internal Image).

    ## Example
    ```yaml
    containers:
    - name: app
      image: nginx
    - name: sidecar
      image: registry.example.com/proxy:latest
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: nginx:1.27.3@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a
    ```

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - OWASP Kubernetes Top 10 K02: Supply Chain Vulnerabilities
    """
    image = c.str("image")
    if image is None:
        if c.kind == "ephemeral container":
            return
        raise NotEvaluated(f"{c.label()} has no image", c.at("image"))
    if PLACEHOLDER.search(image):
        raise NotEvaluated(
            f"{c.label()} image {image!r} is a template placeholder, filled in at deploy time", c.at("image")
        )
    ref = _parse_cached(image.strip())
    if ref.digest:
        return
    if ref.tag is None:
        yield Violation(f"{c.label()} uses image {image!r} without a tag (means :latest)", c.at("image"))
    elif ref.tag == "latest":
        yield Violation(f"{c.label()} uses image {image!r} with the mutable tag 'latest'", c.at("image"))


# ---------------------------------------------------------------------------------------------
# shared by KF-IMG-002..005: a strict reading of the reference, as the container runtime parses it
# ---------------------------------------------------------------------------------------------
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_REFERENCE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


# Pure functions of the reference text, cached by value: the same images recur in every replica,
# container and chart of a scan (and in every admission request for a workload).
@functools.lru_cache(maxsize=8192)
def _parse_cached(text: str) -> ImageRef:
    return parse_image(text)


@functools.lru_cache(maxsize=8192)
def _valid_reference(text: str) -> bool:
    return _REFERENCE.match(text) is not None


def container_image(c: ContainerView) -> tuple[str, ImageRef] | None:
    """(image as written, parsed reference), or None for an ephemeral container without one.

    Raises NotEvaluated when the image is missing or is not a valid reference (an unrendered
    template such as `{{ .Values.image }}`, `${IMAGE}`, or a build-tool URL such as `ko://...`).
    """
    # KF-IMG-002..005 each ask it of every container: validated and parsed once per container
    return memoised(c.memo, "container_image", _container_image, c)


def _container_image(c: ContainerView) -> tuple[str, ImageRef] | None:
    image = c.str("image")
    if image is None:
        if c.kind == "ephemeral container":
            return None
        raise NotEvaluated(f"{c.label()} has no image", c.at("image"))
    text = image.strip()
    if not _valid_reference(text):
        raise NotEvaluated(
            f"{c.label()}: image {image!r} is not a valid image reference (unrendered template?)", c.at("image")
        )
    return image, _parse_cached(text)


def normalized_name(ref: ImageRef) -> str:
    """The repository as the runtime resolves it: `nginx` -> `docker.io/library/nginx`."""
    host = (ref.registry or DOCKER_HUB).lower()
    if host in _DOCKER_HUB_ALIASES:
        host = DOCKER_HUB
        repo = ref.repository if "/" in ref.repository else f"library/{ref.repository}"
        return f"{host}/{repo}"
    return f"{host}/{ref.repository}"


def is_mutable(ref: ImageRef) -> bool:
    """No digest, and no tag or the tag `latest` (what KF-IMG-001 flags)."""
    return ref.digest is None and (ref.tag is None or ref.tag == "latest")


@check(
    id="KF-IMG-002",
    name="image-not-pinned-by-digest",
    title="Image is referenced by tag, not by digest",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525", "T1195.002"),
        owasp=("K02",),
        checkov=("CKV_K8S_43",),
        kubescape=("C-0306",),
    ),
    remediation="Pin every image by digest, keeping the tag for readers: image: registry.example.com/app:1.4.2@sha256:<digest>.",
)
def image_not_pinned_by_digest(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers (init and ephemeral containers too) whose image carries no `@sha256:...`
    digest, whatever the tag. `app:1.4.2@sha256:...` passes: the runtime pulls by digest and
    ignores the tag.

    ## Why is this bad?
    A tag is a pointer the registry lets anyone with push rights move. Even a version tag such
    as `1.4.2` can be re-pushed, so the code that runs is decided by the registry at pull time,
    not by the reviewed manifest: a compromised registry account or CI pipeline changes every
    workload at its next restart (MITRE ATT&CK T1525 Implant Internal Image, T1195.002
    Compromise Software Supply Chain). A digest is the hash of the image manifest: it cannot
    point at anything else. This check is stricter than KF-IMG-001 and is meant for clusters
    that want reproducible deployments; tools such as Renovate, `crane digest` or Kyverno's
    `verifyImages` keep digests current.

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
      image: registry.example.com/app:1.4.2@sha256:3b0c2f7e0d4f1a9d2c51f1d0c1e9f7a1b2c3d4e5f60718293a4b5c6d7e8f9012
    ```

    ## Not evaluated when
    The image is missing (except on ephemeral containers) or is not a valid image reference,
    for example an unrendered template (`{{ .Values.image }}`, `${IMAGE}`) or `ko://...`.

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
    - OWASP Kubernetes Top 10 K02: Supply Chain Vulnerabilities
    """
    found = container_image(c)
    if found is None:
        return
    image, ref = found
    if ref.digest is None:
        how = f"tag {ref.tag!r}" if ref.tag else "no tag, so latest"
        yield Violation(f"{c.label()} uses image {image!r} without a digest ({how})", c.at("image"))


PULL_POLICIES = ("Always", "IfNotPresent", "Never")


@check(
    id="KF-IMG-003",
    name="mutable-tag-not-always-pulled",
    title="Mutable image tag with imagePullPolicy IfNotPresent or Never",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525",),
        owasp=("K02",),
        checkov=("CKV_K8S_15",),
        kubescape=("C-0075",),
        polaris=("pullPolicyNotAlways",),
    ),
    remediation="Pin the image to a version tag or digest; while it uses latest or no tag, set imagePullPolicy: Always (or leave it unset, which defaults to Always for such images).",
)
def mutable_tag_not_always_pulled(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose image has a mutable reference (tag `latest` or no tag, and no
    digest) and that set `imagePullPolicy: IfNotPresent` or `Never`. An unset policy passes:
    for such images the API server defaults it to `Always`. Images with a version tag or a
    digest pass whatever the policy, because the reference itself decides what runs.

    Peers differ here. Checkov CKV_K8S_15 and Polaris `pullPolicyNotAlways` flag every
    container whose effective policy is not `Always`, version tags included; that is a proxy
    for the cluster-wide concern that a pod may start from an image cached on the node
    without presenting pull credentials, which kubefort leaves to the node and admission
    settings (the `AlwaysPullImages` admission plugin, CIS 1.2.11, or the kubelet's
    `KubeletEnsureSecretPulledImages` feature). Kubescape C-0075 flags exactly the pattern
    this check flags.

    ## Why is this bad?
    With `latest` and a cached pull policy, what runs depends on which node the pod lands on
    and when that node last pulled the tag: two replicas can run different code, a fixed
    image never reaches nodes that already hold the old one, and an image planted in a
    node's cache (MITRE ATT&CK T1525) is used without the registry being asked.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:latest
      imagePullPolicy: IfNotPresent
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2@sha256:3b0c2f7e0d4f1a9d2c51f1d0c1e9f7a1b2c3d4e5f60718293a4b5c6d7e8f9012
      imagePullPolicy: IfNotPresent
    ```

    ## Not evaluated when
    The image is missing or not a valid reference, or `imagePullPolicy` is not one of
    `Always`, `IfNotPresent`, `Never` (the API server rejects other values).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwayspullimages
    """
    found = container_image(c)
    if found is None:
        return
    image, ref = found
    policy = c.str("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        raise NotEvaluated(
            f"{c.label()}: imagePullPolicy {policy!r} is not one of {', '.join(PULL_POLICIES)}", c.at("imagePullPolicy")
        )
    if is_mutable(ref) and policy in ("IfNotPresent", "Never"):
        tag = "no tag (latest)" if ref.tag is None else "tag 'latest'"
        yield Violation(
            f"{c.label()} uses image {image!r} with {tag} and imagePullPolicy={policy}", c.at("imagePullPolicy")
        )


_ALLOW_ENTRY = re.compile(rf"^(?:\*\.)?{_DOMAIN}(?:/{_COMPONENT})*$")


@dataclass(frozen=True, slots=True)
class ImageAllowOptions:
    """Options of KF-IMG-004 (`.kubefort.yaml`: `options: {KF-IMG-004: {allowed_registries: [...]}}`)."""

    allowed_registries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for entry in self.allowed_registries:
            e = entry.strip().rstrip("/")
            if "://" in e or "@" in e or not _ALLOW_ENTRY.match(e):
                raise ValueError(
                    f"allowed_registries: {entry!r} is not a registry host or host/path prefix "
                    "(examples: registry.example.com, ghcr.io/my-org, docker.io/library, *.dkr.ecr.eu-west-1.amazonaws.com)"
                )


def registry_allowed(name: str, allowed: tuple[str, ...]) -> str | None:
    """The allow-list entry that admits the normalized repository `name`, else None.

    Entries match whole path components: `ghcr.io/acme` admits `ghcr.io/acme/app`, not
    `ghcr.io/acme-evil/app`; `registry.example.com` does not admit `registry.example.com.evil.io`.
    A leading `*.` matches any number of host labels: `*.dkr.ecr.eu-west-1.amazonaws.com`.
    """
    host, _, path = name.partition("/")
    for raw in allowed:
        entry = raw.strip().rstrip("/")
        e_host, _, e_path = entry.partition("/")
        e_host = e_host.lower()
        if e_host in _DOCKER_HUB_ALIASES:
            e_host = DOCKER_HUB
        if e_host.startswith("*."):
            if not (host.endswith(e_host[1:]) and len(host) > len(e_host) - 1):
                continue
        elif host != e_host:
            continue
        if not e_path or path == e_path or path.startswith(e_path + "/"):
            return raw
    return None


@check(
    id="KF-IMG-004",
    name="image-registry-not-allowed",
    title="Image comes from a registry outside the allow-list",
    severity=Severity.MEDIUM,
    target="container",
    options=ImageAllowOptions,
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525", "T1195.002"),
        owasp=("K02", "K04"),
        trivy=("KSV-0125",),
        kubescape=("C-0001", "C-0078"),
    ),
    remediation="Mirror the image into an allowed registry and reference it from there, or add its registry to allowed_registries after review.",
)
def image_registry_not_allowed(
    pod: PodView, c: ContainerView, ctx: CheckContext[ImageAllowOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until configured.** With `allowed_registries` empty (the default) this check records
    no outcome at all, for any container: there is nothing to compare against, and a pass
    would claim a review that did not happen. Set the list in `.kubefort.yaml` to turn it on.
    (An object whose pod spec is malformed still gets a not-evaluated outcome, as for every
    container check: the engine records it before any check runs.)

    Flags containers (init and ephemeral containers too) whose image's registry and
    repository do not start with an allowed entry. Images are compared as the runtime
    resolves them: `nginx` is `docker.io/library/nginx`, `bitnami/redis` is
    `docker.io/bitnami/redis`, and `index.docker.io` is `docker.io`. An entry is a host
    (`registry.example.com`, `registry.example.com:5000`) or a host and path prefix
    (`ghcr.io/acme`, `docker.io/library`), matched on whole path components, so
    `ghcr.io/acme` does not admit `ghcr.io/acme-evil/app` (the open-ended prefix Trivy
    KSV-0124 warns about in Gatekeeper policies). A leading `*.` admits any subdomain:
    `*.dkr.ecr.eu-west-1.amazonaws.com`. Hosts compare case-insensitively.

    ## Options
    - `allowed_registries` (list of strings, default empty = check off): registry hosts or
      host/path prefixes, as above. A malformed entry (a URL with a scheme, a tag or digest)
      is a configuration error.

    ```yaml
    # .kubefort.yaml
    options:
      KF-IMG-004:
        allowed_registries: [registry.example.com, ghcr.io/acme, docker.io/library]
    ```

    ## Why is this bad?
    An image from an unreviewed registry is code from an unreviewed supplier running inside
    the cluster: typosquatted public images and hijacked accounts are common supply-chain
    entry points (MITRE ATT&CK T1195.002, T1525). An allow-list in CI, enforced again at
    admission (Kyverno, Gatekeeper `K8sAllowedRepos`, ValidatingAdmissionPolicy), keeps every
    image on a path that is scanned and mirrored.

    ## Example
    With `allowed_registries: [registry.example.com]`:
    ```yaml
    containers:
    - name: app
      image: docker.io/someone/app:1.0
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/mirror/someone/app:1.0
    ```

    ## Not evaluated when
    The image is missing or not a valid image reference (an unrendered template).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - https://open-policy-agent.github.io/gatekeeper-library/website/validation/allowedrepos/
    - OWASP Kubernetes Top 10 K04: Lack of Centralized Policy Enforcement
    """
    opts = ctx.options
    if not opts.allowed_registries:
        raise NotApplicable("KF-IMG-004 is off: no allowed_registries configured")
    found = container_image(c)
    if found is None:
        return
    image, ref = found
    name = normalized_name(ref)
    if registry_allowed(name, opts.allowed_registries) is None:
        yield Violation(
            f"{c.label()} uses image {image!r} ({name}), which no allowed_registries entry admits", c.at("image")
        )


@dataclass(frozen=True, slots=True)
class DeprecatedRegistry:
    prefix: str  # normalized host/path prefix, matched on whole components
    replacement: str  # what to use instead; "{rest}" is the path after the prefix
    notice: str  # why, with the date of the notice


DEPRECATED_REGISTRIES: tuple[DeprecatedRegistry, ...] = (
    DeprecatedRegistry(
        "k8s.gcr.io",
        "registry.k8s.io/{rest}",
        "k8s.gcr.io was frozen on 2023-04-03 and redirects to registry.k8s.io; it receives no new images or patches",
    ),
    DeprecatedRegistry(
        "gcr.io/google-containers",
        "registry.k8s.io/{rest}",
        "gcr.io/google-containers is the retired predecessor of k8s.gcr.io; registry.k8s.io serves the same images",
    ),
    DeprecatedRegistry(
        "gcr.io/google_containers",
        "registry.k8s.io/{rest}",
        "gcr.io/google_containers is the retired predecessor of k8s.gcr.io; registry.k8s.io serves the same images",
    ),
    DeprecatedRegistry(
        "gcr.io/kubebuilder",
        "quay.io/brancz/kube-rbac-proxy (or controller-runtime's built-in metrics authentication)",
        "gcr.io/kubebuilder images became unavailable with the Container Registry shutdown (announced by Kubebuilder, 2024-11; from 2025-03-18)",
    ),
    DeprecatedRegistry(
        "docker.pkg.github.com",
        "ghcr.io/<owner>/<image>",
        "GitHub's Docker registry docker.pkg.github.com was replaced by the Container registry ghcr.io",
    ),
)


_DEPRECATED_PREFIXES = tuple(d.prefix for d in DEPRECATED_REGISTRIES)


def deprecated_registry(name: str) -> DeprecatedRegistry | None:
    if not name.startswith(_DEPRECATED_PREFIXES):  # nearly every image: one C-level test, no loop
        return None
    for d in DEPRECATED_REGISTRIES:
        if name == d.prefix or name.startswith(d.prefix + "/"):
            return d
    return None


@check(
    id="KF-IMG-005",
    name="deprecated-image-registry",
    title="Image comes from a frozen or retired registry",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1195.002",),
        owasp=("K02",),
        kubescape=("C-0253",),
    ),
    remediation="Pull the image from the registry that replaced the retired one (for k8s.gcr.io and gcr.io/google-containers: registry.k8s.io, same image names) and move to a currently patched version.",
)
def deprecated_image_registry(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers (init and ephemeral containers too) whose image comes from a registry or
    registry path that its operator has frozen or retired with a public notice:

    | image prefix | status | use instead |
    |---|---|---|
    | `k8s.gcr.io` | frozen 2023-04-03, redirects to registry.k8s.io | `registry.k8s.io` (same paths) |
    | `gcr.io/google-containers`, `gcr.io/google_containers` | retired predecessor of k8s.gcr.io | `registry.k8s.io` (same paths) |
    | `gcr.io/kubebuilder` | unavailable since the GCR shutdown (2025-03-18) | `quay.io/brancz/kube-rbac-proxy`, or controller-runtime's metrics authentication |
    | `docker.pkg.github.com` | replaced by the GitHub Container registry | `ghcr.io` |

    Unlike Kubescape C-0253, which looks at `kube-system` only, every namespace is checked.
    `gcr.io` as a whole is not flagged: after Google's Container Registry shutdown its
    hostnames keep working through Artifact Registry.

    ## Why is this bad?
    A frozen registry gets no new images, so whatever is pulled from it is no longer patched:
    known vulnerabilities stay in the running workload (OWASP K02). Retired paths stop
    resolving outright, so a rescheduled pod cannot start, and a retired namespace that
    someone else later controls would serve their images (MITRE ATT&CK T1195.002).

    ## Example
    ```yaml
    containers:
    - name: metrics
      image: k8s.gcr.io/metrics-server/metrics-server:v0.6.2
    ```

    ## How to fix
    ```yaml
    containers:
    - name: metrics
      image: registry.k8s.io/metrics-server/metrics-server:v0.7.2
    ```

    ## Not evaluated when
    The image is missing or not a valid image reference (an unrendered template).

    ## References
    - https://kubernetes.io/blog/2023/02/06/k8s-gcr-io-freeze-announcement/
    - https://kubernetes.io/blog/2023/03/10/image-registry-redirect/
    - https://github.com/kubernetes-sigs/kubebuilder/discussions/3907
    - https://docs.github.com/packages/working-with-a-github-packages-registry/migrating-to-the-container-registry-from-the-docker-registry
    """
    found = container_image(c)
    if found is None:
        return
    image, ref = found
    name = normalized_name(ref)
    d = deprecated_registry(name)
    if d is not None:
        rest = name[len(d.prefix) + 1 :]
        use = d.replacement.format(rest=rest)
        yield Violation(f"{c.label()} uses image {image!r}: {d.notice}; use {use}", c.at("image"))
